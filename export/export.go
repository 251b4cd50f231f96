// Package export writes a topology that describes namespaces built by hand: what
// `netlab export` prints. It is pure: it reads what reconcile's Survey found, and says
// (never guesses) what a topology cannot express.
package export

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/topology"
	"go.yaml.in/yaml/v4"
)

// Input is what export reads: the namespaces to export and what the survey of them
// found (see reconcile.Survey).
type Input struct {
	Lab         string
	Namespaces  []plan.NS
	State       plan.State
	Sysctls     map[plan.SysctlKey]string
	NAT         map[plan.NATRule]bool
	Files       map[plan.FileKey]string
	Unexpressed []string
}

// The defaults of what export leaves out when the kernel has it so.
const (
	defaultMTU        = 1500
	defaultTxQueueLen = 1000 // a veth's
)

type yamlTopology struct {
	Name  string              `yaml:"name"`
	Nodes map[string]yamlNode `yaml:"nodes"`
	Links []any               `yaml:"links,omitempty"`
}

type yamlNode struct {
	Forwarding *bool                `yaml:"forwarding,omitempty"`
	Sysctls    map[string]string    `yaml:"sysctls,omitempty"`
	NAT        []yamlNAT            `yaml:"nat,omitempty"`
	Interfaces map[string]yamlIface `yaml:"interfaces,omitempty"`
	Bridges    map[string]yamlIface `yaml:"bridges,omitempty"`
	Routes     []yamlRoute          `yaml:"routes,omitempty"`
	DNS        []string             `yaml:"dns,omitempty"`
	Search     []string             `yaml:"search,omitempty"`
}

type yamlIface struct {
	Addresses  []string     `yaml:"addresses,omitempty,flow"`
	MTU        int          `yaml:"mtu,omitempty"`
	TxQueueLen int          `yaml:"txqueuelen,omitempty"`
	Macvlan    *yamlMacvlan `yaml:"macvlan,omitempty"`
}

type yamlMacvlan struct {
	Parent string `yaml:"parent"`
	Mode   string `yaml:"mode"`
}

type yamlRoute struct {
	To     string `yaml:"to"`
	Via    string `yaml:"via,omitempty"`
	Dev    string `yaml:"dev,omitempty"`
	Metric int    `yaml:"metric,omitempty"`
}

type yamlNAT struct {
	Masquerade string `yaml:"masquerade"`
	Out        string `yaml:"out,omitempty"`
}

type yamlLink struct {
	Endpoints []string `yaml:"endpoints,flow"`
	Impair    any      `yaml:"impair,omitempty"`
}

type yamlImpair struct {
	Rate   string `yaml:"rate,omitempty"`
	Burst  uint32 `yaml:"burst,omitempty"`
	Delay  string `yaml:"delay,omitempty"`
	Jitter string `yaml:"jitter,omitempty"`
	Loss   string `yaml:"loss,omitempty"`
	Limit  uint32 `yaml:"limit,omitempty"`
}

// exporter builds the topology; unsaid collects what it cannot express.
type exporter struct {
	in     Input
	top    yamlTopology
	unsaid []string
	nss    map[plan.NS]bool
	// declared are the interfaces the topology declares (not bridge ports).
	declared map[plan.LinkKey]bool
}

// Build returns the topology of in, as YAML with a heading comment, and the list of
// what it leaves out because a topology cannot say it.
func Build(in Input) ([]byte, []string, error) {
	x := &exporter{in: in, top: yamlTopology{Name: in.Lab, Nodes: map[string]yamlNode{}}, nss: map[plan.NS]bool{},
		declared: map[plan.LinkKey]bool{}, unsaid: slices.Clone(in.Unexpressed)}
	for _, ns := range in.Namespaces {
		x.nss[ns] = true
		x.top.Nodes[string(ns)] = yamlNode{}
	}
	x.interfaces()
	x.links()
	for _, ns := range append([]plan.NS{plan.Host}, in.Namespaces...) {
		x.addresses(ns)
		x.routes(ns)
		x.sysctls(ns)
		x.nat(ns)
		x.files(ns)
	}
	if n, ok := x.top.Nodes[string(plan.Host)]; ok && isZero(n) && !x.hostUsed() {
		delete(x.top.Nodes, string(plan.Host))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Exported by netlab export from %s: netlab apply makes them anew (netlab destroy\n# removes them then).\n",
		joinNS(in.Namespaces))
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(x.top); err != nil {
		return nil, nil, fmt.Errorf("write the topology: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, nil, err
	}
	if _, err := topology.Parse("exported.yaml", b.Bytes()); err != nil {
		return b.Bytes(), x.unsaid, fmt.Errorf("the exported topology is not valid (%w); what it leaves out: %s", err, strings.Join(x.unsaid, "; "))
	}
	slices.Sort(x.unsaid)
	return b.Bytes(), slices.Compact(x.unsaid), nil
}

func joinNS(nss []plan.NS) string {
	s := make([]string, len(nss))
	for i, ns := range nss {
		s[i] = string(ns)
	}
	return strings.Join(s, ", ")
}

func isZero(n yamlNode) bool {
	return n.Forwarding == nil && len(n.Sysctls)+len(n.NAT)+len(n.Interfaces)+len(n.Bridges)+len(n.Routes)+len(n.DNS)+len(n.Search) == 0
}

// hostUsed reports whether a link or macvlan names the host.
func (x *exporter) hostUsed() bool {
	for k := range x.declared {
		if k.NS == plan.Host {
			return true
		}
	}
	return false
}

func (x *exporter) say(format string, args ...any) {
	x.unsaid = append(x.unsaid, fmt.Sprintf(format, args...))
}

func (x *exporter) node(ns plan.NS, f func(n *yamlNode)) {
	n := x.top.Nodes[string(ns)]
	f(&n)
	x.top.Nodes[string(ns)] = n
}

// inLab reports whether k is an interface of the export: in an exported namespace, or
// the host's end of a veth into one.
func (x *exporter) inLab(k plan.LinkKey) bool {
	if x.nss[k.NS] {
		return true
	}
	l := x.in.State.Links[k]
	return k.NS == plan.Host && l.Kind == plan.Veth && x.nss[l.Peer.NS]
}

// port reports whether the link k is a port of a bridge of its namespace.
func (x *exporter) port(k plan.LinkKey) (bridge string, ok bool) {
	l := x.in.State.Links[k]
	if l.Master == "" {
		return "", false
	}
	return l.Master, x.in.State.Links[plan.LinkKey{NS: k.NS, Name: l.Master}].Kind == plan.Bridge
}

// interfaces declares the interfaces and bridges of each node.
func (x *exporter) interfaces() {
	for _, k := range sortedLinks(x.in.State.Links) {
		l := x.in.State.Links[k]
		if !x.inLab(k) {
			continue
		}
		if !l.Up && l.Kind != plan.Loopback {
			x.say("%s is down: netlab brings every interface up", k)
		}
		switch l.Kind {
		case plan.Loopback:
			if !l.Up {
				x.say("%s is down: netlab brings lo up", k)
			}
			continue
		case plan.Veth:
			if l.Peer.NS == "" {
				continue // named by Survey
			}
			if _, isPort := x.port(k); isPort {
				continue // a bridge's end of a link
			}
			if l.Master != "" {
				x.say("%s is a port of %s, which is not a bridge", k, l.Master)
			}
		case plan.Bridge, plan.Macvlan:
			if l.Master != "" {
				x.say("%s is a port of %s: netlab makes only veths ports", k, l.Master)
			}
		default:
			x.say("%s is a %s, which netlab does not make", k, cmp.Or(string(l.Kind), "device"))
			continue
		}
		iface := yamlIface{}
		if l.Kind == plan.Veth && l.TxQueueLen != defaultTxQueueLen && l.TxQueueLen != 0 {
			iface.TxQueueLen = l.TxQueueLen
		}
		if l.Kind != plan.Veth && l.MTU != defaultMTU && l.MTU != 0 {
			iface.MTU = l.MTU
		}
		if l.Kind == plan.Macvlan {
			if l.Parent.NS != plan.Host {
				x.say("%s is a macvlan on %s: netlab makes macvlans on host interfaces", k, l.Parent)
				continue
			}
			iface.Macvlan = &yamlMacvlan{Parent: l.Parent.Name, Mode: cmp.Or(l.Mode, "bridge")}
		}
		x.declared[k] = true
		x.node(k.NS, func(n *yamlNode) {
			if l.Kind == plan.Bridge {
				n.Bridges = setIface(n.Bridges, k.Name, iface)
			} else {
				n.Interfaces = setIface(n.Interfaces, k.Name, iface)
			}
		})
	}
}

func setIface(m map[string]yamlIface, name string, i yamlIface) map[string]yamlIface {
	if m == nil {
		m = map[string]yamlIface{}
	}
	m[name] = i
	return m
}

// endpoint is the endpoint that stands for the veth end k in a link: itself, or the
// bridge it is a port of.
func (x *exporter) endpoint(k plan.LinkKey) string {
	if br, ok := x.port(k); ok {
		return string(k.NS) + ":" + br
	}
	return k.String()
}

// links writes a link for each veth pair, with the pair's MTU and impairments.
func (x *exporter) links() {
	done := map[plan.LinkKey]bool{}
	for _, k := range sortedLinks(x.in.State.Links) {
		l := x.in.State.Links[k]
		if l.Kind != plan.Veth || l.Peer.NS == "" || done[k] || !x.inLab(k) {
			continue
		}
		peer := x.in.State.Links[l.Peer]
		done[k], done[l.Peer] = true, true
		if !x.inLab(l.Peer) {
			x.say("%s: its peer %s is in a namespace not exported", k, l.Peer)
			continue
		}
		ends := [2]plan.LinkKey{k, l.Peer}
		names := [2]string{x.endpoint(k), x.endpoint(l.Peer)}
		for i, e := range ends {
			if br, ok := x.port(e); ok {
				other, _ := topologyEndpoint(names[1-i])
				if want := topology.PortName(other); want != e.Name {
					x.say("%s, a port of bridge %s, is named %s by netlab (for its link to %s)", e, br, want, names[1-i])
				}
			}
		}
		if l.MTU != peer.MTU {
			x.say("%s and %s have MTU %d and %d: a link has one", k, l.Peer, l.MTU, peer.MTU)
		} else if l.MTU != defaultMTU {
			for _, e := range ends {
				if x.declared[e] {
					x.node(e.NS, func(n *yamlNode) {
						i := n.Interfaces[e.Name]
						i.MTU = l.MTU
						n.Interfaces[e.Name] = i
					})
				}
			}
		}
		link := yamlLink{Endpoints: names[:]}
		impairs := [2]*yamlImpair{x.impairment(ends[0]), x.impairment(ends[1])}
		switch {
		case impairs[0] != nil && impairs[1] != nil && *impairs[0] == *impairs[1]:
			link.Impair = impairs[0]
		case impairs[0] != nil || impairs[1] != nil:
			per := map[string]*yamlImpair{}
			for i, imp := range impairs {
				if imp != nil {
					per[names[i]] = imp
				}
			}
			link.Impair = per
		}
		if link.Impair != nil {
			x.top.Links = append(x.top.Links, link)
		} else {
			x.top.Links = append(x.top.Links, flowPair(names))
		}
	}
}

// flowPair writes a link's endpoints on one line, as [A, B].
func flowPair(names [2]string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range names {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: s})
	}
	return n
}

// topologyEndpoint reads NODE:IF.
func topologyEndpoint(s string) (topology.Endpoint, bool) {
	node, iface, ok := strings.Cut(s, ":")
	return topology.Endpoint{Node: node, Interface: iface}, ok
}

// impairment is what the root qdisc of k impairs, or nil; a qdisc not netlab's own is
// said and left out.
func (x *exporter) impairment(k plan.LinkKey) *yamlImpair {
	q, ok := x.in.State.Qdiscs[k]
	if !ok {
		return nil
	}
	if q.Foreign != "" {
		x.say("%s has a %s qdisc: netlab exports only the tbf and netem it makes (handle 4e4c:)", k, q.Foreign)
		return nil
	}
	imp := &yamlImpair{}
	if q.HasNetem() {
		if q.Delay != 0 {
			imp.Delay = plan.FormatMicros(q.Delay)
		}
		if q.Jitter != 0 {
			imp.Jitter = plan.FormatMicros(q.Jitter)
		}
		if q.Loss != 0 {
			imp.Loss = plan.FormatPPM(q.Loss)
		}
		if q.Packets != 1000 {
			imp.Limit = q.Packets
		}
	}
	if q.HasTBF() {
		imp.Rate = plan.FormatRate(q.Rate)
		imp.Burst = q.Burst // the topology's default is kept where it is the kernel's value
	}
	return imp
}

// addresses gives each declared interface its addresses, but link-local ones.
func (x *exporter) addresses(ns plan.NS) {
	var keys []plan.AddrKey
	for a := range x.in.State.Addrs {
		if a.Link.NS == ns {
			keys = append(keys, a)
		}
	}
	slices.SortFunc(keys, func(a, b plan.AddrKey) int { return cmp.Compare(a.String(), b.String()) })
	for _, a := range keys {
		l := x.in.State.Links[a.Link]
		switch {
		case a.Prefix.Addr().IsLinkLocalUnicast():
		case l.Kind == plan.Loopback:
			if !a.Prefix.Addr().IsLoopback() {
				x.say("address %s: netlab puts no address on lo", a)
			}
		case !x.declared[a.Link]:
			if x.inLab(a.Link) {
				x.say("address %s: on a bridge port, which the topology does not declare", a)
			}
		default:
			x.node(ns, func(n *yamlNode) {
				i := n.Interfaces[a.Link.Name]
				if l.Kind == plan.Bridge {
					i = n.Bridges[a.Link.Name]
				}
				i.Addresses = append(i.Addresses, a.Prefix.String())
				if l.Kind == plan.Bridge {
					n.Bridges[a.Link.Name] = i
				} else {
					n.Interfaces[a.Link.Name] = i
				}
			})
		}
	}
}

// routes gives each node its routes: in the host, those through its lab interfaces.
func (x *exporter) routes(ns plan.NS) {
	var keys []plan.RouteKey
	for k, r := range x.in.State.Routes {
		if k.NS == ns && (ns != plan.Host || x.declared[plan.LinkKey{NS: ns, Name: r.Dev}]) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b plan.RouteKey) int { return cmp.Compare(a.String(), b.String()) })
	for _, k := range keys {
		r := x.in.State.Routes[k]
		if r.Dev != "" && !x.declared[plan.LinkKey{NS: ns, Name: r.Dev}] {
			x.say("route %s %s: through an interface the topology does not declare", k, r)
			continue
		}
		yr := yamlRoute{To: k.To.String(), Dev: r.Dev}
		if r.Via.IsValid() {
			yr.Via = r.Via.String()
			if k.To.Bits() == 0 {
				yr.To = "default"
			}
		}
		if k.Metric != plan.DefaultMetric(k.To) {
			yr.Metric = k.Metric
		}
		x.node(ns, func(n *yamlNode) { n.Routes = append(n.Routes, yr) })
	}
}

// sysctls writes forwarding and the other sysctls that differ from a fresh
// namespace's, of the node itself or of an interface it declares.
func (x *exporter) sysctls(ns plan.NS) {
	var keys []plan.SysctlKey
	for k := range x.in.Sysctls {
		if k.NS == ns {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b plan.SysctlKey) int { return cmp.Compare(a.Name, b.Name) })
	for _, k := range keys {
		v := x.in.Sysctls[k]
		if k.Name == "net.ipv4.ip_forward" {
			on := v == "1"
			x.node(ns, func(n *yamlNode) { n.Forwarding = &on })
			continue
		}
		if iface, ok := plan.SysctlInterface(k.Name); ok && iface != "all" && iface != "default" && !x.declared[plan.LinkKey{NS: ns, Name: iface}] {
			x.say("sysctl %s = %s: of an interface the topology does not declare", k, v)
			continue
		}
		x.node(ns, func(n *yamlNode) {
			if n.Sysctls == nil {
				n.Sysctls = map[string]string{}
			}
			n.Sysctls[k.Name] = v
		})
	}
}

// nat writes the node's MASQUERADE rules.
func (x *exporter) nat(ns plan.NS) {
	var rules []plan.NATRule
	for r := range x.in.NAT {
		if r.NS == ns {
			rules = append(rules, r)
		}
	}
	slices.SortFunc(rules, func(a, b plan.NATRule) int { return cmp.Compare(a.String(), b.String()) })
	for _, r := range rules {
		x.node(ns, func(n *yamlNode) { n.NAT = append(n.NAT, yamlNAT{Masquerade: r.Source.String(), Out: r.Out}) })
	}
}

// files reads the node's resolv.conf into dns and search; a hosts file netlab did not
// write is said (netlab writes its own).
func (x *exporter) files(ns plan.NS) {
	if hosts, ok := x.in.Files[plan.FileKey{NS: ns, Name: "hosts"}]; ok && !strings.HasPrefix(hosts, "# Written by netlab") {
		x.say("%s/%s/hosts: netlab writes its own hosts file", plan.EtcNetnsDir, ns)
	}
	resolv, ok := x.in.Files[plan.FileKey{NS: ns, Name: "resolv.conf"}]
	if !ok {
		return
	}
	sc := bufio.NewScanner(strings.NewReader(resolv))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";"):
		case f[0] == "nameserver" && len(f) == 2 && validAddr(f[1]):
			x.node(ns, func(n *yamlNode) { n.DNS = append(n.DNS, f[1]) })
		case f[0] == "search":
			x.node(ns, func(n *yamlNode) { n.Search = append(n.Search, f[1:]...) })
		default:
			x.say("%s/%s/resolv.conf: %q: netlab writes only nameserver and search", plan.EtcNetnsDir, ns, sc.Text())
		}
	}
}

func validAddr(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

func sortedLinks(m map[plan.LinkKey]plan.Link) []plan.LinkKey {
	keys := make([]plan.LinkKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b plan.LinkKey) int { return cmp.Compare(a.String(), b.String()) })
	return keys
}

// JSON returns an exported topology (Build's YAML) as indented JSON: the same
// topology, which netlab reads too (JSON is YAML).
func JSON(exported []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(exported, &v); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}
