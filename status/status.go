// Package status describes an applied lab as the kernel has it now, node by node, and
// marks what differs from the lab: `netlab status`. It is pure: it reads the desired and
// observed states and the plan between them, which reconcile computes.
package status

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/netlab-go/netlab/plan"
)

// FormatVersion is the version of the JSON form of a Report.
const FormatVersion = "1"

// Report is the status of a lab.
type Report struct {
	FormatVersion string `json:"format_version"`
	Lab           string `json:"lab"`
	Topology      string `json:"topology"`
	// InSync is set when the kernel is as the lab wants it: the plan is empty.
	InSync bool   `json:"in_sync"`
	Nodes  []Node `json:"nodes"`
	// Drift lists what netlab apply would do, one action a line ("~ link h1:eth0 (mtu
	// 1500 -> 9000)").
	Drift []string `json:"drift"`
}

// Node is a node of the lab as the kernel has it.
type Node struct {
	Name string `json:"name"`
	// Present is unset when the node's namespace does not exist.
	Present    bool        `json:"present"`
	Interfaces []Interface `json:"interfaces"`
	Routes     []Line      `json:"routes"`
	Sysctls    []Line      `json:"sysctls"`
	NAT        []Line      `json:"nat"`
}

// Interface is an interface of a node: the lab's, or any in a namespace the lab made.
type Interface struct {
	Name string `json:"name"`
	// Kind is the kernel's ("veth", "bridge", ...), or "missing" when the lab wants the
	// interface and the kernel lacks it.
	Kind      string   `json:"kind"`
	Up        bool     `json:"up"`
	MTU       int      `json:"mtu,omitempty"`
	Addresses []string `json:"addresses"`
	Qdisc     string   `json:"qdisc,omitempty"`
	// Differs is set when the plan changes the interface, its addresses or its qdisc.
	Differs bool `json:"differs"`
}

// Line is one route, sysctl or NAT rule as the kernel has it (Text), and whether the
// plan changes it.
type Line struct {
	Text    string `json:"text"`
	Differs bool   `json:"differs"`
}

// Build makes the report of lab from the desired and observed states and the plan
// between them.
func Build(lab, topology string, desired, actual plan.State, p plan.Plan) Report {
	r := Report{FormatVersion: FormatVersion, Lab: lab, Topology: topology, InSync: p.Empty(), Drift: []string{}}
	touched := map[string]bool{} // "ns:iface", "route ns: ...", "sysctl ...", "nat ..."
	for _, a := range p.Actions {
		r.Drift = append(r.Drift, a.Summary())
		touched[driftKey(a)] = true
	}
	for _, ns := range nodes(desired) {
		n := Node{Name: string(ns), Present: ns == plan.Host || actual.Namespaces[ns], Interfaces: []Interface{},
			Routes: []Line{}, Sysctls: []Line{}, NAT: []Line{}}
		n.Interfaces = interfaces(ns, desired, actual, touched)
		for _, k := range sorted(actual.Routes, func(k plan.RouteKey) bool { return k.NS == ns && (ns != plan.Host || has(desired.Routes, k)) }, routeOrder) {
			n.Routes = append(n.Routes, Line{Text: strings.TrimPrefix(k.String(), string(ns)+": ") + " " + actual.Routes[k].String(), Differs: touched["route "+k.String()]})
		}
		for _, k := range sorted(desired.Sysctls, func(k plan.SysctlKey) bool { return k.NS == ns }, func(a, b plan.SysctlKey) int { return cmp.Compare(a.Name, b.Name) }) {
			v, ok := actual.Sysctls[k]
			if !ok {
				v = "(none)"
			}
			n.Sysctls = append(n.Sysctls, Line{Text: k.Name + " = " + v, Differs: touched["sysctl "+k.String()]})
		}
		for _, rule := range sorted(actual.NAT, func(r plan.NATRule) bool { return r.NS == ns }, func(a, b plan.NATRule) int { return cmp.Compare(a.String(), b.String()) }) {
			n.NAT = append(n.NAT, Line{Text: strings.TrimPrefix(rule.String(), string(ns)+": "), Differs: touched["nat "+rule.String()]})
		}
		r.Nodes = append(r.Nodes, n)
	}
	return r
}

// driftKey is what an action marks as differing: an interface (for a link, its
// address or its qdisc), a route, a sysctl or a NAT rule, as Build keys them.
func driftKey(a plan.Action) string {
	switch o := a.Target.(type) {
	case plan.LinkObject:
		return o.Key.String()
	case plan.AddrObject:
		return o.Key.Link.String()
	case plan.QdiscObject:
		return o.Key.String()
	case plan.RouteObject:
		return "route " + o.Key.String()
	case plan.SysctlObject:
		return "sysctl " + o.Key.String()
	case plan.NATObject:
		return "nat " + o.Rule.String()
	}
	return a.Object()
}

// nodes are the namespaces of the lab, the host first.
func nodes(desired plan.State) []plan.NS {
	seen := map[plan.NS]bool{}
	for ns := range desired.Namespaces {
		seen[ns] = true
	}
	for ns := range desired.Attached {
		seen[ns] = true
	}
	for k := range desired.Links {
		seen[k.NS] = true
	}
	for k := range desired.Sysctls {
		seen[k.NS] = true
	}
	for r := range desired.NAT {
		seen[r.NS] = true
	}
	var nss []plan.NS
	for ns := range seen {
		nss = append(nss, ns)
	}
	slices.SortFunc(nss, func(a, b plan.NS) int {
		switch {
		case a == b:
			return 0
		case a == plan.Host:
			return -1
		case b == plan.Host:
			return 1
		}
		return cmp.Compare(a, b)
	})
	return nss
}

// interfaces are the interfaces of ns: in the host those of the lab only, elsewhere
// every one the kernel has, and those the lab wants and the kernel lacks.
func interfaces(ns plan.NS, desired, actual plan.State, touched map[string]bool) []Interface {
	names := map[string]bool{}
	for k := range desired.Links {
		if k.NS == ns {
			names[k.Name] = true
		}
	}
	if ns != plan.Host {
		for k := range actual.Links {
			if k.NS == ns {
				names[k.Name] = true
			}
		}
	}
	var out []Interface
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	}) {
		k := plan.LinkKey{NS: ns, Name: name}
		i := Interface{Name: name, Kind: "missing", Addresses: []string{}, Differs: touched[k.String()]}
		if l, ok := actual.Links[k]; ok {
			i.Kind, i.Up, i.MTU = string(l.Kind), l.Up, l.MTU
		}
		for _, a := range sorted(actual.Addrs, func(a plan.AddrKey) bool { return a.Link == k }, func(a, b plan.AddrKey) int { return cmp.Compare(a.Prefix.String(), b.Prefix.String()) }) {
			i.Addresses = append(i.Addresses, a.Prefix.String())
		}
		if q, ok := actual.Qdiscs[k]; ok {
			i.Qdisc = q.String()
		}
		out = append(out, i)
	}
	return out
}

func has[K comparable, V any](m map[K]V, k K) bool { _, ok := m[k]; return ok }

func routeOrder(a, b plan.RouteKey) int { return cmp.Compare(a.String(), b.String()) }

// sorted returns the keys of m that keep accepts, in the order of compare.
func sorted[K comparable, V any](m map[K]V, keep func(K) bool, compare func(a, b K) int) []K {
	var keys []K
	for k := range m {
		if keep(k) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compare)
	return keys
}

// WriteText writes the report for people, as `ip -br addr` is to `ip addr`: a block
// per node, one aligned line per interface, route, sysctl and rule, "!" before what
// the plan changes, then the drift.
func WriteText(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	mark := func(d bool) string {
		if d {
			return "!"
		}
		return " "
	}
	for _, n := range r.Nodes {
		state := ""
		if !n.Present {
			state = "  (its namespace is missing)"
		}
		fmt.Fprintf(tw, "%s%s\n", n.Name, state)
		for _, i := range n.Interfaces {
			updown := "DOWN"
			if i.Up {
				updown = "UP"
			}
			if i.Kind == "missing" {
				updown = ""
			}
			mtu := ""
			if i.MTU != 0 {
				mtu = fmt.Sprintf("mtu %d", i.MTU)
			}
			extra := strings.Join(i.Addresses, " ")
			if i.Qdisc != "" {
				extra = strings.TrimSpace(extra + "  qdisc " + i.Qdisc)
			}
			fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\n", mark(i.Differs), i.Name, i.Kind, updown, mtu, extra)
		}
		for _, group := range []struct {
			what  string
			lines []Line
		}{{"route", n.Routes}, {"sysctl", n.Sysctls}, {"nat", n.NAT}} {
			for _, l := range group.lines {
				fmt.Fprintf(tw, "%s %s\t%s\n", mark(l.Differs), group.what, l.Text)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.InSync {
		_, err := fmt.Fprintf(w, "\nLab %s is in sync with %s.\n", r.Lab, r.Topology)
		return err
	}
	fmt.Fprintf(w, "\nLab %s differs from %s in %d way(s); netlab apply would:\n", r.Lab, r.Topology, len(r.Drift))
	for _, d := range r.Drift {
		fmt.Fprintf(w, "  %s\n", d)
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
