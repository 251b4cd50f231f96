package topology

import (
	"fmt"
	"maps"
	"slices"

	"github.com/netlab-go/netlab/plan"
	"net/netip"
	"strings"
)

// check makes the checks that span the whole file: link endpoints, interface use,
// duplicate addresses and routes, and gateways.
func (p *parser) check(t *Topology) {
	defer p.checkMachines(t)
	nodeNames := make([]string, len(t.Nodes))
	for i, n := range t.Nodes {
		nodeNames[i] = n.Name
	}
	used := map[string]Endpoint{}
	ports := map[string]Endpoint{} // node:port of bridge ports
	for _, l := range t.Links {
		for i, e := range []Endpoint{l.A, l.B} {
			other := l.B
			if i == 1 {
				other = l.A
			}
			node := t.Node(e.Node)
			if node == nil {
				hint := "nodes are " + strings.Join(nodeNames, ", ")
				if s := suggest(e.Node, nodeNames); s != "" {
					hint = fmt.Sprintf("did you mean %q? ", s) + hint
				}
				p.errorAt(e.Pos, hint, "link endpoint %q names unknown node %q", e.String(), e.Node)
				continue
			}
			if node.Interface(e.Interface) == nil {
				hint := fmt.Sprintf("declare it under nodes.%s.interfaces (`%s: {}` for no address)", e.Node, e.Interface)
				var names []string
				for _, i := range node.Interfaces {
					names = append(names, i.Name)
				}
				if s := suggest(e.Interface, names); s != "" {
					hint = fmt.Sprintf("did you mean %s:%s? or ", e.Node, s) + hint
				}
				p.errorAt(e.Pos, hint, "link endpoint %q names interface %q, which node %s does not declare", e.String(), e.Interface, e.Node)
				continue
			}
			switch node.Interface(e.Interface).Kind {
			case MacvlanKind:
				p.errorAt(e.Pos, "a macvlan sits on its parent and is in no link; link another interface, or a bridge",
					"link endpoint %q is a macvlan", e.String())
				continue
			case Bridge:
				port := PortName(other)
				key := e.Node + ":" + port
				if node.Interface(port) != nil {
					p.errorAt(e.Pos, "rename that interface: the link's port on the bridge takes the name "+port,
						"the port of bridge %s for this link would be named %s, like an interface of node %s", e.String(), port, e.Node)
				} else if first, dup := ports[key]; dup {
					p.errorAt(e.Pos, fmt.Sprintf("link the bridge to %s once; the first link is at line %d", other, first.Pos.Line),
						"bridge %s is linked to %s twice", e.String(), other)
				}
				ports[key] = e
				continue
			}
			if first, dup := used[e.String()]; dup {
				p.errorAt(e.Pos, fmt.Sprintf("an interface is one end of one link; its other link is at line %d; declare another interface", first.Pos.Line),
					"interface %s is used by two links", e.String())
				continue
			}
			used[e.String()] = e
		}
	}
	for _, l := range t.Links {
		a, b := t.Node(l.A.Node), t.Node(l.B.Node)
		if a == nil || b == nil || a.Interface(l.A.Interface) == nil || b.Interface(l.B.Interface) == nil {
			continue
		}
		ma, mb := a.Interface(l.A.Interface).Settings.MTU, b.Interface(l.B.Interface).Settings.MTU
		if ma != 0 && mb != 0 && ma != mb {
			p.errorAt(l.Pos, "give both ends one MTU (or set it on one end only: the other gets it too)",
				"the two ends of this link ask for MTU %d and %d", ma, mb)
		}
		for i, imp := range []*Impairment{l.ImpairA, l.ImpairB} {
			if i == 1 && imp == l.ImpairA {
				break // one impairment for both ends
			}
			if frame := frameSize(max(ma, mb)); imp != nil && imp.Burst != 0 && imp.Burst < frame {
				p.errorAt(imp.Pos, fmt.Sprintf("give a burst of at least %d bytes (a frame at the link's MTU), or leave it to netlab", frame),
					"a burst of %d bytes is less than one frame: the tbf would drop every full-size packet", imp.Burst)
			}
		}
	}
	p.checkIPv6MTU(t)
	p.checkSysctlInterfaces(t)
	for _, n := range t.Nodes {
		p.checkNode(n, used)
		for _, iface := range n.Interfaces {
			if host := t.hostOn(n.On); iface.Macvlan != nil && host != nil && host.Interface(iface.Macvlan.Parent) != nil {
				p.errorAt(iface.Pos, "name an interface of the host that the lab does not create, like eth0",
					"macvlan %s:%s sits on host:%s, which this lab creates", n.Name, iface.Name, iface.Macvlan.Parent)
			}
		}
	}
	p.checkExpect(t, nodeNames)
}

// checkExpect checks that every expectation starts from a node and targets a node with
// an address or an address of the lab (any address with --external).
func (p *parser) checkExpect(t *Topology, nodeNames []string) {
	labAddrs := map[netip.Addr]bool{}
	for _, n := range t.Nodes {
		for _, a := range n.Addresses() {
			labAddrs[a] = true
		}
	}
	unknownNode := func(pos Pos, what, name string) {
		hint := "nodes are " + strings.Join(nodeNames, ", ")
		if s := suggest(name, nodeNames); s != "" {
			hint = fmt.Sprintf("did you mean %q? ", s) + hint
		}
		p.errorAt(pos, hint, "%s names unknown node %q", what, name)
	}
	for _, e := range t.Expect {
		if e.From != "" && t.Node(e.From) == nil {
			unknownNode(e.Pos, "expectation", e.From)
		}
		for _, tg := range append(append([]Target{}, e.Reach...), e.Unreachable...) {
			switch {
			case tg.Node != "" && t.Node(tg.Node) == nil:
				unknownNode(tg.Pos, "target", tg.Node)
			case tg.Node != "" && len(t.Node(tg.Node).Addresses()) == 0:
				p.errorAt(tg.Pos, "give it an address, or name an address instead", "target node %s has no address to ping", tg.Node)
			case tg.Addr.IsValid() && !labAddrs[tg.Addr] && !p.opts.ExternalTargets:
				p.errorAt(tg.Pos, "name a lab node or one of its addresses; `netlab check --external` allows other addresses",
					"target %s is not an address of the lab", tg.Addr)
			}
		}
	}
}

func (p *parser) checkNode(n *Node, used map[string]Endpoint) {
	type seenAddr struct {
		iface string
		pos   Pos
	}
	addrs := map[netip.Addr]seenAddr{}
	var connected []netip.Prefix
	for _, iface := range n.Interfaces {
		// An interface or node whose name is already reported gets no follow-on error.
		nameOK := plan.IfaceNameProblem(iface.Name) == ""
		if problem, _ := plan.NodeNameProblem(n.Name); problem != "" {
			nameOK = false
		}
		if _, ok := used[n.Name+":"+iface.Name]; !ok && nameOK && iface.Kind == VethEnd {
			p.errorAt(iface.Pos, fmt.Sprintf("add a link like [%s:%s, OTHER:IFACE] or remove the interface", n.Name, iface.Name),
				"interface %s:%s is in no link", n.Name, iface.Name)
		}
		for i, a := range iface.Addresses {
			if first, dup := addrs[a.Addr()]; dup {
				p.errorAt(iface.AddressPos[i], fmt.Sprintf("an address appears once per namespace; the first is on %s at line %d", first.iface, first.pos.Line),
					"address %s is already in node %s", a.Addr(), n.Name)
				continue
			}
			addrs[a.Addr()] = seenAddr{iface.Name, iface.AddressPos[i]}
			connected = append(connected, a.Masked())
		}
	}
	type routeKey struct {
		to     netip.Prefix
		metric int
	}
	dests := map[routeKey]Pos{}
	for _, r := range n.Routes {
		if first, dup := dests[routeKey{r.To, r.Metric}]; dup {
			p.errorAt(r.Pos, fmt.Sprintf("keep one route per destination and metric; the first is at line %d", first.Line),
				"node %s has two routes to %s", n.Name, plan.RouteDest(r.To))
			continue
		}
		dests[routeKey{r.To, r.Metric}] = r.Pos
		if r.Dev != "" && n.Interface(r.Dev) == nil {
			var names []string
			for _, i := range n.Interfaces {
				names = append(names, i.Name)
			}
			p.errorAt(r.DevPos, "name an interface or bridge of node "+n.Name+": "+strings.Join(names, ", "),
				"route device %s is not an interface of node %s", r.Dev, n.Name)
		}
		if !r.Via.IsValid() {
			continue
		}
		reachable := false
		for _, c := range connected {
			if c.Contains(r.Via) {
				reachable = true
			}
		}
		if !reachable {
			var subnets []string
			for _, c := range connected {
				if c.Addr().Is4() == r.Via.Is4() {
					subnets = append(subnets, c.String())
				}
			}
			hint := "node " + n.Name + " has no address of that family; add one on the link towards the gateway"
			if len(subnets) > 0 {
				hint = "use a gateway in a connected subnet of node " + n.Name + ": " + strings.Join(subnets, ", ")
			}
			p.errorAt(r.Pos, hint, "gateway %s of the route to %s is in no connected subnet of node %s", r.Via, plan.RouteDest(r.To), n.Name)
		}
		if _, own := addrs[r.Via]; own {
			p.errorAt(r.Pos, "the gateway is the next hop: write the address of the node at the other end of the link",
				"gateway %s of the route to %s is node %s's own address", r.Via, plan.RouteDest(r.To), n.Name)
		}
	}
	nats := map[NAT]Pos{}
	for _, r := range n.NAT {
		key := NAT{Masquerade: r.Masquerade, Out: r.Out}
		if first, dup := nats[key]; dup {
			p.errorAt(r.Pos, fmt.Sprintf("keep one; the first is at line %d", first.Line), "node %s has this nat rule twice", n.Name)
		}
		nats[key] = r.Pos
	}
}

// checkIPv6MTU refuses an IPv6 address on an interface whose MTU is below 1280, the
// least IPv6 allows: the kernel refuses the address (and removes IPv6 from a link whose
// MTU drops below it). A veth end has the MTU of its link, which either end may set.
func (p *parser) checkIPv6MTU(t *Topology) {
	linkMTU := map[*Interface]int{}
	for _, l := range t.Links {
		a, b := t.endpoint(l.A), t.endpoint(l.B)
		if a == nil || b == nil {
			continue
		}
		linkMTU[a], linkMTU[b] = max(a.Settings.MTU, b.Settings.MTU), max(a.Settings.MTU, b.Settings.MTU)
	}
	for _, n := range t.Nodes {
		for _, iface := range n.Interfaces {
			mtu := max(iface.Settings.MTU, linkMTU[iface])
			if mtu == 0 || mtu >= 1280 {
				continue
			}
			for i, a := range iface.Addresses {
				if a.Addr().Is6() {
					p.errorAt(iface.AddressPos[i], "give the link an MTU of at least 1280 (IPv6's least), or drop the IPv6 address",
						"IPv6 address %s on %s:%s, whose MTU is %d: the kernel refuses IPv6 below 1280", a, n.Name, iface.Name, mtu)
				}
			}
		}
	}
}

// endpoint returns the interface a link endpoint names, or nil.
func (t *Topology) endpoint(e Endpoint) *Interface {
	if n := t.Node(e.Node); n != nil {
		return n.Interface(e.Interface)
	}
	return nil
}

// checkSysctlInterfaces refuses a per-interface sysctl (net.ipv4.conf.IF.*) of a
// namespace the lab creates when IF is none of the node's interfaces: there is no such
// interface in a new namespace. (In the host and in existing namespaces the interface
// may be there already; plan checks them against the kernel.)
func (p *parser) checkSysctlInterfaces(t *Topology) {
	for _, n := range t.Nodes {
		if n.IsHost() || n.Netns != nil || len(n.Sysctls) == 0 {
			continue
		}
		names := map[string]bool{"lo": true, "all": true, "default": true}
		for _, i := range n.Interfaces {
			names[i.Name] = true
		}
		for _, l := range t.Links {
			for _, pair := range [][2]Endpoint{{l.A, l.B}, {l.B, l.A}} {
				if i := t.endpoint(pair[0]); pair[0].Node == n.Name && i != nil && i.Kind == Bridge {
					names[PortName(pair[1])] = true
				}
			}
		}
		for _, name := range slices.Sorted(maps.Keys(n.Sysctls)) {
			if iface, ok := plan.SysctlInterface(name); ok && !names[iface] {
				p.errorAt(n.SysctlPos[name], "name one of the node's interfaces, or all or default",
					"sysctl %s names interface %s, which node %s does not have", name, iface, n.Name)
			}
		}
	}
}
