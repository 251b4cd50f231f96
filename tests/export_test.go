package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/topology"
)

// The tutorials' command sequences, typed by hand: one namespace behind the host, and
// two namespaces with forwarding and NAT.
const (
	oneNamespaceByHand = `ip netns add netns01
ip link add name veth0-host type veth peer name veth0-ns
ip link set veth0-ns netns netns01
ip addr add 10.10.10.10/24 dev veth0-host
ip link set veth0-host up
ip netns exec netns01 ip addr add 10.10.10.11/24 dev veth0-ns
ip netns exec netns01 ip link set veth0-ns up`
	twoNamespacesByHand = `ip netns add testns1; ip netns add testns2
ip link add name m1 type veth peer name s1; ip link add name m2 type veth peer name s2
ip link set dev s1 netns testns1; ip link set dev s2 netns testns2
ip netns exec testns1 ip addr add 192.168.20.102/24 dev s1
ip netns exec testns1 ip link set dev s1 up; ip netns exec testns1 ip link set dev lo up
ip addr add 192.168.20.101/24 dev m1; ip link set dev m1 up
ip netns exec testns1 ip route add default via 192.168.20.101 dev s1
ip netns exec testns2 ip addr add 192.168.10.102/24 dev s2
ip netns exec testns2 ip link set dev s2 up; ip netns exec testns2 ip link set dev lo up
ip addr add 192.168.10.101/24 dev m2; ip link set dev m2 up
ip netns exec testns2 ip route add default via 192.168.10.101 dev s2
sysctl -qw net.ipv4.ip_forward=1
iptables --table nat --append POSTROUTING --source 192.168.20.0/24 --jump MASQUERADE`
)

var (
	aliasField  = regexp.MustCompile(`alias="[^"]*"`)
	ruleComment = regexp.MustCompile(` -m comment --comment \S+`)
)

// withoutMarks keeps of a kernel dump (kernelIn) what a lab decides and drops netlab's
// own marks: interface aliases, rule comments, and the /etc/netns files netlab writes.
func withoutMarks(dump string) string {
	var out []string
	section := ""
	for _, l := range strings.Split(dump, "\n") {
		if strings.HasPrefix(l, "## ") {
			section = l[strings.LastIndex(l, " ")+1:]
			out = append(out, l)
			continue
		}
		switch section {
		case "link":
			l = aliasField.ReplaceAllString(l, "alias=*")
		case "text":
			if !strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "net.") {
				continue // the files under /etc/netns
			}
			l = ruleComment.ReplaceAllString(l, "")
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// roundTrip builds a lab with build in one fresh sandbox, exports it there, applies
// the export in another fresh sandbox (after setup) and requires the same kernel, marks
// aside; what export left out must be exactly unsaid.
func roundTrip(t *testing.T, setup, build string, unsaid []string, normalise func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	file, stderr := filepath.Join(dir, "exported.yaml"), filepath.Join(dir, "stderr")
	byHand := kernelIn(t, build+"\n"+netlabBin()+" export --all > "+file+" 2> "+stderr)
	said, _ := os.ReadFile(stderr)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(said)), "\n") {
		if l != "" {
			got = append(got, strings.TrimPrefix(l, "netlab: left out: "))
		}
	}
	if !slices.Equal(got, unsaid) {
		t.Errorf("export left out %q, want %q", got, unsaid)
	}
	exported, _ := os.ReadFile(file)
	byApply := kernelIn(t, setup+"\n"+netlabBin()+" apply "+file+" >/dev/null")
	a, b := withoutMarks(byHand), withoutMarks(byApply)
	if normalise != nil {
		a, b = normalise(a), normalise(b)
	}
	if a != b {
		t.Errorf("applying the export made another kernel.\nexport:\n%s\n%s", exported, lineDiff(a, b))
	}
	return string(exported)
}

// TestExportTutorials: the tutorials' labs, typed by hand, exported, and applied in a
// fresh sandbox, give the same kernel: links with kind, state, MTU and master,
// addresses, routes of every table, qdiscs, sysctls, NAT rules.
func TestExportTutorials(t *testing.T) {
	t.Run("one namespace behind the host", func(t *testing.T) {
		// The tutorial leaves netns01's lo down, which netlab always brings up: export
		// says so, and that one difference (lo, its addresses and routes) is allowed.
		lo := regexp.MustCompile(`(?m)^(lo .*|.* dev=lo .*)\n`)
		exported := roundTrip(t, "true", oneNamespaceByHand, []string{"netns01:lo is down: netlab brings lo up"},
			func(s string) string { return lo.ReplaceAllString(s, "") })
		if !strings.Contains(exported, "['host:veth0-host', 'netns01:veth0-ns']") {
			t.Errorf("the export lacks the veth pair:\n%s", exported)
		}
	})
	t.Run("two namespaces with NAT", func(t *testing.T) {
		exported := roundTrip(t, "true", twoNamespacesByHand, nil, nil)
		for _, want := range []string{"forwarding: true", "masquerade: 192.168.20.0/24", "to: default"} {
			if !strings.Contains(exported, want) {
				t.Errorf("the export lacks %q:\n%s", want, exported)
			}
		}
	})
}

// TestExportExamples: every example, applied, exported and applied elsewhere, gives the
// same kernel, and the export leaves nothing out.
func TestExportExamples(t *testing.T) {
	eachExample(t, func(t *testing.T, file string, topo *topology.Topology) {
		if len(lackedQdiscs(t, topo)) > 0 {
			return // refused on this kernel: TestImpairedExample checks how
		}
		abs, _ := filepath.Abs(file)
		nics := standInNICs(topo)
		roundTrip(t, nics, nics+"\n"+netlabBin()+" apply "+abs+" >/dev/null", nil, nil)
	})
}

// TestAdopt: a lab built by its plan's shell script, or typed by hand from the
// tutorial, is refused by apply as a clash and taken over by apply --adopt: the plan
// lists each adopted object, a re-plan is empty, and destroy leaves the sandbox as it
// was before the script.
func TestAdopt(t *testing.T) {
	check := func(t *testing.T, file, build string) {
		t.Helper()
		sh(t, "true") // the sandbox is clean
		before := snapshot(t)
		sh(t, build)
		if r := netlab(t, "apply", file); r.code != 1 || !strings.Contains(r.stderr, "nothing was changed") {
			t.Errorf("apply without --adopt of a lab built by hand: %s", r)
		}
		out := mustNetlab(t, "apply", "--adopt", file)
		if !strings.Contains(out, "  = netns ") || !strings.Contains(out, " adopted in ") {
			t.Errorf("apply --adopt does not list the adopted objects:\n%s", out)
		}
		if r := netlab(t, "plan", "--detailed-exitcode", file); r.code != 0 {
			t.Errorf("re-plan after adopting: %s", r)
		}
		mustNetlab(t, "destroy")
		if after := snapshot(t); after != before {
			t.Errorf("destroy of the adopted lab did not restore the sandbox.\n%s", lineDiff(before, after))
		}
	}
	eachExample(t, func(t *testing.T, file string, topo *topology.Topology) {
		cleanSandbox(t)
		if len(lackedQdiscs(t, topo)) > 0 {
			return // refused on this kernel: TestImpairedExample checks how
		}
		sh(t, standInNICs(topo))
		script := filepath.Join(t.TempDir(), "lab.sh")
		if err := os.WriteFile(script, []byte(mustNetlab(t, "plan", "-o", "sh", file)), 0o755); err != nil {
			t.Fatal(err)
		}
		check(t, file, "sh "+script+" >/dev/null")
	})
	t.Run("two namespaces typed by hand", func(t *testing.T) {
		cleanSandbox(t)
		exported := filepath.Join(t.TempDir(), "twons.yaml")
		sh(t, twoNamespacesByHand+"\n"+netlabBin()+" export --all --lab twons > "+exported)
		sh(t, `for ns in $(ls /run/netns); do ip netns del "$ns"; done; ip link del m1; ip link del m2
iptables -t nat -F; echo 0 > /proc/sys/net/ipv4/ip_forward`)
		check(t, exported, twoNamespacesByHand)
	})
	t.Run("two namespaces typed by hand with the veths crossed", func(t *testing.T) {
		// Every interface as the file has it, but m1 is paired with testns2's s2, and
		// m2 with testns1's s1: destroying "the pair" m1 would delete s2, which the lab
		// would not know it held. apply --adopt refuses, before any change.
		cleanSandbox(t)
		crossed := strings.Replace(twoNamespacesByHand, "ip link add name m1 type veth peer name s1; ip link add name m2 type veth peer name s2",
			"ip link add name m1 type veth peer name s2; ip link add name m2 type veth peer name s1", 1)
		sh(t, crossed)
		built := snapshot(t)
		r := netlab(t, "apply", "--adopt", "../examples/two-namespaces.yaml")
		for _, want := range []string{"link host:m1: the veth m1 that is not this lab's is already in host, paired with an interface outside testns1, not testns1:s1",
			"link testns1:s1: the veth s1 that is not this lab's is already in testns1, paired with host:m2, not host:m1", "nothing was changed"} {
			if r.code != 1 || !strings.Contains(r.stderr, want) {
				t.Errorf("apply --adopt of crossed veths: want exit 1 and %q: %s", want, r)
			}
		}
		if after := snapshot(t); after != built {
			t.Errorf("a refused apply --adopt changed the sandbox.\n%s", lineDiff(built, after))
		}
	})
}
