package topology

import (
	"fmt"
	"strings"

	"github.com/netlab-go/netlab/plan"
)

// Desired compiles the topology to the State the kernel must reach: every default
// resolved, every object netlab manages listed. Each namespace the lab creates gets its
// loopback up; each link becomes a veth pair marked with the lab's alias, both ends up;
// IPv4 forwarding becomes the sysctl net.ipv4.ip_forward. Each namespace gets
// /etc/netns/NODE/hosts naming every lab address, a hard link to the lab's one shared
// hosts file (plan.SharedHosts), and resolv.conf when it has dns:.
func (t *Topology) Desired() plan.State {
	s := plan.NewState()
	mark := plan.Alias(t.Name)
	shared := plan.SharedHosts(t.Name)
	link := plan.HardLink(shared)
	hasNamespaces := false
	for _, n := range t.Nodes {
		ns := plan.NS(n.Name)
		if n.Netns != nil {
			s.Attached[ns] = n.Netns.Source()
		} else if !n.IsHost() {
			s.Namespaces[ns] = true
			s.Links[plan.LinkKey{NS: ns, Name: "lo"}] = plan.Link{Kind: plan.Loopback, Up: true}
		}
		if !n.IsHost() {
			s.Files[plan.FileKey{NS: ns}] = ""
			s.Files[plan.FileKey{NS: ns, Name: "hosts"}] = link
			hasNamespaces = true
			if len(n.DNS)+len(n.Search) > 0 {
				s.Files[plan.FileKey{NS: ns, Name: "resolv.conf"}] = t.resolvConf(n)
			}
		}
		for _, iface := range n.Interfaces {
			key := plan.LinkKey{NS: ns, Name: iface.Name}
			for _, a := range iface.Addresses {
				s.Addrs[plan.AddrKey{Link: key, Prefix: a}] = true
			}
			switch iface.Kind {
			case Bridge:
				s.Links[key] = plan.Link{Kind: plan.Bridge, Alias: mark, Up: true}.WithSettings(iface.Settings)
			case MacvlanKind:
				s.Links[key] = plan.Link{Kind: plan.Macvlan, Parent: plan.LinkKey{NS: plan.Host, Name: iface.Macvlan.Parent},
					Mode: iface.Macvlan.Mode, Alias: mark, Up: true}.WithSettings(iface.Settings)
			}
		}
		for _, r := range n.Routes {
			s.Routes[plan.RouteKey{NS: ns, To: r.To, Metric: r.Metric}] = plan.Route{Via: r.Via, Dev: r.Dev}
		}
		if n.Forwarding != nil {
			v := "0"
			if *n.Forwarding {
				v = "1"
			}
			s.Sysctls[plan.SysctlKey{NS: ns, Name: "net.ipv4.ip_forward"}] = v
		}
		for name, v := range n.Sysctls {
			s.Sysctls[plan.SysctlKey{NS: ns, Name: name}] = v
		}
		for _, r := range n.NAT {
			s.NAT[plan.NATRule{NS: ns, Source: r.Masquerade, Out: r.Out}] = true
		}
	}
	if hasNamespaces {
		s.Files[shared] = t.HostsFile()
	}
	for _, l := range t.Links {
		a, masterA, setA := t.vethEnd(l.A, l.B)
		b, masterB, setB := t.vethEnd(l.B, l.A)
		mtu := max(setA.MTU, setB.MTU) // a link has one MTU; check refuses two different ones
		s.Links[a] = plan.Link{Kind: plan.Veth, Peer: b, Master: masterA, Alias: mark, Up: true}.WithSettings(setA)
		s.Links[b] = plan.Link{Kind: plan.Veth, Peer: a, Master: masterB, Alias: mark, Up: true}.WithSettings(setB)
		s.Links[a], s.Links[b] = withMTU(s.Links[a], mtu), withMTU(s.Links[b], mtu)
		if l.ImpairA != nil {
			s.Qdiscs[a] = l.ImpairA.qdisc(mtu)
		}
		if l.ImpairB != nil {
			s.Qdiscs[b] = l.ImpairB.qdisc(mtu)
		}
	}
	return s
}

// vethEnd returns the veth end that a link's endpoint e stands for: the interface
// itself, or, when e names a bridge, the bridge's port for this link (named after the
// other endpoint) with the bridge as its master. settings are the link attributes e
// sets: a bridge's own, but for its MTU, are not its port's.
func (t *Topology) vethEnd(e, other Endpoint) (key plan.LinkKey, master string, settings plan.Link) {
	iface := t.Node(e.Node).Interface(e.Interface)
	if iface.Kind == Bridge {
		return plan.LinkKey{NS: plan.NS(e.Node), Name: PortName(other)}, iface.Name, plan.Link{MTU: iface.Settings.MTU}
	}
	return plan.LinkKey{NS: plan.NS(e.Node), Name: e.Interface}, "", iface.Settings
}

func withMTU(l plan.Link, mtu int) plan.Link {
	l.MTU = mtu
	return l
}

// HostsFile is the /etc/netns/NODE/hosts of every namespace of the lab: localhost, then
// each lab address under the names IFACE.NODE and NODE, so that `ping testns2` works
// inside the lab.
func (t *Topology) HostsFile() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s; netlab destroy removes it.\n", plan.FileMark(t.Name))
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, n := range t.Nodes {
		for _, i := range n.Interfaces {
			for _, a := range i.Addresses {
				fmt.Fprintf(&b, "%s\t%s.%s %s\n", a.Addr(), i.Name, n.Name, n.Name)
			}
		}
	}
	return b.String()
}

func (t *Topology) resolvConf(n *Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (node %s); netlab destroy removes it.\n", plan.FileMark(t.Name), n.Name)
	for _, a := range n.DNS {
		fmt.Fprintf(&b, "nameserver %s\n", a)
	}
	if len(n.Search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(n.Search, " "))
	}
	return b.String()
}
