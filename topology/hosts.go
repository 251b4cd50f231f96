package topology

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/netlab-go/netlab/plan"
	"go.yaml.in/yaml/v4"
)

// DefaultVXLANPort is the UDP port of VXLAN links between machines unless a link gives
// one (IANA's).
const DefaultVXLANPort = 4789

func (p *parser) machines(n *yaml.Node) []*Machine {
	var ms []*Machine
	p.entries(n, "hosts", func(name string, k, v *yaml.Node) {
		if problem, hint := plan.NodeNameProblem(name); problem != "" {
			p.errorf(k, hint, "machine name %q %s", name, problem)
		}
		m := &Machine{Name: name, Pos: posOf(k)}
		p.fields(v, "machine "+name, keys(machineFields), func(key string, fk, fv *yaml.Node) {
			s, ok := p.scalar(fv, key, map[string]string{"ssh": "root@192.0.2.1", "underlay": "192.0.2.1"}[key])
			if !ok {
				return
			}
			switch key {
			case "ssh":
				m.SSH = s
			case "underlay":
				a, err := netip.ParseAddr(s)
				if err != nil || a.Zone() != "" {
					p.errorf(fv, "write the machine's address on the underlay, like 192.0.2.1", "bad underlay %q", s)
					return
				}
				if p.usableAddr(fv, a, "underlay", s) {
					m.Underlay = a
				}
			}
		})
		if deref(v).Kind == yaml.MappingNode && (m.SSH == "" || !m.Underlay.IsValid()) && len(p.diags) == 0 {
			p.errorf(v, "give both: `{ssh: root@192.0.2.1, underlay: 192.0.2.1}`", "machine %s needs ssh and underlay", name)
		}
		ms = append(ms, m)
	})
	return ms
}

// number reads a whole number from least to most.
func (p *parser) number(n *yaml.Node, what string, least, most int, example string) int {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < least || v > most {
		p.errorf(n, fmt.Sprintf("write a number from %d to %d, like %s", least, most, example), "bad %s %q", what, n.Value)
		return 0
	}
	return v
}

// checkMachines places the nodes on machines and checks the links between machines:
// a link between two bridges is refused, a link from a bridge to another machine's
// node joins the bridge's segment (Segments), and the VNIs of links and segments are
// distinct.
func (p *parser) checkMachines(t *Topology) {
	if len(t.Machines) == 0 {
		for _, n := range t.Nodes {
			if n.On != "" {
				p.errorAt(n.OnPos, "add a hosts: section naming the machines, or drop on:", "node %s is on %q, but the lab has no hosts:", n.Name, n.On)
			}
			if n.Name != HostNode && n.IsHost() {
				p.errorAt(n.Pos, "name the node host: on one machine, the host is the machine netlab runs on", "node %s names a machine, but the lab has no hosts:", n.Name)
			}
		}
		return
	}
	byName := map[string]*Machine{}
	family := t.Machines[0].Underlay.Is4()
	for _, m := range t.Machines {
		byName[m.Name] = m
		if m.Underlay.IsValid() && m.Underlay.Is4() != family {
			p.errorAt(m.Pos, "give every machine an underlay address of one family", "machine %s's underlay is of another family than %s's", m.Name, t.Machines[0].Name)
		}
	}
	i := 0
	hostOn := map[string]string{}
	for _, n := range t.Nodes {
		if m, ok := strings.CutPrefix(n.Name, HostNode+"@"); ok {
			switch {
			case byName[m] == nil:
				p.errorAt(n.Pos, "write host@MACHINE with one of the machines of hosts:", "node %s names no machine of hosts:", n.Name)
			case n.On != "" && n.On != m:
				p.errorAt(n.OnPos, "drop on:: host@MACHINE is on MACHINE", "node %s cannot be on %s", n.Name, n.On)
			}
			n.On = m
		}
		switch {
		case n.On != "" && byName[n.On] == nil:
			p.errorAt(n.OnPos, "name one of the machines of hosts:", "node %s is on %q, which is not a machine of hosts:", n.Name, n.On)
		case n.On == "" && t.Placement == "spread":
			n.On = t.Machines[i%len(t.Machines)].Name
			i++
		case n.On == "":
			n.On = t.Machines[0].Name
		}
		if n.IsHost() {
			if other, dup := hostOn[n.On]; dup {
				p.errorAt(n.Pos, "keep one of them: both are the root namespace of "+n.On, "nodes %s and %s are both the host of machine %s", other, n.Name, n.On)
			}
			hostOn[n.On] = n.Name
		}
	}
	vnis := map[int]Pos{}
	claim := func(vni int, pos Pos) {
		if other, dup := vnis[vni]; dup {
			p.errorAt(pos, fmt.Sprintf("give one of them another `vni:`; the other is at line %d", other.Line),
				"two links between machines have VNI %d", vni)
		}
		vnis[vni] = pos
	}
	segments := map[string]int{}
	for i := range t.Links {
		l := &t.Links[i]
		a, b := t.Node(l.A.Node), t.Node(l.B.Node)
		if a == nil || b == nil || a.On == b.On {
			continue
		}
		ia, ib := a.Interface(l.A.Interface), b.Interface(l.B.Interface)
		if ia == nil || ib == nil {
			continue
		}
		if ia.Kind == Bridge && ib.Kind == Bridge {
			p.errorAt(l.Pos, "join the two bridges' segments through a node's interface, or put them on one machine",
				"the link between bridges %s and %s joins two machines: a bridge port over VXLAN is made for a node's interface", l.A, l.B)
			continue
		}
		if br, node, ok := t.bridgeLink(*l); ok {
			p.joinSegment(t, segments, br, t.Node(node.Node).On, *l)
			continue
		}
		if l.VNI == 0 {
			l.VNI = derivedVNI(t.Name, l.A.String(), l.B.String())
		}
		claim(l.VNI, l.Pos)
		l.Port = cmp.Or(l.Port, DefaultVXLANPort)
	}
	for i := range t.Segments {
		seg := &t.Segments[i]
		if seg.VNI == 0 {
			seg.VNI = derivedVNI(t.Name, seg.Bridge.String())
		}
		seg.Port = cmp.Or(seg.Port, DefaultVXLANPort)
		claim(seg.VNI, t.Node(seg.Bridge.Node).Interface(seg.Bridge.Interface).Pos)
		slices.SortFunc(seg.Machines, func(x, y string) int { return machineIndex(t, x) - machineIndex(t, y) })
	}
}

// joinSegment adds the link l, from the bridge br to a node on machine m, to br's
// segment: its vni: and port:, when given, are the segment's, and must agree with its
// other links'.
func (p *parser) joinSegment(t *Topology, segments map[string]int, br Endpoint, m string, l Link) {
	i, ok := segments[br.String()]
	if !ok {
		i = len(t.Segments)
		segments[br.String()] = i
		t.Segments = append(t.Segments, Segment{Bridge: br, Machines: []string{t.Node(br.Node).On}})
	}
	seg := &t.Segments[i]
	if !slices.Contains(seg.Machines, m) {
		seg.Machines = append(seg.Machines, m)
	}
	for _, v := range []struct {
		what      string
		given, in *int
	}{{"vni", &l.VNI, &seg.VNI}, {"port", &l.Port, &seg.Port}} {
		switch {
		case *v.given == 0:
		case *v.in == 0:
			*v.in = *v.given
		case *v.in != *v.given:
			p.errorAt(l.Pos, fmt.Sprintf("a bridge across machines has one VXLAN %s: give its links the same one, or one of them only", v.what),
				"the links of bridge %s across machines give %s %d and %d", br, v.what, *v.in, *v.given)
		}
	}
}

// bridgeLink returns the bridge end and the other end of a link from a bridge to a
// node's interface.
func (t *Topology) bridgeLink(l Link) (bridge, other Endpoint, ok bool) {
	kind := func(e Endpoint) InterfaceKind {
		if n := t.Node(e.Node); n != nil {
			if i := n.Interface(e.Interface); i != nil {
				return i.Kind
			}
		}
		return ""
	}
	switch a, b := kind(l.A), kind(l.B); {
	case a == Bridge && b != Bridge:
		return l.A, l.B, true
	case b == Bridge && a != Bridge:
		return l.B, l.A, true
	}
	return Endpoint{}, Endpoint{}, false
}

// hostOn is the node that is the root namespace of machine m (host or host@m), or
// nil; for a lab on one machine (m ""), the node host.
func (t *Topology) hostOn(m string) *Node {
	for _, n := range t.Nodes {
		if n.IsHost() && n.On == m {
			return n
		}
	}
	return nil
}

func machineIndex(t *Topology, name string) int {
	return slices.IndexFunc(t.Machines, func(m *Machine) bool { return m.Name == name })
}

// derivedVNI is the VXLAN id of a link between machines, or of a bridge segment
// across them, that gives none: from a hash of the lab and the link's endpoints (in
// either order) or the bridge, in 1 to 2^24-1.
func derivedVNI(lab string, ends ...string) int {
	h := fnv.New32a()
	slices.Sort(ends)
	h.Write([]byte(lab + "\x00" + strings.Join(ends, "\x00")))
	return int(h.Sum32()%(1<<24-1)) + 1
}

// otherEnd is the endpoint of l that is not e.
func otherEnd(l Link, e Endpoint) Endpoint {
	if l.A == e {
		return l.B
	}
	return l.A
}

// Machine returns the machine named, or nil.
func (t *Topology) Machine(name string) *Machine {
	for _, m := range t.Machines {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// DesiredOn returns the part of the lab on one machine: its nodes, with their links to
// nodes of other machines as VXLAN interfaces, made in the machine's root namespace
// with the other machine's underlay as their remote and moved into the node under the
// interface's name (the tunnel's socket stays in the root namespace). A bridge with
// ports on other machines is made on each machine of its segment (segmentOn). For a
// lab on one machine (no hosts:), machine must be "" and
// DesiredOn is Desired.
//
// underlayMTU is the MTU of the machine's interface with its underlay address (0: not
// known, taken as 1500). Every VXLAN end, every port of a segment across machines and
// the node ends joined to them get it less VXLAN's headers (plan.VXLANOverhead) unless
// the link sets an MTU.
func (t *Topology) DesiredOn(machine string, underlayMTU int) (plan.State, error) {
	if len(t.Machines) == 0 {
		if machine != "" {
			return plan.State{}, fmt.Errorf("lab %s has no hosts: section, so no machine %s", t.Name, machine)
		}
		return t.Desired(), nil
	}
	me := t.Machine(machine)
	if me == nil {
		names := make([]string, len(t.Machines))
		for i, m := range t.Machines {
			names[i] = m.Name
		}
		return plan.State{}, fmt.Errorf("lab %s has no machine %q; its machines: %v", t.Name, machine, names)
	}
	all := t.Desired()
	here := map[plan.NS]bool{}
	for _, n := range t.Nodes {
		if n.On == machine {
			here[plan.NS(n.Name)] = true
		}
	}
	s := plan.NewState()
	keep := func(ns plan.NS) bool { return here[ns] }
	for ns := range all.Namespaces {
		if keep(ns) {
			s.Namespaces[ns] = true
		}
	}
	for ns, src := range all.Attached {
		if keep(ns) {
			s.Attached[ns] = src
		}
	}
	for k, l := range all.Links {
		if keep(k.NS) {
			s.Links[k] = l
		}
	}
	for k := range all.Addrs {
		if keep(k.Link.NS) {
			s.Addrs[k] = true
		}
	}
	for k, r := range all.Routes {
		if keep(k.NS) {
			s.Routes[k] = r
		}
	}
	for k, v := range all.Sysctls {
		if keep(k.NS) {
			s.Sysctls[k] = v
		}
	}
	for r := range all.NAT {
		if keep(r.NS) {
			s.NAT[r] = true
		}
	}
	for k, q := range all.Qdiscs {
		if keep(k.NS) {
			s.Qdiscs[k] = q
		}
	}
	for k, v := range all.Files {
		if k.Shared() || keep(k.NS) {
			s.Files[k] = v
		}
	}
	for _, l := range t.Links {
		a, b := t.Node(l.A.Node), t.Node(l.B.Node)
		if _, _, toBridge := t.bridgeLink(l); a.On == b.On || toBridge {
			continue // on one machine, or to a bridge across machines (a segment's)
		}
		for _, end := range []struct {
			e     Endpoint
			other *Node
		}{{l.A, b}, {l.B, a}} {
			if t.Node(end.e.Node).On != machine {
				continue
			}
			k, _, _ := t.vethEnd(end.e, otherEnd(l, end.e))
			v := s.Links[k]
			v.Kind, v.Peer = plan.Vxlan, plan.LinkKey{}
			v.VNI, v.Port = l.VNI, l.Port
			v.Local, v.Remote = me.Underlay, t.Machine(end.other.On).Underlay
			v.MTU = cmp.Or(v.MTU, overVXLAN(me, underlayMTU))
			s.Links[k] = v
		}
	}
	for _, seg := range t.Segments {
		if slices.Contains(seg.Machines, machine) {
			t.segmentOn(&s, all, seg, me, overVXLAN(me, underlayMTU))
		}
	}
	return hostIsRoot(s, plan.NS(HostNode+"@"+machine)), nil
}

// hostIsRoot renames the node host@MACHINE of a machine's part to the machine's root
// namespace, plan.Host, in every key and peer.
func hostIsRoot(s plan.State, node plan.NS) plan.State {
	ns := func(n plan.NS) plan.NS {
		if n == node {
			return plan.Host
		}
		return n
	}
	link := func(k plan.LinkKey) plan.LinkKey { return plan.LinkKey{NS: ns(k.NS), Name: k.Name} }
	links := map[plan.LinkKey]plan.Link{}
	for k, l := range s.Links {
		if l.Peer != (plan.LinkKey{}) {
			l.Peer = link(l.Peer)
		}
		links[link(k)] = l
	}
	s.Links = links
	addrs := map[plan.AddrKey]bool{}
	for k := range s.Addrs {
		addrs[plan.AddrKey{Link: link(k.Link), Prefix: k.Prefix}] = true
	}
	s.Addrs = addrs
	routes := map[plan.RouteKey]plan.Route{}
	for k, r := range s.Routes {
		k.NS = ns(k.NS)
		routes[k] = r
	}
	s.Routes = routes
	sysctls := map[plan.SysctlKey]string{}
	for k, v := range s.Sysctls {
		k.NS = ns(k.NS)
		sysctls[k] = v
	}
	s.Sysctls = sysctls
	nat := map[plan.NATRule]bool{}
	for r := range s.NAT {
		r.NS = ns(r.NS)
		nat[r] = true
	}
	s.NAT = nat
	qdiscs := map[plan.LinkKey]plan.Qdisc{}
	for k, q := range s.Qdiscs {
		qdiscs[link(k)] = q
	}
	s.Qdiscs = qdiscs
	return s
}

// overVXLAN is the MTU of an interface over VXLAN on machine me: its underlay's,
// 1500 when not known, less VXLAN's headers.
func overVXLAN(me *Machine, underlayMTU int) int {
	return cmp.Or(underlayMTU, 1500) - plan.VXLANOverhead(me.Underlay)
}

// SegmentNS is the namespace that holds the bridge of a segment across machines on
// machine m: the bridge's node on its own machine; elsewhere NODE@MACHINE, a namespace
// with the bridge only (no addresses), its ports for that machine's nodes and its VXLAN
// port; for a bridge of the host, m's root namespace.
func (t *Topology) SegmentNS(seg Segment, m string) plan.NS {
	switch {
	case t.Node(seg.Bridge.Node).On == m:
		return plan.NS(seg.Bridge.Node)
	case IsHostNode(seg.Bridge.Node):
		return plan.Host
	}
	return plan.NS(seg.Bridge.Node + "@" + m)
}

// SegmentPort is the name of a segment's VXLAN port: vxlanVNI (a bridge port made for
// a link is NODE-IFACE or pHASH, so never this).
func SegmentPort(seg Segment) string { return "vxlan" + strconv.Itoa(seg.VNI) }

// segmentOn adds to s, machine me's part, the bridge of seg: made on every machine of
// the segment, with the ports of that machine's nodes as veths (as on one machine), and
// one VXLAN port with an all-zeros FDB entry to every other machine of the segment, so
// that broadcast and unknown frames reach all of them (head-end replication) and each
// learns where the others' MACs are. A VXLAN device does not forward what it receives
// back over VXLAN, so the mesh has no loop.
func (t *Topology) segmentOn(s *plan.State, all plan.State, seg Segment, me *Machine, vxlanMTU int) {
	home := plan.NS(seg.Bridge.Node)
	bridge := plan.LinkKey{NS: home, Name: seg.Bridge.Interface}
	ns := t.SegmentNS(seg, me.Name)
	if ns != home {
		if ns != plan.Host {
			s.Namespaces[ns] = true
			s.Links[plan.LinkKey{NS: ns, Name: "lo"}] = plan.Link{Kind: plan.Loopback, Up: true}
			s.Files[plan.FileKey{NS: ns}] = ""
			s.Files[plan.FileKey{NS: ns, Name: "hosts"}] = plan.HardLink(plan.SharedHosts(t.Name))
		}
		s.Links[plan.LinkKey{NS: ns, Name: bridge.Name}] = all.Links[bridge]
	}
	mtu := cmp.Or(all.Links[bridge].MTU, vxlanMTU)
	for _, l := range t.Links {
		br, e, ok := t.bridgeLink(l)
		if !ok || br.String() != seg.Bridge.String() {
			continue
		}
		port := plan.LinkKey{NS: home, Name: PortName(e)}
		node := plan.LinkKey{NS: plan.NS(e.Node), Name: e.Interface}
		for _, k := range []plan.LinkKey{port, node} {
			if v, ok := s.Links[k]; ok && v.MTU == 0 {
				v.MTU = mtu // a frame that fits the segment's VXLAN port, on every port of it
				s.Links[k] = v
			}
		}
		on := t.Node(e.Node).On
		if on == t.Node(seg.Bridge.Node).On {
			continue // a port of the bridge's own machine: as on one machine
		}
		delete(s.Links, port)
		delete(s.Qdiscs, port)
		if on != me.Name {
			continue
		}
		here := plan.LinkKey{NS: ns, Name: port.Name}
		v := all.Links[port]
		v.MTU = cmp.Or(v.MTU, mtu)
		s.Links[here] = v
		if q, ok := all.Qdiscs[port]; ok {
			s.Qdiscs[here] = q
		}
		end := s.Links[node]
		end.Peer = here
		s.Links[node] = end
	}
	var flood []netip.Addr
	for _, m := range seg.Machines {
		if m != me.Name {
			flood = append(flood, t.Machine(m).Underlay)
		}
	}
	slices.SortFunc(flood, netip.Addr.Compare)
	s.Links[plan.LinkKey{NS: ns, Name: SegmentPort(seg)}] = plan.Link{Kind: plan.Vxlan, Alias: plan.Alias(t.Name), Up: true,
		Master: bridge.Name, MTU: mtu, VNI: seg.VNI, Port: seg.Port, Local: me.Underlay, Flood: flood}
}
