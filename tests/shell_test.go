package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/topology"
)

// TestShellEquivalence proves `netlab plan -o sh` the strict way: for each example, the
// script runs in one fresh sandbox and `netlab apply` in another, and the two kernels
// must be identical (links with kind, state, alias, MTU and master; addresses; routes of
// every table; sysctls; NAT rules; the files under /etc/netns; in every namespace).
func TestShellEquivalence(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cleanSandbox(t)
			abs, _ := filepath.Abs(file)
			topo, err := topology.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			nics := standInNICs(topo)
			sh(t, nics) // the plan is made against a kernel that has them too
			if lacked := lackedQdiscs(t, topo); len(lacked) > 0 {
				checkRefusedQdisc(t, file, lacked[0]) // no script either: plan refuses it
				return
			}
			script := filepath.Join(t.TempDir(), "lab.sh")
			if err := os.WriteFile(script, []byte(mustNetlab(t, "plan", "-o", "sh", abs)), 0o755); err != nil {
				t.Fatal(err)
			}
			byScript := kernelIn(t, nics+"\nsh "+script)
			byApply := kernelIn(t, nics+"\n"+netlabBin()+" apply "+abs+" >/dev/null")
			if byScript != byApply {
				t.Errorf("the script and apply made different kernels.\nscript:\n%s\napply:\n%s", byScript, byApply)
			}
			if !strings.Contains(byApply, "netlab:") {
				t.Errorf("the kernel dump shows no lab object:\n%s", byApply)
			}
		})
	}
}

// kernelIn runs setup in a fresh nested sandbox (a new network and mount namespace,
// tmpfs over the lab directories, as the test sandbox itself is made) and returns a
// normalised description of every namespace in it.
func kernelIn(t *testing.T, setup string) string {
	t.Helper()
	const dump = `
for ns in host $(ls /run/netns); do
	n=; e=
	[ "$ns" = host ] || { n="-n $ns"; e="ip netns exec $ns"; }
	echo "@@ $ns link"; ip $n -j -d link show
	echo "@@ $ns addr"; ip $n -j addr show
	echo "@@ $ns route"; ip $n -j -4 route show table all; ip $n -j -6 route show table all
	echo "@@ $ns qdisc"; tc $n -j qdisc show
	echo "@@ $ns text"
	$e iptables -t nat -S; $e ip6tables -t nat -S
	$e sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding
	for f in /etc/netns/$ns/*; do if [ -f "$f" ]; then echo "$f:"; cat "$f"; fi; done
done`
	script := fmt.Sprintf(`set -e
mount --make-rprivate /
for d in /run/netns /run/netlab /etc/netns; do mount -t tmpfs -o mode=0755 tmpfs "$d"; done
ip link set lo up
%s
%s`, setup, dump)
	f := filepath.Join(t.TempDir(), "nested.sh")
	if err := os.WriteFile(f, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return normaliseDump(t, sh(t, "unshare --net --mount --propagation private bash "+f))
}

// normaliseDump keeps what a lab decides and drops what the kernel picks (indexes, MAC
// addresses, link-local addresses, timers, carrier state).
func normaliseDump(t *testing.T, raw string) string {
	t.Helper()
	var out []string
	for _, sec := range strings.Split(raw, "@@ ")[1:] {
		head, body, _ := strings.Cut(sec, "\n")
		out = append(out, "## "+head)
		_, what, _ := strings.Cut(head, " ")
		var lines []string
		switch what {
		case "link":
			var links []struct {
				Ifname, Ifalias, Master string
				Mtu, Txqlen             int
				Flags                   []string
				Linkinfo                struct {
					InfoKind string `json:"info_kind"`
					InfoData struct {
						Mode string
					} `json:"info_data"`
				}
			}
			decode(t, body, &links)
			for _, l := range links {
				lines = append(lines, fmt.Sprintf("%s kind=%s up=%t alias=%q mtu=%d txqlen=%d master=%s mode=%s", l.Ifname,
					l.Linkinfo.InfoKind, slices.Contains(l.Flags, "UP"), l.Ifalias, l.Mtu, l.Txqlen, l.Master, l.Linkinfo.InfoData.Mode))
			}
		case "addr":
			var links []struct {
				Ifname   string
				AddrInfo []struct {
					Local     string
					Prefixlen int
					Scope     string
				} `json:"addr_info"`
			}
			decode(t, body, &links)
			for _, l := range links {
				for _, a := range l.AddrInfo {
					if a.Scope != "link" {
						lines = append(lines, fmt.Sprintf("%s %s/%d", l.Ifname, a.Local, a.Prefixlen))
					}
				}
			}
		case "qdisc":
			var qdiscs []struct {
				Kind, Handle, Parent, Dev string
				Root                      bool
				Options                   map[string]any
			}
			decode(t, body, &qdiscs)
			for _, q := range qdiscs {
				opts, _ := json.Marshal(q.Options)
				lines = append(lines, fmt.Sprintf("%s %s %s root=%t parent=%s %s", q.Dev, q.Kind, q.Handle, q.Root, q.Parent, opts))
			}
		case "route":
			for _, part := range strings.Split(strings.TrimSpace(body), "\n") {
				var routes []struct {
					Type, Dst, Gateway, Dev, Protocol, Scope, Table string
					Metric                                          int
				}
				decode(t, part, &routes)
				for _, r := range routes {
					if strings.HasPrefix(r.Dst, "fe80") || strings.HasPrefix(r.Dst, "ff00") {
						continue
					}
					lines = append(lines, fmt.Sprintf("%s %s via=%s dev=%s proto=%s scope=%s table=%s metric=%d",
						r.Type, r.Dst, r.Gateway, r.Dev, r.Protocol, r.Scope, r.Table, r.Metric))
				}
			}
		default:
			lines = strings.Split(strings.TrimSpace(body), "\n")
		}
		slices.Sort(lines)
		out = append(out, lines...)
	}
	return strings.Join(out, "\n")
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}
