package topology

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"

	"github.com/netlab-go/netlab/plan"
)

// HostNode is the reserved node name for the namespace netlab runs in.
const HostNode = "host"

// IsHostNode reports whether a node's name is the host's: host, or, in a lab across
// machines, host@MACHINE, the root namespace of that machine.
func IsHostNode(name string) bool {
	return name == HostNode || strings.HasPrefix(name, HostNode+"@")
}

// IsHost reports whether the node is a host's root namespace (IsHostNode).
func (n *Node) IsHost() bool { return IsHostNode(n.Name) }

// Topology is a lab as its YAML file describes it, checked. Nodes are sorted with the
// host first, then by name; links keep the file's order.
type Topology struct {
	File  string
	Name  string
	Nodes []*Node
	Links []Link
	// Expect states what must and must not be reachable, for `netlab check`.
	Expect []Expectation
	// Machines are the machines of a lab across several, in the file's order (hosts:);
	// none for a lab on one machine. Placement is "spread" or "" (first machine).
	Machines  []*Machine
	Placement string
	// Segments are the bridges with ports on other machines than their own, each made
	// on every machine of its segment (see DesiredOn).
	Segments []Segment
	// byName indexes Nodes once they are all read (see index); a lab of thousands of
	// nodes looks one up per link end.
	byName map[string]*Node
}

// index builds the lookup maps of Node and Interface, which fall back to a scan when
// a map is missing or its size no longer matches (a name given twice: the scan finds
// the first, as the loader's errors expect).
func (t *Topology) index() {
	t.byName = make(map[string]*Node, len(t.Nodes))
	for _, n := range t.Nodes {
		if _, dup := t.byName[n.Name]; !dup {
			t.byName[n.Name] = n
		}
		n.byName = make(map[string]*Interface, len(n.Interfaces))
		for _, i := range n.Interfaces {
			if _, dup := n.byName[i.Name]; !dup {
				n.byName[i.Name] = i
			}
		}
	}
}

// Segment is a bridge whose ports are on several machines: a bridge of that name on
// each, joined by one VXLAN port per machine that floods to all the others
// (head-end replication).
type Segment struct {
	// Bridge is the bridge, NODE:BRIDGE, on its node's machine.
	Bridge Endpoint
	// Machines are the machines with the bridge or one of its ports, in hosts: order.
	Machines []string
	// VNI and Port are the segment's VXLAN id and UDP port.
	VNI, Port int
}

// Machine is a machine of a lab across several: how to reach it over ssh, and its
// address on the underlay, which VXLAN links between machines use.
type Machine struct {
	Name     string
	Pos      Pos
	SSH      string
	Underlay netip.Addr
}

// Expectation is one entry of expect: from a node, targets that must answer a ping
// (Reach) and targets that must not (Unreachable).
type Expectation struct {
	Pos         Pos
	From        string
	Reach       []Target
	Unreachable []Target
}

// Target is what a node pings: a lab node (all its addresses) or one address. A node
// target has Node set and Addr zero.
type Target struct {
	Pos  Pos
	Node string
	Addr netip.Addr
}

func (t Target) String() string {
	if t.Node != "" {
		return t.Node
	}
	return t.Addr.String()
}

// Addresses returns every address of the node's interfaces, in interface order.
func (n *Node) Addresses() []netip.Addr {
	var addrs []netip.Addr
	for _, i := range n.Interfaces {
		for _, a := range i.Addresses {
			addrs = append(addrs, a.Addr())
		}
	}
	return addrs
}

// Node is a network namespace of the lab: the host, or one netlab creates under
// /run/netns with the node's name.
type Node struct {
	Name string
	Pos  Pos
	// Forwarding, when set, is the value of net.ipv4.ip_forward in the node.
	Forwarding *bool
	// Sysctls maps net.* sysctls to the values the node wants (fields joined by spaces).
	Sysctls map[string]string
	// SysctlPos holds the position of each sysctl's name.
	SysctlPos  map[string]Pos
	NAT        []NAT
	Interfaces []*Interface // sorted by name
	Routes     []Route
	// Netns, when set, is an existing namespace the node stands for: netlab does not
	// create it, makes it visible as /run/netns/NODE, and adds only what the node declares.
	Netns *NetnsRef
	// DNS and Search, when given, make /etc/netns/NODE/resolv.conf.
	DNS    []netip.Addr
	Search []string
	// On is the machine the node is on (hosts:), as the file gives it or placed.
	On    string
	OnPos Pos
	// byName indexes Interfaces (see Topology.index).
	byName map[string]*Interface
}

// NetnsRef names an existing network namespace: by a process in it (Pid), by a
// namespace file (Path, such as /proc/PID/ns/net), or by its name under /run/netns.
// Exactly one is set.
type NetnsRef struct {
	Pos  Pos
	Pid  int
	Path string
	Name string
}

// Source is the file of the namespace: /proc/PID/ns/net, the path, or /run/netns/NAME.
func (r NetnsRef) Source() string {
	switch {
	case r.Pid != 0:
		return fmt.Sprintf("/proc/%d/ns/net", r.Pid)
	case r.Path != "":
		return r.Path
	}
	return plan.NetnsDir + "/" + r.Name
}

// Interface is an interface of a node with the addresses it gets: a veth end (one end
// of a link), a bridge, or a macvlan.
type Interface struct {
	Name      string
	Pos       Pos
	Kind      InterfaceKind
	Addresses []netip.Prefix
	// AddressPos holds the position of each address, in the same order.
	AddressPos []Pos
	// Settings holds the link attributes the topology sets on the interface (its MTU,
	// ...): the fields of plan.LinkAttrs that have a Parse, zero where unset.
	Settings plan.Link
	// Macvlan is set for a macvlan interface.
	Macvlan *Macvlan
}

// InterfaceKind says what an interface is.
type InterfaceKind string

// The kinds of interface.
const (
	VethEnd     InterfaceKind = "veth"    // one end of a link
	Bridge      InterfaceKind = "bridge"  // a Linux bridge; links to it get a port
	MacvlanKind InterfaceKind = "macvlan" // a macvlan on a host interface
)

// Macvlan is a macvlan interface's parent in the host and its mode.
type Macvlan struct {
	Parent string
	Mode   string
}

// MacvlanModes are the modes a macvlan may have, as `ip link` names them.
var MacvlanModes = []string{"bridge", "private", "vepa", "passthru", "source"}

// Route is a static route in a node's main table. To is 0.0.0.0/0 or ::/0 for default.
// Via or Dev or both are set. Metric is the kernel's: 1024 for an IPv6 route that does
// not give one.
type Route struct {
	Pos    Pos
	To     netip.Prefix
	Via    netip.Addr
	Dev    string
	DevPos Pos
	Metric int
}

// NAT is a MASQUERADE rule: packets from Masquerade leaving the node (through Out, when
// set) take the address of the outgoing interface.
type NAT struct {
	Pos        Pos
	Masquerade netip.Prefix
	Out        string
}

// Endpoint is one end of a link: an interface of a node.
type Endpoint struct {
	Pos       Pos
	Node      string
	Interface string
}

func (e Endpoint) String() string { return e.Node + ":" + e.Interface }

// Link is a veth pair between two endpoints. An endpoint that names a bridge stands for
// a port of that bridge: a veth end named after the other endpoint (PortName).
type Link struct {
	Pos  Pos
	A, B Endpoint
	// ImpairA and ImpairB impair what leaves A and what leaves B (nil: nothing).
	ImpairA, ImpairB *Impairment
	// VNI and Port are those of the VXLAN pair that joins two machines (0: derived
	// from the lab and the link, and 4789).
	VNI, Port int
}

// PortName is the name of the veth end that joins a bridge for a link whose other end
// is peer: NODE-IFACE of the peer when that fits in 15 bytes, else p and a hash of it.
func PortName(peer Endpoint) string {
	if n := peer.Node + "-" + peer.Interface; len(n) <= 15 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(peer.String()))
	return fmt.Sprintf("p%08x", h.Sum32())
}

// Node returns the node of that name, or nil.
func (t *Topology) Node(name string) *Node {
	if len(t.byName) == len(t.Nodes) && t.byName != nil {
		return t.byName[name]
	}
	for _, n := range t.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Interface returns the node's interface of that name, or nil.
func (n *Node) Interface(name string) *Interface {
	if len(n.byName) == len(n.Interfaces) && n.byName != nil {
		return n.byName[name]
	}
	for _, i := range n.Interfaces {
		if i.Name == name {
			return i
		}
	}
	return nil
}
