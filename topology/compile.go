package topology

import "github.com/netlab-go/netlab/plan"

// Desired compiles the topology to the State the kernel must reach: every default
// resolved, every object netlab manages listed. Each namespace the lab creates gets its
// loopback up; each link becomes a veth pair marked with the lab's alias, both ends up;
// IPv4 forwarding becomes the sysctl net.ipv4.ip_forward.
func (t *Topology) Desired() plan.State {
	s := plan.NewState()
	mark := plan.Alias(t.Name)
	for _, n := range t.Nodes {
		ns := plan.NS(n.Name)
		if n.Name != HostNode {
			s.Namespaces[ns] = true
			s.Links[plan.LinkKey{NS: ns, Name: "lo"}] = plan.Link{Kind: plan.Loopback, Up: true}
		}
		for _, iface := range n.Interfaces {
			for _, a := range iface.Addresses {
				s.Addrs[plan.AddrKey{Link: plan.LinkKey{NS: ns, Name: iface.Name}, Prefix: a}] = true
			}
		}
		for _, r := range n.Routes {
			s.Routes[plan.RouteKey{NS: ns, To: r.To}] = plan.Route{Via: r.Via}
		}
		if n.Forwarding != nil {
			v := "0"
			if *n.Forwarding {
				v = "1"
			}
			s.Sysctls[plan.SysctlKey{NS: ns, Name: "net.ipv4.ip_forward"}] = v
		}
		for _, r := range n.NAT {
			s.NAT[plan.NATRule{NS: ns, Source: r.Masquerade, Out: r.Out}] = true
		}
	}
	for _, l := range t.Links {
		a := plan.LinkKey{NS: plan.NS(l.A.Node), Name: l.A.Interface}
		b := plan.LinkKey{NS: plan.NS(l.B.Node), Name: l.B.Interface}
		s.Links[a] = plan.Link{Kind: plan.Veth, Peer: b, Alias: mark, Up: true}
		s.Links[b] = plan.Link{Kind: plan.Veth, Peer: a, Alias: mark, Up: true}
	}
	return s
}
