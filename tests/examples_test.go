package tests

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/topology"
)

// TestExamples applies every example, checks the kernel with iproute2, iptables and
// /proc, checks that a second plan and a second apply have nothing to do, destroys, and
// checks that the sandbox is exactly as before.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cleanSandbox(t)
			topo, err := topology.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			sh(t, standInNICs(topo))
			if lacked := lackedQdiscs(t, topo); len(lacked) > 0 {
				checkRefusedQdisc(t, file, lacked[0]) // this kernel cannot run it
				return
			}
			before := snapshot(t)
			mustNetlab(t, "apply", file)
			checkKernel(t, topo)
			checkQdiscs(t, topo)
			checkNames(t, topo)
			if len(topo.Expect) > 0 {
				if r := netlab(t, "check", file); r.code != 0 {
					t.Errorf("netlab check: %s", r)
				}
			}
			if r := netlab(t, "plan", "--detailed-exitcode", file); r.code != 0 || !strings.Contains(r.stdout, "No changes.") {
				t.Errorf("re-plan is not empty: %s", r)
			}
			if out := mustNetlab(t, "apply", file); !strings.Contains(out, "No changes.") {
				t.Errorf("second apply did something:\n%s", out)
			}
			mustNetlab(t, "destroy", file)
			if after := snapshot(t); after != before {
				t.Errorf("destroy did not restore the sandbox.\n%s", lineDiff(before, after))
			}
			if out := mustNetlab(t, "destroy", file); !strings.Contains(out, "No changes.") {
				t.Errorf("second destroy did something:\n%s", out)
			}
		})
	}
}

// checkQdiscs checks that each impaired interface has netlab's root qdisc, of the
// kinds the topology asks for, as tc shows it.
func checkQdiscs(t *testing.T, topo *topology.Topology) {
	t.Helper()
	for k, q := range topo.Desired().Qdiscs {
		tc := "tc"
		if k.NS != "host" {
			tc += " -n " + string(k.NS)
		}
		out := sh(t, tc+" qdisc show dev "+k.Name)
		if !strings.Contains(out, q.Kinds()[0]+" 4e4c: root") {
			t.Errorf("%s has not netlab's %s root qdisc:\n%s", k, q.Kinds()[0], out)
		}
		tcRate := strings.NewReplacer("kbit", "Kbit", "mbit", "Mbit", "gbit", "Gbit").Replace(plan.FormatRate(q.Rate)) // as tc shows it
		if q.HasTBF() && !strings.Contains(out, "rate "+tcRate+" ") {
			t.Errorf("%s is not shaped to %s:\n%s", k, plan.FormatRate(q.Rate), out)
		}
	}
}

type ipLink struct {
	Ifname  string   `json:"ifname"`
	MTU     int      `json:"mtu"`
	TxQLen  int      `json:"txqlen"`
	Master  string   `json:"master"`
	Flags   []string `json:"flags"`
	Ifalias string   `json:"ifalias"`
	Info    struct {
		Kind string `json:"info_kind"`
	} `json:"linkinfo"`
	AddrInfo []struct {
		Local     string `json:"local"`
		Prefixlen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

type ipRoute struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway"`
}

func ipIn(node string) string {
	if node == topology.HostNode {
		return "ip"
	}
	return "ip -n " + node
}

func execIn(node string) string {
	if node == topology.HostNode {
		return ""
	}
	return "ip netns exec " + node + " "
}

// checkKernel checks, with iproute2's JSON output, iptables and /proc, that the kernel
// holds what the topology says.
func checkKernel(t *testing.T, topo *topology.Topology) {
	t.Helper()
	netns := sh(t, "ls /run/netns")
	for _, n := range topo.Nodes {
		if n.Name != topology.HostNode && !slices.Contains(strings.Fields(netns), n.Name) {
			t.Errorf("namespace %s is not in /run/netns (ip netns list):\n%s", n.Name, netns)
			continue
		}
		var links []ipLink
		if err := json.Unmarshal([]byte(sh(t, ipIn(n.Name)+" -j -d addr show")), &links); err != nil {
			t.Fatal(err)
		}
		byName := map[string]ipLink{}
		for _, l := range links {
			byName[l.Ifname] = l
		}
		if n.Name != topology.HostNode && !slices.Contains(byName["lo"].Flags, "UP") {
			t.Errorf("%s: lo is not up", n.Name)
		}
		for _, iface := range n.Interfaces {
			l, ok := byName[iface.Name]
			switch {
			case !ok:
				t.Errorf("%s:%s does not exist", n.Name, iface.Name)
				continue
			case l.Info.Kind != string(iface.Kind):
				t.Errorf("%s:%s is a %q, want %s", n.Name, iface.Name, l.Info.Kind, iface.Kind)
			case iface.Settings.MTU != 0 && l.MTU != iface.Settings.MTU:
				t.Errorf("%s:%s has MTU %d, want %d", n.Name, iface.Name, l.MTU, iface.Settings.MTU)
			case iface.Settings.TxQueueLen != 0 && l.TxQLen != iface.Settings.TxQueueLen:
				t.Errorf("%s:%s has txqueuelen %d, want %d", n.Name, iface.Name, l.TxQLen, iface.Settings.TxQueueLen)
			case l.Ifalias != "netlab:"+topo.Name:
				t.Errorf("%s:%s has alias %q, want netlab:%s", n.Name, iface.Name, l.Ifalias, topo.Name)
			case !slices.Contains(l.Flags, "UP"):
				t.Errorf("%s:%s is not up: %v", n.Name, iface.Name, l.Flags)
			}
			for _, a := range iface.Addresses {
				found := false
				for _, ai := range l.AddrInfo {
					found = found || ai.Local == a.Addr().String() && ai.Prefixlen == a.Bits()
				}
				if !found {
					t.Errorf("%s:%s lacks address %s", n.Name, iface.Name, a)
				}
			}
		}
		for _, l := range topo.Links {
			for i, e := range []topology.Endpoint{l.A, l.B} {
				other := []topology.Endpoint{l.B, l.A}[i]
				if e.Node != n.Name || n.Interface(e.Interface).Kind != topology.Bridge {
					continue
				}
				if port := byName[topology.PortName(other)]; port.Master != e.Interface || port.Info.Kind != "veth" {
					t.Errorf("%s: the port %s for %s is %+v, want a veth with master %s", n.Name, topology.PortName(other), other, port, e.Interface)
				}
			}
		}
		var routes []ipRoute
		for _, fam := range []string{"-4", "-6"} {
			var rs []ipRoute
			if err := json.Unmarshal([]byte(sh(t, ipIn(n.Name)+" "+fam+" -j route show")), &rs); err != nil {
				t.Fatal(err)
			}
			routes = append(routes, rs...)
		}
		for _, r := range n.Routes {
			dst := r.To.String()
			if r.To.Bits() == 0 {
				dst = "default"
			}
			gw := ""
			if r.Via.IsValid() {
				gw = r.Via.String()
			}
			if !slices.Contains(routes, ipRoute{Dst: dst, Gateway: gw}) {
				t.Errorf("%s: no route to %s via %s in %v", n.Name, dst, r.Via, routes)
			}
		}
		if n.Forwarding != nil {
			want := map[bool]string{true: "1", false: "0"}[*n.Forwarding]
			if got := strings.TrimSpace(sh(t, execIn(n.Name)+"cat /proc/sys/net/ipv4/ip_forward")); got != want {
				t.Errorf("%s: ip_forward is %s, want %s", n.Name, got, want)
			}
		}
		for _, r := range n.NAT {
			rules := sh(t, execIn(n.Name)+"iptables -t nat -S POSTROUTING")
			want := "-A POSTROUTING -s " + r.Masquerade.String()
			if r.Out != "" {
				want += " -o " + r.Out
			}
			want += ` -m comment --comment "netlab:` + topo.Name + `" -j MASQUERADE`
			if !strings.Contains(rules, want) {
				t.Errorf("%s: no rule %q in:\n%s", n.Name, want, rules)
			}
		}
	}
}

// checkNames checks /etc/netns/NODE/hosts and resolv.conf: every node's name resolves,
// through `ip netns exec` (iproute2 binds the files), to one of the node's addresses
// (from the hosts file only: no DNS query leaves the sandbox), and resolv.conf names the
// node's name servers.
func checkNames(t *testing.T, topo *topology.Topology) {
	t.Helper()
	for _, n := range topo.Nodes {
		if n.Name == topology.HostNode {
			continue
		}
		for _, other := range topo.Nodes {
			addrs := other.Addresses()
			if len(addrs) == 0 {
				continue
			}
			got := strings.TrimSpace(sh(t, "ip netns exec "+n.Name+" getent -s files hosts "+other.Name+" | awk '{print $1}' | head -1"))
			if !slices.ContainsFunc(addrs, func(a netip.Addr) bool { return a.String() == got }) {
				t.Errorf("in %s, %s resolves to %q, want one of %v", n.Name, other.Name, got, addrs)
			}
		}
		resolv := sh(t, "ip netns exec "+n.Name+" cat /etc/resolv.conf")
		for _, a := range n.DNS {
			if !strings.Contains(resolv, "nameserver "+a.String()+"\n") {
				t.Errorf("%s: /etc/resolv.conf lacks nameserver %s:\n%s", n.Name, a, resolv)
			}
		}
	}
}

// standInNICs returns the commands that make, in the sandbox, the host interfaces the
// topology's macvlans sit on: each a veth pair, both ends up, standing in for a NIC.
func standInNICs(topo *topology.Topology) string {
	cmds := []string{"true"}
	seen := map[string]bool{}
	for _, n := range topo.Nodes {
		for _, i := range n.Interfaces {
			if i.Macvlan != nil && !seen[i.Macvlan.Parent] {
				seen[i.Macvlan.Parent] = true
				p := i.Macvlan.Parent
				cmds = append(cmds, "ip link add "+p+" type veth peer name "+p+"-wire", "ip link set "+p+"-wire up", "ip link set "+p+" up")
			}
		}
	}
	return strings.Join(cmds, " && ")
}
