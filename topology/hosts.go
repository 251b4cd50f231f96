package topology

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"

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
// their VNIs are distinct, and neither end is a bridge (a segment across machines is
// not built yet).
func (p *parser) checkMachines(t *Topology) {
	if len(t.Machines) == 0 {
		for _, n := range t.Nodes {
			if n.On != "" {
				p.errorAt(n.OnPos, "add a hosts: section naming the machines, or drop on:", "node %s is on %q, but the lab has no hosts:", n.Name, n.On)
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
	for _, n := range t.Nodes {
		switch {
		case n.On != "" && byName[n.On] == nil:
			p.errorAt(n.OnPos, "name one of the machines of hosts:", "node %s is on %q, which is not a machine of hosts:", n.Name, n.On)
		case n.On == "" && t.Placement == "spread":
			n.On = t.Machines[i%len(t.Machines)].Name
			i++
		case n.On == "":
			n.On = t.Machines[0].Name
		}
	}
	vnis := map[int]Link{}
	for i := range t.Links {
		l := &t.Links[i]
		a, b := t.Node(l.A.Node), t.Node(l.B.Node)
		if a == nil || b == nil || a.On == b.On {
			continue
		}
		if ia, ib := a.Interface(l.A.Interface), b.Interface(l.B.Interface); ia != nil && ib != nil && ia.Kind == Bridge && ib.Kind == Bridge {
			p.errorAt(l.Pos, "join the two bridges' segments through a node's interface, or put them on one machine",
				"the link between bridges %s and %s joins two machines: a bridge port over VXLAN is made for a node's interface", l.A, l.B)
		}
		if l.VNI == 0 {
			l.VNI = derivedVNI(t.Name, *l)
		}
		if other, dup := vnis[l.VNI]; dup {
			p.errorAt(l.Pos, fmt.Sprintf("give one of them another `vni:`; the other link is at line %d", other.Pos.Line),
				"two links between machines have VNI %d", l.VNI)
		}
		vnis[l.VNI] = *l
		l.Port = cmp.Or(l.Port, DefaultVXLANPort)
	}
}

// derivedVNI is the VXLAN id of a link between machines that gives none: from a hash
// of the lab and the link's endpoints, in 1 to 2^24-1.
func derivedVNI(lab string, l Link) int {
	h := fnv.New32a()
	ends := []string{l.A.String(), l.B.String()}
	if ends[1] < ends[0] {
		ends[0], ends[1] = ends[1], ends[0]
	}
	h.Write([]byte(lab + "\x00" + ends[0] + "\x00" + ends[1]))
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
// interface's name (the tunnel's socket stays in the root namespace). A link from a
// bridge to a node of another machine makes the bridge's port for it a VXLAN end: the
// bridge's segment spans the machines, each remote node through its own tunnel to the
// bridge's machine. For a lab on one machine (no hosts:), machine must be "" and
// DesiredOn is Desired.
func (t *Topology) DesiredOn(machine string) (plan.State, error) {
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
		if a.On == b.On {
			continue
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
			s.Links[k] = v
		}
	}
	return s, nil
}
