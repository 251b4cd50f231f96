package topology

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/netlab-go/netlab/plan"
	"go.yaml.in/yaml/v4"
)

// Load reads and checks the topology file at path. A file that is not a valid topology
// gives Diagnostics listing every problem; a file that cannot be read gives the I/O
// error.
func Load(path string) (*Topology, error) { return LoadWith(path, Options{}) }

// Options changes what Load and Parse accept.
type Options struct {
	// ExternalTargets lets expect: name addresses outside the lab (`netlab check
	// --external`). Without it such a target is an error, so that a check never sends a
	// packet beyond the lab by accident.
	ExternalTargets bool
	// MaxInput bounds the size of the file, checked before it is parsed; 0 means
	// DefaultMaxInput.
	MaxInput int64
}

// DefaultMaxInput is the largest topology file read unless Options.MaxInput says
// otherwise: a lab of 20,000 namespaces takes about 2 MiB.
const DefaultMaxInput = 16 << 20

// MaxDiagnostics is how many diagnostics a file gets at most; the rest are counted.
const MaxDiagnostics = 100

// LoadWith is Load with options.
func LoadWith(path string, opts Options) (*Topology, error) {
	data, err := ReadFile(path, opts.MaxInput)
	if err != nil {
		return nil, err
	}
	return ParseWith(path, data, opts)
}

// ReadFile reads a topology file ("-": standard input), refusing one larger than max
// bytes (0: the default) before reading it.
func ReadFile(path string, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxInput
	}
	f := os.Stdin
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("read topology: %w", err)
		}
		defer f.Close()
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("read topology: %s is larger than %d bytes, the most netlab reads; raise the limit with --max-input", path, max)
	}
	return data, nil
}

// Parse checks the topology in data; file names it in diagnostics.
func Parse(file string, data []byte) (*Topology, error) { return ParseWith(file, data, Options{}) }

// ParseWith is Parse with options.
func ParseWith(file string, data []byte, opts Options) (*Topology, error) {
	p := &parser{file: file, opts: opts}
	t := p.parse(data)
	if len(p.diags) > 0 {
		p.diags.sort()
		if p.more > 0 {
			last := p.diags[len(p.diags)-1]
			p.diags = append(p.diags, Diagnostic{File: p.file, Line: last.Line, Column: last.Column,
				Msg: fmt.Sprintf("and %d more problems", p.more), Hint: "fix the ones above and validate again"})
		}
		return nil, p.diags
	}
	return t, nil
}

type parser struct {
	file  string
	opts  Options
	diags Diagnostics
	more  int // diagnostics past MaxDiagnostics, counted only
}

func (p *parser) errorAt(pos Pos, hint, format string, args ...any) {
	if len(p.diags) >= MaxDiagnostics {
		p.more++ // a file of a million broken lines must not take a gigabyte of messages
		return
	}
	p.diags = append(p.diags, Diagnostic{File: p.file, Line: pos.Line, Column: pos.Column,
		Msg: fmt.Sprintf(format, args...), Hint: hint})
}

func (p *parser) errorf(n *yaml.Node, hint, format string, args ...any) {
	p.errorAt(posOf(n), hint, format, args...)
}

// syntaxError reports a YAML syntax error where it is: at the construct left open (a
// flow mapping or sequence whose `}` or `]` is missing) when the parser names one, else
// where the parser stopped.
func (p *parser) syntaxError(err error) {
	const hint = "fix the YAML syntax (indent with spaces, `key: value`, lists with `- `)"
	var le *yaml.LoadError
	if !errors.As(err, &le) || le.Mark.Line == 0 {
		p.errorAt(Pos{1, 1}, hint, "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	pos, msg := Pos{le.Mark.Line, max(le.Mark.Column, 1)}, le.Message
	if c := le.ContextMark; c.Line > 0 && (c.Line != le.Mark.Line || c.Column != le.Mark.Column) {
		pos = Pos{c.Line, max(c.Column, 1)}
		msg += fmt.Sprintf(" (%s that starts here; the parser stopped at line %d, column %d)", le.ContextMsg, le.Mark.Line, le.Mark.Column)
	}
	p.errorAt(pos, hint, "not valid YAML: %s", msg)
}

func (p *parser) parse(data []byte) *Topology {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			p.errorAt(Pos{1, 1}, "write a topology: name:, nodes: and links: (see examples/)", "the file is empty")
			return nil
		}
		p.syntaxError(err)
		return nil
	}
	if len(doc.Content) == 0 {
		p.errorAt(Pos{1, 1}, "write a topology: name:, nodes: and links: (see examples/)", "the file is empty")
		return nil
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		p.errorAt(posOf(&second), "keep one topology in the file: remove the second document (the line `---` starts it)", "the file holds a second YAML document")
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			p.errorAt(Pos{1, 1}, "write a topology: name:, nodes: and links: (see examples/)", "the file is empty")
			return nil
		}
		p.errorf(root, "a topology is a mapping with the fields name, nodes and links", "the file is not a topology")
		return nil
	}
	t := &Topology{File: p.file}
	var nodesNode, nameNode *yaml.Node
	p.fields(root, "the topology", keys(topologyFields), func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			nameNode = v
			t.Name = p.labName(v)
		case "nodes":
			nodesNode = v
			t.Nodes = p.nodes(v)
		case "links":
			t.Links = p.links(v)
		case "expect":
			t.Expect = p.expect(v)
		case "hosts":
			t.Machines = p.machines(v)
		case "placement":
			t.Placement, _ = p.scalar(v, "placement", "`placement: spread`")
			if t.Placement != "first" && t.Placement != "spread" {
				p.errorf(v, "write `placement: first` (the default) or `placement: spread`", "unknown placement %q", t.Placement)
			}
		}
	})
	if nameNode == nil {
		p.errorf(root, "add a line `name: mylab`: the lab's name marks everything it creates", "the topology has no name")
	}
	if nodesNode == nil {
		p.errorf(root, "add `nodes:` with at least one node", "the topology has no nodes")
	}
	t.index()
	p.check(t)
	t.index()
	return t
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// fields walks a mapping with a fixed set of field names, reporting unknown and repeated
// ones.
func (p *parser) fields(n *yaml.Node, what string, known []string, f func(key string, k, v *yaml.Node)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "write it as `field: value` lines; its fields are "+strings.Join(known, ", "), "%s must be a mapping", what)
		return
	}
	p.entries(n, what, func(key string, k, v *yaml.Node) {
		if !slices.Contains(known, key) {
			hint := "the fields of " + what + " are " + strings.Join(known, ", ")
			if s := suggest(key, known); s != "" {
				hint = fmt.Sprintf("did you mean %q? ", s) + hint
			}
			p.errorf(k, hint, "unknown field %q in %s", key, what)
			return
		}
		f(key, k, v)
	})
}

// entries walks a mapping whose keys are names (nodes, interfaces), reporting repeated
// ones and non-scalar keys.
func (p *parser) entries(n *yaml.Node, what string, f func(key string, k, v *yaml.Node)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "write one `name: ...` line per entry", "%s must be a mapping", what)
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "write a plain name as the key", "a key in %s is not a name", what)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.errorf(k, fmt.Sprintf("keep one; the first is at line %d", first.Line), "%q appears twice in %s", k.Value, what)
			continue
		}
		seen[k.Value] = k
		f(k.Value, k, v)
	}
}

func (p *parser) list(n *yaml.Node, what, example string, f func(item *yaml.Node)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "write a list, like "+example, "%s must be a list", what)
		return
	}
	for _, item := range n.Content {
		f(deref(item))
	}
}

func (p *parser) scalar(n *yaml.Node, what, example string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.errorf(n, "write "+example, "%s must be a single value", what)
		return "", false
	}
	return n.Value, true
}

func (p *parser) labName(n *yaml.Node) string {
	s, ok := p.scalar(n, "name", "a name like `name: mylab`")
	if !ok {
		return ""
	}
	if problem := plan.LabNameProblem(s); problem != "" {
		p.errorf(n, "use at most 64 letters, digits, '-', '_' and '.', starting with a letter or digit", "lab name %q %s", s, problem)
	}
	return s
}

func (p *parser) nodes(n *yaml.Node) []*Node {
	var nodes []*Node
	p.entries(n, "nodes", func(name string, k, v *yaml.Node) {
		nodes = append(nodes, p.node(name, k, v))
	})
	if len(nodes) == 0 && !isNull(deref(n)) && deref(n).Kind == yaml.MappingNode {
		p.errorf(n, "add at least one node", "nodes is empty")
	}
	slices.SortFunc(nodes, func(a, b *Node) int {
		switch {
		case a.IsHost() != b.IsHost():
			if a.IsHost() {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return nodes
}

// node reads the node name (its key k, its value v).
func (p *parser) node(name string, k, v *yaml.Node) *Node {
	p.nodeName(name, k)
	node := &Node{Name: name, Pos: posOf(k)}
	p.fields(v, "node "+name, keys(nodeFields), func(key string, fk, fv *yaml.Node) {
		if (key == "dns" || key == "search" || key == "netns") && IsHostNode(name) {
			hint := "give dns: to the namespaces; the host's own /etc/resolv.conf is not the lab's"
			if key == "netns" {
				hint = "host is the namespace netlab runs in; make the existing namespace a node of its own"
			}
			p.errorf(fk, hint, "node %s cannot have %s", name, key)
			return
		}
		p.nodeField(node, key, fv)
	})
	p.checkInterfaceNames(node)
	return node
}

// nodeField reads the field key of node.
func (p *parser) nodeField(node *Node, key string, fv *yaml.Node) {
	switch key {
	case "forwarding":
		if fv.Kind == yaml.ScalarNode && fv.Tag == "!!bool" {
			b, _ := strconv.ParseBool(fv.Value)
			node.Forwarding = &b
		} else {
			p.errorf(fv, "write `forwarding: true` or `forwarding: false`", "forwarding must be true or false, not %q", fv.Value)
		}
	case "nat":
		node.NAT = p.nat(fv)
	case "interfaces":
		node.Interfaces = append(node.Interfaces, p.interfaces(fv, node.Name, VethEnd)...)
	case "bridges":
		node.Interfaces = append(node.Interfaces, p.interfaces(fv, node.Name, Bridge)...)
	case "routes":
		node.Routes = p.routes(fv)
	case "netns":
		node.Netns = p.netnsRef(fv, node.Name)
	case "sysctls":
		node.Sysctls, node.SysctlPos = p.sysctls(fv, node.Name)
	case "dns":
		node.DNS = p.nameServers(fv)
	case "search":
		node.Search = p.searchDomains(fv)
	case "on":
		node.On, _ = p.scalar(fv, "on", "the machine the node is on, a name of hosts:")
		node.OnPos = posOf(fv)
	}
}

func (p *parser) nameServers(fv *yaml.Node) []netip.Addr {
	var dns []netip.Addr
	p.list(fv, "dns", "`dns: [192.168.10.101]`", func(item *yaml.Node) {
		s, ok := p.scalar(item, "a name server", "an address like 192.168.10.101")
		if !ok {
			return
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			p.errorf(item, "write a name server's address, like 192.168.10.101", "bad name server %q: %v", s, unwrapNetip(err))
			return
		}
		dns = append(dns, a)
	})
	return dns
}

func (p *parser) searchDomains(fv *yaml.Node) []string {
	var search []string
	p.list(fv, "search", "`search: [lab.example]`", func(item *yaml.Node) {
		s, ok := p.scalar(item, "a search domain", "a domain like lab.example")
		if ok && (s == "" || strings.ContainsAny(s, " \t\n#;")) {
			p.errorf(item, "write a domain name like lab.example", "bad search domain %q", s)
			return
		}
		search = append(search, s)
	})
	return search
}

// checkInterfaceNames sorts the node's interfaces and bridges by name and refuses a
// name used by both.
func (p *parser) checkInterfaceNames(node *Node) {
	slices.SortFunc(node.Interfaces, func(a, b *Interface) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(node.Interfaces); i++ {
		if a, b := node.Interfaces[i-1], node.Interfaces[i]; a.Name == b.Name {
			first, dup := a, b
			if dup.Pos.Line < first.Pos.Line {
				first, dup = dup, first
			}
			p.errorAt(dup.Pos, fmt.Sprintf("an interface and a bridge of one node need different names; the other is at line %d", first.Pos.Line),
				"%q is both an interface and a bridge of node %s", b.Name, node.Name)
		}
	}
}

func (p *parser) nodeName(name string, k *yaml.Node) {
	if machine, ok := strings.CutPrefix(name, HostNode+"@"); ok {
		if problem, hint := plan.NodeNameProblem(machine); problem != "" {
			p.errorf(k, hint, "machine name %q of node %s %s", machine, name, problem)
		}
	} else if name != HostNode && strings.EqualFold(name, HostNode) {
		p.errorf(k, "the one reserved node is `host` (lowercase), the namespace netlab runs in; name this one otherwise",
			"node %q looks like the reserved node host", name)
	} else if problem, hint := plan.NodeNameProblem(name); problem != "" {
		p.errorf(k, hint, "node name %q %s", name, problem)
	}
}

func (p *parser) interfaces(n *yaml.Node, node string, kind InterfaceKind) []*Interface {
	what, label, fields := "interfaces of node "+node, "interface ", keys(interfaceFields(false))
	if kind == Bridge {
		what, label, fields = "bridges of node "+node, "bridge ", keys(interfaceFields(true))
	}
	var ifaces []*Interface
	p.entries(n, what, func(name string, k, v *yaml.Node) {
		if problem := plan.IfaceNameProblem(name); problem != "" {
			p.errorf(k, "use a short name like eth0 or veth-a (at most 15 bytes, no '/', ':' or spaces)", "interface name %q %s", name, problem)
		}
		iface := &Interface{Name: name, Pos: posOf(k), Kind: kind}
		p.fields(v, label+node+":"+name, fields, func(key string, fk, fv *yaml.Node) {
			switch key {
			case "addresses":
				p.list(fv, "addresses", "`addresses: [10.0.0.1/24]`", func(item *yaml.Node) {
					s, ok := p.scalar(item, "an address", "an address with its prefix length, like 10.0.0.1/24")
					if !ok {
						return
					}
					pfx, ok := p.prefix(item, s, "address", "10.0.0.1/24")
					if ok {
						p.usableAddr(item, pfx.Addr(), "address", pfx.String()) // kept: no follow-on errors
						iface.Addresses = append(iface.Addresses, pfx)
						iface.AddressPos = append(iface.AddressPos, posOf(item))
					}
				})
			case "macvlan":
				iface.Kind = MacvlanKind
				iface.Macvlan = &Macvlan{Mode: "bridge"}
				p.fields(fv, "macvlan "+node+":"+name, keys(macvlanFields), func(key string, mk, mv *yaml.Node) {
					s, ok := p.scalar(mv, key, map[string]string{"parent": "the host interface it sits on, like eth0", "mode": "bridge"}[key])
					if !ok {
						return
					}
					if key == "mode" {
						if !slices.Contains(MacvlanModes, s) {
							p.errorf(mv, "use one of "+strings.Join(MacvlanModes, ", "), "unknown macvlan mode %q", s)
						}
						iface.Macvlan.Mode = s
						return
					}
					if problem := plan.IfaceNameProblem(s); problem != "" {
						p.errorf(mv, "name an interface of the host, like eth0", "macvlan parent %q %s", s, problem)
					}
					iface.Macvlan.Parent = s
				})
				if iface.Macvlan.Parent == "" && (deref(fv).Kind == yaml.MappingNode || isNull(deref(fv))) {
					p.errorf(fv, "add `parent: IFACE`, the host interface the macvlan sits on", "macvlan %s:%s has no parent", node, name)
				}
			default: // a link attribute (plan.LinkAttrs)
				at, _ := plan.LinkSetting(key)
				value := ""
				if fv.Kind == yaml.ScalarNode {
					value = fv.Value
				}
				if hint := at.Parse(value, &iface.Settings); hint != "" {
					p.errorf(fv, hint, "bad %s %q", key, fv.Value)
				}
			}
		})
		ifaces = append(ifaces, iface)
	})
	slices.SortFunc(ifaces, func(a, b *Interface) int { return strings.Compare(a.Name, b.Name) })
	return ifaces
}

// prefix parses an address or network with its prefix length, quoting the input in the
// error as netip does.
func (p *parser) prefix(n *yaml.Node, s, what, example string) (netip.Prefix, bool) {
	pfx, err := netip.ParsePrefix(s)
	if err == nil {
		return pfx, true
	}
	if addr, zone, found := strings.Cut(s, "%"); found {
		_, bits, _ := strings.Cut(zone, "/")
		p.errorf(n, fmt.Sprintf("write %s/%s without the zone: the interface it is declared on is its zone", addr, cmp.Or(bits, "64")),
			"%s %q has an IPv6 zone", what, s)
		return netip.Prefix{}, false
	}
	if a, aerr := netip.ParseAddr(s); aerr == nil {
		bits := 24
		if a.Is6() {
			bits = 64
		}
		p.errorf(n, fmt.Sprintf("write it with its prefix length, like %s/%d", s, bits), "%s %q has no prefix length", what, s)
		return netip.Prefix{}, false
	}
	p.errorf(n, "write an address and prefix length, like "+example, "bad %s %q: %v", what, s, unwrapNetip(err))
	return netip.Prefix{}, false
}

// maxMetric is the largest route metric: the kernel's is an unsigned 32-bit number.
const maxMetric = 1<<32 - 1

// usableAddr reports whether a is an address the kernel puts on an interface or uses as
// a gateway, and reports why not: an IPv4-mapped IPv6 address, or an unspecified,
// loopback or multicast one.
func (p *parser) usableAddr(n *yaml.Node, a netip.Addr, what, s string) bool {
	var problem, hint string
	switch {
	case a.Is4In6():
		problem, hint = "is an IPv4-mapped IPv6 address", "write the IPv4 address itself, like "+a.Unmap().String()
	case a.IsUnspecified():
		problem, hint = "is the unspecified address", "write an address of the interface's own subnet"
	case a.IsLoopback():
		problem, hint = "is a loopback address", "every namespace has lo already; write another address"
	case a.IsMulticast():
		problem, hint = "is a multicast address", "write a unicast address"
	default:
		return true
	}
	p.errorf(n, hint, "%s %q %s, which the kernel does not take here", what, s, problem)
	return false
}

// unwrapNetip drops netip's own quoting of the input, which the caller already gives.
func unwrapNetip(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "): "); i >= 0 {
		return s[i+3:]
	}
	if i := strings.Index(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

func (p *parser) routes(n *yaml.Node) []Route {
	var routes []Route
	p.list(n, "routes", "`routes: [{to: default, via: 10.0.0.1}]`", func(item *yaml.Node) {
		r := Route{Pos: posOf(item)}
		var toNode, viaNode, metricNode *yaml.Node
		p.fields(item, "a route", keys(routeFields), func(key string, k, v *yaml.Node) {
			switch key {
			case "to":
				toNode = v
			case "via":
				viaNode = v
			case "dev":
				r.Dev, _ = p.scalar(v, "dev", "an interface of the node, like eth0")
				r.DevPos = posOf(v)
			case "metric":
				metricNode = v
			}
		})
		if item.Kind != yaml.MappingNode {
			return
		}
		if viaNode == nil && r.Dev == "" {
			p.errorf(item, "add `via: GATEWAY`, an address in a subnet of one of the node's interfaces, or `dev: IFACE`", "route has no via and no dev")
			return
		}
		if toNode == nil {
			p.errorf(item, "add `to: default` or `to: CIDR`", "route has no destination")
			return
		}
		if metricNode != nil {
			m, err := strconv.Atoi(metricNode.Value)
			if metricNode.Kind != yaml.ScalarNode || err != nil || m < 0 || m > maxMetric {
				p.errorf(metricNode, "write a number from 0 to 4294967295, like `metric: 100`", "bad metric %q", metricNode.Value)
				return
			}
			r.Metric = m
		}
		if viaNode != nil {
			vs, ok := p.scalar(viaNode, "via", "a gateway address like 10.0.0.1")
			if !ok {
				return
			}
			via, err := netip.ParseAddr(vs)
			if err != nil {
				p.errorf(viaNode, "write the gateway's address without prefix length, like 10.0.0.1", "bad gateway %q: %v", vs, unwrapNetip(err))
				return
			}
			if via.Zone() != "" {
				p.errorf(viaNode, fmt.Sprintf("write `via: %s` and `dev: %s`: the route's device is the zone", via.WithZone(""), via.Zone()),
					"gateway %q has an IPv6 zone", vs)
				return
			}
			if !p.usableAddr(viaNode, via, "gateway", vs) {
				return
			}
			r.Via = via
		}
		ts, ok := p.scalar(toNode, "to", "`default` or a CIDR like 10.1.0.0/16")
		if !ok {
			return
		}
		if ts == "default" {
			if !r.Via.IsValid() {
				p.errorf(toNode, "write 0.0.0.0/0 or ::/0 for a default route through a device", "`to: default` without via has no IP family")
				return
			}
			r.To = plan.DefaultRoute(r.Via)
		} else {
			to, ok := p.prefix(toNode, ts, "destination", "10.1.0.0/16, or `default`")
			if !ok {
				return
			}
			if to != to.Masked() {
				p.errorf(toNode, fmt.Sprintf("write %s", to.Masked()), "route destination %q has host bits set", ts)
				return
			}
			if r.Via.IsValid() && to.Addr().Is4() != r.Via.Is4() {
				p.errorf(viaNode, "use a gateway of the destination's family", "gateway %s and destination %s are of different IP families", r.Via, to)
				return
			}
			r.To = to
		}
		if metricNode == nil && r.To.Addr().Is6() {
			r.Metric = plan.DefaultMetric(r.To) // the kernel's, for an IPv6 route added without one
		}
		routes = append(routes, r)
	})
	return routes
}

func (p *parser) nat(n *yaml.Node) []NAT {
	var rules []NAT
	p.list(n, "nat", "`nat: [{masquerade: 192.168.20.0/24}]`", func(item *yaml.Node) {
		r := NAT{Pos: posOf(item)}
		seen := false
		p.fields(item, "a nat rule", keys(natFields), func(key string, k, v *yaml.Node) {
			s, ok := p.scalar(v, key, map[string]string{"masquerade": "a source network like 192.168.20.0/24", "out": "an interface name like eth0"}[key])
			if !ok {
				return
			}
			switch key {
			case "masquerade":
				seen = true
				if pfx, ok := p.prefix(v, s, "source network", "192.168.20.0/24"); ok {
					if pfx != pfx.Masked() {
						p.errorf(v, fmt.Sprintf("write %s", pfx.Masked()), "masquerade source %q has host bits set", s)
						return
					}
					r.Masquerade = pfx
				}
			case "out":
				if problem := plan.IfaceNameProblem(s); problem != "" && s != "lo" {
					p.errorf(v, "name the outgoing interface, like eth0", "interface name %q %s", s, problem)
				}
				r.Out = s
			}
		})
		if item.Kind == yaml.MappingNode && !seen {
			p.errorf(item, "add `masquerade: SOURCE-CIDR`", "nat rule has no masquerade source")
		}
		if r.Masquerade.IsValid() {
			rules = append(rules, r)
		}
	})
	return rules
}

func (p *parser) links(n *yaml.Node) []Link {
	var links []Link
	p.list(n, "links", "`links: [[host:m1, testns1:s1]]`", func(item *yaml.Node) {
		l := Link{Pos: posOf(item)}
		endpoints, impair := item, (*yaml.Node)(nil)
		if item.Kind == yaml.MappingNode { // the long form: {endpoints: [A, B], impair: {...}}
			endpoints = nil
			p.fields(item, "a link", keys(linkFields), func(key string, k, v *yaml.Node) {
				switch key {
				case "endpoints":
					endpoints = v
				case "impair":
					impair = v
				case "vni":
					l.VNI = p.number(v, "vni", 1, 1<<24-1, "`vni: 4201`")
				case "port":
					l.Port = p.number(v, "port", 1, 65535, "`port: 4789`")
				}
			})
			if endpoints == nil {
				p.errorf(item, "add `endpoints: [NODE:IF, NODE:IF]`", "link has no endpoints")
				return
			}
		}
		ends, ok := p.endpoints(endpoints)
		if !ok {
			return
		}
		l.A, l.B = ends[0], ends[1]
		if impair != nil {
			l.ImpairA, l.ImpairB = p.impairments(impair, l)
		}
		links = append(links, l)
	})
	return links
}

// endpoints reads a link's pair of endpoints.
func (p *parser) endpoints(n *yaml.Node) ([2]Endpoint, bool) {
	var ends [2]Endpoint
	n = deref(n)
	if n.Kind != yaml.SequenceNode || len(n.Content) != 2 {
		p.errorf(n, "write a link as a pair of endpoints, like [host:m1, testns1:s1]", "a link must list exactly two endpoints")
		return ends, false
	}
	for i, e := range n.Content {
		e = deref(e)
		s, ok := p.scalar(e, "a link endpoint", "NODE:INTERFACE, like testns1:s1")
		if !ok {
			return ends, false
		}
		node, iface, found := strings.Cut(s, ":")
		if !found || node == "" || iface == "" || strings.Contains(iface, ":") {
			p.errorf(e, "write NODE:INTERFACE, like testns1:s1", "bad link endpoint %q", s)
			return ends, false
		}
		ends[i] = Endpoint{Pos: posOf(e), Node: node, Interface: iface}
	}
	return ends, true
}

func (p *parser) expect(n *yaml.Node) []Expectation {
	var exps []Expectation
	p.list(n, "expect", "`expect: [{from: testns1, reach: [testns2]}]`", func(item *yaml.Node) {
		e := Expectation{Pos: posOf(item)}
		p.fields(item, "an expectation", keys(expectationFields), func(key string, k, v *yaml.Node) {
			switch key {
			case "from":
				e.From, _ = p.scalar(v, "from", "the node that pings, like `from: testns1`")
			case "reach", "unreachable":
				var targets []Target
				p.list(v, key, "`"+key+": [testns2, 192.168.10.102]`", func(t *yaml.Node) {
					s, ok := p.scalar(t, "a target", "a lab node or address, like testns2 or 192.168.10.102")
					if !ok {
						return
					}
					tg := Target{Pos: posOf(t)}
					if a, err := netip.ParseAddr(s); err == nil {
						tg.Addr = a
					} else {
						tg.Node = s
					}
					targets = append(targets, tg)
				})
				if key == "reach" {
					e.Reach = targets
				} else {
					e.Unreachable = targets
				}
			}
		})
		if item.Kind != yaml.MappingNode {
			return
		}
		if e.From == "" {
			p.errorf(item, "add `from: NODE`, the node the pings start from", "expectation has no from")
		}
		if len(e.Reach)+len(e.Unreachable) == 0 {
			p.errorf(item, "add `reach: [...]` and/or `unreachable: [...]`", "expectation has no targets")
		}
		exps = append(exps, e)
	})
	return exps
}

func (p *parser) netnsRef(n *yaml.Node, node string) *NetnsRef {
	r := &NetnsRef{Pos: posOf(n)}
	set := 0
	p.fields(n, "netns of node "+node, keys(netnsFields), func(key string, k, v *yaml.Node) {
		s, ok := p.scalar(v, key, map[string]string{"pid": "a process ID like 1234", "path": "a path like /proc/1234/ns/net", "name": "a name under /run/netns"}[key])
		if !ok {
			return
		}
		set++
		switch key {
		case "pid":
			pid, err := strconv.Atoi(s)
			if err != nil || pid <= 0 {
				p.errorf(v, "write the process ID of a process in the namespace, like `pid: 1234`", "bad pid %q", s)
				return
			}
			r.Pid = pid
		case "path":
			if !strings.HasPrefix(s, "/") {
				p.errorf(v, "write an absolute path, like /proc/1234/ns/net", "netns path %q is not absolute", s)
				return
			}
			r.Path = s
		case "name":
			if problem, hint := plan.NodeNameProblem(s); problem != "" {
				p.errorf(v, hint, "namespace name %q %s", s, problem)
				return
			}
			r.Name = s
		}
	})
	if n.Kind == yaml.MappingNode && set != 1 {
		p.errorf(n, "write one of `{pid: 1234}`, `{path: /proc/1234/ns/net}` or `{name: existing}`", "netns of node %s must name the namespace one way", node)
	}
	return r
}

// maxSysctlValue bounds a sysctl's value: the kernel reads at most a page.
const maxSysctlValue = 1024

func (p *parser) sysctls(n *yaml.Node, node string) (map[string]string, map[string]Pos) {
	m, pos := map[string]string{}, map[string]Pos{}
	p.entries(n, "sysctls of node "+node, func(key string, k, v *yaml.Node) {
		if !plan.IsSysctlName(key) {
			p.errorf(k, "only net.* sysctls belong to a network namespace: write a dotted name like net.ipv6.conf.all.forwarding",
				"sysctl %q is not a net.* sysctl name", key)
			return
		}
		if key == "net.ipv4.ip_forward" {
			p.errorf(k, "use `forwarding: true|false` for it", "net.ipv4.ip_forward is set with forwarding")
			return
		}
		s, ok := p.scalar(v, "the value of "+key, "a value like 1")
		if !ok {
			return
		}
		if strings.TrimSpace(s) == "" {
			p.errorf(v, "write the value to set, like 1", "empty value for sysctl %s", key)
			return
		}
		if strings.IndexFunc(s, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) >= 0 || len(s) > maxSysctlValue {
			p.errorf(v, "write the value on one line, like `1` or `4096 87380 6291456`", "the value of sysctl %s is not one short line", key)
			return
		}
		m[key] = strings.Join(strings.Fields(s), " ")
		pos[key] = posOf(k)
	})
	return m, pos
}
