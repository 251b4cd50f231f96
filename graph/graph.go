// Package graph draws a topology as Graphviz DOT or Mermaid: nodes with their addresses,
// links labelled with their interface names, bridges and macvlans as shapes of their
// own, forwarding and NAT marked. It reads only the topology, never the kernel.
package graph

import (
	"fmt"
	"io"
	"strings"

	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/topology"
)

// box is one shape of the drawing: a node, or a bridge inside a node.
type box struct {
	id     string
	lines  []string // the first is the title
	bridge bool
}

// edge joins two boxes, with the interface name at each end.
type edge struct {
	from, to     string
	fromIf, toIf string
	dashed       bool
	label        string
}

// layout is what both renderings draw.
func layout(t *topology.Topology) ([]box, []edge) {
	var boxes []box
	var edges []edge
	for _, n := range t.Nodes {
		b := box{id: n.Name, lines: []string{n.Name}}
		if n.Netns != nil {
			b.lines = append(b.lines, "existing netns "+n.Netns.Source())
		}
		if n.Forwarding != nil {
			b.lines = append(b.lines, map[bool]string{true: "forwarding on", false: "forwarding off"}[*n.Forwarding])
		}
		for _, r := range n.NAT {
			s := "NAT: masquerade " + r.Masquerade.String()
			if r.Out != "" {
				s += " out " + r.Out
			}
			b.lines = append(b.lines, s)
		}
		for _, i := range n.Interfaces {
			switch i.Kind {
			case topology.Bridge:
				boxes = append(boxes, box{id: n.Name + "/" + i.Name, lines: append([]string{"bridge " + i.Name + " (" + n.Name + ")"}, prefixes(i)...), bridge: true})
				edges = append(edges, edge{from: n.Name, to: n.Name + "/" + i.Name, dashed: true})
				continue
			case topology.MacvlanKind:
				edges = append(edges, edge{from: n.Name, to: topology.HostNode, fromIf: i.Name, toIf: i.Macvlan.Parent, dashed: true, label: "macvlan " + i.Macvlan.Mode})
			}
			if len(i.Addresses) > 0 {
				b.lines = append(b.lines, i.Name+" "+strings.Join(prefixes(i), " "))
			}
		}
		for _, r := range n.Routes {
			b.lines = append(b.lines, plan.RouteDest(r.To)+" "+plan.Route{Via: r.Via, Dev: r.Dev}.String())
		}
		boxes = append(boxes, b)
	}
	if t.Node(topology.HostNode) == nil {
		for _, e := range edges {
			if e.to == topology.HostNode {
				boxes = append([]box{{id: topology.HostNode, lines: []string{topology.HostNode}}}, boxes...)
				break
			}
		}
	}
	for _, l := range t.Links {
		edges = append(edges, edge{from: end(t, l.A), to: end(t, l.B), fromIf: ifName(t, l.A, l.B), toIf: ifName(t, l.B, l.A),
			label: impairLabel(l)})
	}
	return boxes, edges
}

// impairLabel describes a link's impairments: "10mbit 20ms±2ms loss 0.1% each way",
// or per direction, "→ 100mbit" for what the first end sends.
func impairLabel(l topology.Link) string {
	if l.ImpairA != nil && l.ImpairA == l.ImpairB {
		return l.ImpairA.String() + " each way"
	}
	var parts []string
	if l.ImpairA != nil {
		parts = append(parts, "→ "+l.ImpairA.String())
	}
	if l.ImpairB != nil {
		parts = append(parts, "← "+l.ImpairB.String())
	}
	return strings.Join(parts, ", ")
}

func prefixes(i *topology.Interface) []string {
	var s []string
	for _, a := range i.Addresses {
		s = append(s, a.String())
	}
	return s
}

// end is the box a link endpoint attaches to: its node, or its bridge.
func end(t *topology.Topology, e topology.Endpoint) string {
	if t.Node(e.Node).Interface(e.Interface).Kind == topology.Bridge {
		return e.Node + "/" + e.Interface
	}
	return e.Node
}

// ifName is the interface at endpoint e: its own, or the bridge port made for the link.
func ifName(t *topology.Topology, e, other topology.Endpoint) string {
	if t.Node(e.Node).Interface(e.Interface).Kind == topology.Bridge {
		return topology.PortName(other)
	}
	return e.Interface
}

// WriteDOT writes the topology as an undirected Graphviz graph.
func WriteDOT(w io.Writer, t *topology.Topology) error {
	boxes, edges := layout(t)
	var b strings.Builder
	fmt.Fprintf(&b, "// Made by `netlab graph` from lab %s; render with: dot -Tsvg\n", t.Name)
	fmt.Fprintf(&b, "graph %s {\n", dotQuote(t.Name))
	fmt.Fprintf(&b, "  graph [rankdir=LR, fontname=\"Helvetica\", label=%s, labelloc=t];\n", dotQuote("lab "+t.Name))
	b.WriteString("  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=9];\n")
	for _, x := range boxes {
		attrs := "label=" + dotQuote(strings.Join(x.lines, "\n"))
		if x.bridge {
			attrs += ", shape=hexagon, style=\"\""
		} else if x.id == topology.HostNode {
			attrs += ", shape=box3d, style=\"\""
		}
		fmt.Fprintf(&b, "  %s [%s];\n", dotQuote(x.id), attrs)
	}
	for _, e := range edges {
		var attrs []string
		if e.fromIf != "" {
			attrs = append(attrs, "taillabel="+dotQuote(e.fromIf), "headlabel="+dotQuote(e.toIf))
		}
		if e.label != "" {
			attrs = append(attrs, "label="+dotQuote(e.label))
		}
		if e.dashed {
			attrs = append(attrs, "style=dashed")
		}
		fmt.Fprintf(&b, "  %s -- %s", dotQuote(e.from), dotQuote(e.to))
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// WriteMermaid writes the topology as a Mermaid flowchart, for Markdown that renders it.
func WriteMermaid(w io.Writer, t *topology.Topology) error {
	boxes, edges := layout(t)
	var b strings.Builder
	fmt.Fprintf(&b, "%%%% Made by `netlab graph -o mermaid` from lab %s\n", t.Name)
	b.WriteString("flowchart LR\n")
	for _, x := range boxes {
		label := mermaidQuote(strings.Join(x.lines, "<br/>"))
		if x.bridge {
			fmt.Fprintf(&b, "  %s{{%s}}\n", mermaidID(x.id), label)
		} else {
			fmt.Fprintf(&b, "  %s[%s]\n", mermaidID(x.id), label)
		}
	}
	for _, e := range edges {
		arrow := "---"
		if e.dashed {
			arrow = "-.-"
		}
		label := e.label
		if e.fromIf != "" {
			label = strings.TrimSpace(e.fromIf + " — " + e.toIf + " " + label)
		}
		if label != "" {
			fmt.Fprintf(&b, "  %s %s|%s| %s\n", mermaidID(e.from), arrow, mermaidQuote(label), mermaidID(e.to))
		} else {
			fmt.Fprintf(&b, "  %s %s %s\n", mermaidID(e.from), arrow, mermaidID(e.to))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidID makes a Mermaid node id from a name: letters and digits stay, any other
// byte becomes _XX (its hex), so that two names never share an id.
func mermaidID(s string) string {
	var b strings.Builder
	b.WriteString("n_")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	return b.String()
}

func mermaidQuote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}
