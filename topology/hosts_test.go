package topology

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/plan"
)

// TestDesiredOn: a machine's part of a lab across machines has its nodes only, and its
// ends of links to other machines as VXLAN interfaces.
func TestDesiredOn(t *testing.T) {
	topo, err := Load("../examples/multi-host/wan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	left, err := topo.DesiredOn("left", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !left.Namespaces["a"] || left.Namespaces["b"] || left.Namespaces["c"] {
		t.Errorf("left's namespaces: %v", left.Namespaces)
	}
	ab := left.Links[plan.LinkKey{NS: "a", Name: "ab"}]
	ac := left.Links[plan.LinkKey{NS: "a", Name: "ac"}]
	if ab.Kind != plan.Vxlan || ab.Local != netip.MustParseAddr("192.0.2.1") || ab.Remote != netip.MustParseAddr("192.0.2.2") ||
		ab.Port != DefaultVXLANPort || ab.VNI != derivedVNI("wan", topo.Links[0].A.String(), topo.Links[0].B.String()) || ab.Peer != (plan.LinkKey{}) {
		t.Errorf("a:ab is %+v", ab)
	}
	if ac.VNI != 6203 || ac.Remote != netip.MustParseAddr("192.0.2.3") {
		t.Errorf("a:ac is %+v", ac)
	}
	seg := topo.Segments[0]
	if len(topo.Segments) != 1 || seg.Bridge.String() != "sw:br0" || strings.Join(seg.Machines, " ") != "left mid right" ||
		seg.VNI != derivedVNI("wan", "sw:br0") || seg.Port != DefaultVXLANPort {
		t.Fatalf("segments: %+v", topo.Segments)
	}
	vx := plan.LinkKey{NS: "sw", Name: SegmentPort(seg)}
	if _, ok := left.Links[plan.LinkKey{NS: "sw", Name: "hm-eth0"}]; ok {
		t.Error("left has a port for mid's host")
	}
	ips := func(s ...string) []netip.Addr {
		var as []netip.Addr
		for _, a := range s {
			as = append(as, netip.MustParseAddr(a))
		}
		return as
	}
	if port := left.Links[vx]; port.Kind != plan.Vxlan || port.Master != "br0" || port.Remote.IsValid() ||
		!slices.Equal(port.Flood, ips("192.0.2.2", "192.0.2.3")) || port.Local != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("left's segment port is %+v", port)
	}
	mid, err := topo.DesiredOn("mid", 0)
	if err != nil {
		t.Fatal(err)
	}
	replica := plan.NS("sw@mid")
	if !mid.Namespaces[replica] || mid.Namespaces["sw"] || mid.Links[plan.LinkKey{NS: replica, Name: "br0"}].Kind != plan.Bridge {
		t.Errorf("mid's bridge: namespaces %v", mid.Namespaces)
	}
	for a := range mid.Addrs {
		if a.Link.NS == replica {
			t.Errorf("mid's bridge has the address %v", a)
		}
	}
	if hm := mid.Links[plan.LinkKey{NS: "hm", Name: "eth0"}]; hm.Kind != plan.Veth || hm.Peer != (plan.LinkKey{NS: replica, Name: "hm-eth0"}) {
		t.Errorf("hm:eth0 on mid is %+v", hm)
	}
	if port := mid.Links[plan.LinkKey{NS: replica, Name: "hm-eth0"}]; port.Master != "br0" || port.Peer != (plan.LinkKey{NS: "hm", Name: "eth0"}) {
		t.Errorf("mid's port for hm is %+v", port)
	}
	if port := mid.Links[plan.LinkKey{NS: replica, Name: vx.Name}]; !slices.Equal(port.Flood, ips("192.0.2.1", "192.0.2.3")) {
		t.Errorf("mid's segment port is %+v", port)
	}
	if _, err := topo.DesiredOn("nowhere", 0); err == nil {
		t.Error("a machine not in hosts: has a part")
	}
	if _, err := topo.DesiredOn("", 0); err == nil || !strings.Contains(err.Error(), "no machine") {
		t.Errorf("no machine: %v", err)
	}
}

// TestPlacement: nodes without on: go to the first machine, or round-robin with
// placement: spread.
func TestPlacement(t *testing.T) {
	src := "name: p\nhosts:\n  m1: {ssh: m1, underlay: 192.0.2.1}\n  m2: {ssh: m2, underlay: 192.0.2.2}\n%snodes:\n  a: {}\n  b: {}\n  c: {}\n"
	for _, tc := range []struct{ placement, want string }{{"", "m1 m1 m1"}, {"placement: spread\n", "m1 m2 m1"}} {
		topo, err := Parse("p.yaml", []byte(strings.Replace(src, "%s", tc.placement, 1)))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range topo.Nodes {
			got = append(got, n.On)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("placement %q: %v", tc.placement, got)
		}
	}
}

// TestMachineErrors: what a lab across machines may not say.
func TestMachineErrors(t *testing.T) {
	const base = "name: e\nhosts:\n  m1: {ssh: m1, underlay: 192.0.2.1}\n  m2: {ssh: m2, underlay: 192.0.2.2}\nnodes:\n" +
		"  a: {on: m1, interfaces: {e0: {}}}\n  b: {on: m2, interfaces: {e0: {}}, bridges: {br0: {}}}\nlinks:\n  - [a:e0, b:e0]\n"
	for _, tc := range []struct{ name, edit, want string }{
		{"unknown machine", "on: m2, interfaces: {e0: {}}, bridges=>on: m3, interfaces: {e0: {}}, bridges", `node b is on "m3", which is not a machine of hosts:`},
		{"on without hosts", "hosts:\n  m1: {ssh: m1, underlay: 192.0.2.1}\n  m2: {ssh: m2, underlay: 192.0.2.2}\n=>", "but the lab has no hosts:"},
		{"bad underlay", "underlay: 192.0.2.2}=>underlay: 192.0.2}", `bad underlay "192.0.2"`},
		{"duplicate vni", "  - [a:e0, b:e0]\n=>  - {endpoints: [a:e0, b:e0], vni: 7}\n  - {endpoints: [a:e1, b:e1], vni: 7}\n", "two links between machines have VNI 7"},
	} {
		old, repl, _ := strings.Cut(tc.edit, "=>")
		src := strings.Replace(base, old, repl, 1)
		if tc.name == "duplicate vni" {
			src = strings.Replace(strings.Replace(src, "{e0: {}}}", "{e0: {}, e1: {}}}", 1), "interfaces: {e0: {}}, bridges", "interfaces: {e0: {}, e1: {}}, bridges", 1)
		}
		_, err := Parse("e.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestHostOfEachMachine: host@MACHINE is that machine's root namespace: in its part it
// is plan.Host, with its veth ends and their peers renamed, and in no other part.
func TestHostOfEachMachine(t *testing.T) {
	const src = "name: h\nhosts:\n  m1: {ssh: m1, underlay: 192.0.2.1}\n  m2: {ssh: m2, underlay: 192.0.2.2}\nnodes:\n" +
		"  host@m1: {interfaces: {v1: {addresses: [10.0.1.1/24]}}}\n  host@m2: {interfaces: {v2: {addresses: [10.0.2.1/24]}}}\n" +
		"  a: {on: m1, interfaces: {e0: {addresses: [10.0.1.2/24]}}}\n  b: {on: m2, interfaces: {e0: {addresses: [10.0.2.2/24]}}}\n" +
		"links:\n  - [host@m1:v1, a:e0]\n  - [host@m2:v2, b:e0]\n"
	topo, err := Parse("h.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if topo.Node("host@m1").On != "m1" || topo.Node("host@m2").On != "m2" || !topo.Nodes[0].IsHost() || !topo.Nodes[1].IsHost() {
		t.Fatalf("nodes: %v %v", topo.Nodes[0], topo.Nodes[1])
	}
	m1, err := topo.DesiredOn("m1", 0)
	if err != nil {
		t.Fatal(err)
	}
	v1 := plan.LinkKey{NS: plan.Host, Name: "v1"}
	if l := m1.Links[v1]; l.Kind != plan.Veth || l.Peer != (plan.LinkKey{NS: "a", Name: "e0"}) {
		t.Errorf("host:v1 on m1 is %+v", l)
	}
	if l := m1.Links[plan.LinkKey{NS: "a", Name: "e0"}]; l.Peer != v1 {
		t.Errorf("a:e0's peer on m1 is %v", l.Peer)
	}
	if !m1.Addrs[plan.AddrKey{Link: v1, Prefix: netip.MustParsePrefix("10.0.1.1/24")}] {
		t.Errorf("m1's addresses: %v", m1.Addrs)
	}
	for k := range m1.Links {
		if strings.HasPrefix(string(k.NS), "host@") || k.Name == "v2" {
			t.Errorf("m1's part has %v", k)
		}
	}
	if m1.Namespaces[plan.Host] || m1.Namespaces["host@m1"] {
		t.Errorf("m1's part creates a namespace for its host: %v", m1.Namespaces)
	}

	for _, tc := range []struct{ edit, want string }{
		{"host@m2: {=>host@m3: {", "node host@m3 names no machine of hosts:"},
		{"host@m2: {=>host@m2: {on: m1, ", "node host@m2 cannot be on m1"},
		{"host@m2: {=>host: {on: m1, ", "nodes host and host@m1 are both the host of machine m1"},
		{"host@m1: {=>host@m1: {dns: [10.0.0.53], ", "node host@m1 cannot have dns"},
	} {
		old, repl, _ := strings.Cut(tc.edit, "=>")
		s := strings.Replace(src, old, repl, 1)
		if strings.Contains(tc.want, "both") {
			s = strings.Replace(s, "[host@m2:v2", "[host:v2", 1)
		}
		if _, err := Parse("h.yaml", []byte(s)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.edit, err, tc.want)
		}
	}
	if _, err := Parse("h.yaml", []byte("name: h\nnodes:\n  host@m1: {}\n")); err == nil || !strings.Contains(err.Error(), "names a machine, but the lab has no hosts:") {
		t.Errorf("host@m1 without hosts: %v", err)
	}
}

// TestVXLANMTU: interfaces over VXLAN get the underlay's MTU less VXLAN's 50 bytes,
// unless the link sets one; 1500 is assumed when the underlay's is not known.
func TestVXLANMTU(t *testing.T) {
	topo, err := Load("../examples/multi-host/wan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ underlay, want int }{{0, 1450}, {1500, 1450}, {9000, 8950}} {
		mid, err := topo.DesiredOn("mid", tc.underlay)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []plan.LinkKey{{NS: "b", Name: "ba"}, {NS: "sw@mid", Name: SegmentPort(topo.Segments[0])},
			{NS: "sw@mid", Name: "hm-eth0"}, {NS: "hm", Name: "eth0"}} {
			if got := mid.Links[k].MTU; got != tc.want {
				t.Errorf("underlay MTU %d: %s has MTU %d, want %d", tc.underlay, k, got, tc.want)
			}
		}
	}
}
