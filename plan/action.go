package plan

import (
	"fmt"
	"strings"
)

// Kind says what an Action does to its object, as Terraform's plans.Action does.
type Kind int

const (
	// Create adds an object that is not in the kernel.
	Create Kind = iota + 1
	// Update changes an object in place: a link brought up, a sysctl set, a route replaced.
	Update
	// Delete removes an object the lab owns.
	Delete
)

// Symbol is the one-character mark of the kind in a rendered plan: + ~ -.
func (k Kind) Symbol() string {
	switch k {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	}
	return "?"
}

// String names the kind as the JSON plan does: create, update, delete.
func (k Kind) String() string {
	switch k {
	case Create:
		return "create"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ObjectType names the kind of kernel object an Action concerns.
type ObjectType string

// The object types, in the order a lab is built.
const (
	TypeNetns   ObjectType = "netns"
	TypeLink    ObjectType = "link"
	TypeAddress ObjectType = "address"
	TypeRoute   ObjectType = "route"
	TypeSysctl  ObjectType = "sysctl"
	TypeNAT     ObjectType = "nat"
	TypeFile    ObjectType = "file"
	TypeAttach  ObjectType = "attach"
)

// Action is one step of a Plan: a Kind applied to one object.
//
// Target is the object's key, one of NS, LinkKey, AddrKey, RouteKey, SysctlKey, NATRule
// or FileKey. Before and After are its values where the object has one (Link, Route, a
// sysctl's string value, a file's content), nil otherwise. Reason is for people only; the executor never
// reads it.
type Action struct {
	Kind   Kind
	Target any
	Before any
	After  any
	Reason string
	// Lab is the lab the object belongs to; its mark is what the commands set.
	Lab string
	// DependsOn lists the indexes in the Plan of the actions that must be done before
	// this one. Actions on different namespaces with no path between them may run in
	// parallel.
	DependsOn []int
}

// Type returns the type of object the action concerns.
func (a Action) Type() ObjectType {
	switch a.Target.(type) {
	case NS:
		return TypeNetns
	case LinkKey:
		return TypeLink
	case AddrKey:
		return TypeAddress
	case RouteKey:
		return TypeRoute
	case SysctlKey:
		return TypeSysctl
	case NATRule:
		return TypeNAT
	case FileKey:
		return TypeFile
	case Attach:
		return TypeAttach
	}
	panic(fmt.Sprintf("plan: action target of unknown type %T", a.Target))
}

// Namespaces returns the namespaces the action touches: one, or two for a veth pair
// created across namespaces.
func (a Action) Namespaces() []NS {
	switch t := a.Target.(type) {
	case NS:
		return []NS{t}
	case LinkKey:
		l, ok := a.After.(Link)
		if !ok {
			l, _ = a.Before.(Link)
		}
		if l.Kind == Veth && l.Peer.NS != "" && l.Peer.NS != t.NS {
			return []NS{t.NS, l.Peer.NS}
		}
		if l.Kind == Macvlan && a.Kind == Create && l.Parent.NS != t.NS {
			return []NS{t.NS, l.Parent.NS} // created on the parent, then moved
		}
		return []NS{t.NS}
	case AddrKey:
		return []NS{t.Link.NS}
	case RouteKey:
		return []NS{t.NS}
	case SysctlKey:
		return []NS{t.NS}
	case NATRule:
		return []NS{t.NS}
	case FileKey:
		if t.Shared() {
			return []NS{Host} // a file of the lab's, in no namespace's directory
		}
		return []NS{t.NS}
	case Attach:
		return []NS{NS(t)}
	}
	return nil
}

// Object describes the action's object for people, in the topology's own notation:
// "netns testns1", "veth host:m1 <-> testns1:s1", "address 10.0.0.1/24 on host:m1".
func (a Action) Object() string {
	switch t := a.Target.(type) {
	case NS:
		return "netns " + string(t)
	case LinkKey:
		if l, ok := a.After.(Link); ok && a.Kind == Create {
			switch l.Kind {
			case Veth:
				return "veth " + t.String() + " <-> " + l.Peer.String()
			case Bridge:
				return "bridge " + t.String()
			case Macvlan:
				return "macvlan " + t.String() + " on " + l.Parent.String()
			}
		}
		return "link " + t.String()
	case AddrKey:
		return "address " + t.String()
	case RouteKey:
		s := "route " + t.String()
		if r, ok := a.After.(Route); ok {
			s += " " + r.String()
		} else if r, ok := a.Before.(Route); ok {
			s += " " + r.String()
		}
		return s
	case SysctlKey:
		return "sysctl " + t.String()
	case NATRule:
		return "nat " + t.String()
	case Attach:
		src, _ := a.After.(string)
		if a.Kind == Delete {
			src, _ = a.Before.(string)
		}
		return "netns entry " + string(t) + " for " + src
	case FileKey:
		if t.IsDir() {
			return "directory " + t.Path()
		}
		return "file " + t.Path()
	}
	return fmt.Sprint(a.Target)
}

// Change describes an update's change for people ("down -> up", "0 -> 1"); it is
// empty for creates and deletes.
func (a Action) Change() string {
	if a.Kind != Update {
		return ""
	}
	if _, ok := a.Target.(FileKey); ok {
		if IsHardLink(a.After.(string)) {
			return "relinked"
		}
		return "rewritten"
	}
	if _, ok := a.Target.(Attach); ok {
		return "rebound"
	}
	switch before := a.Before.(type) {
	case Link:
		after := a.After.(Link)
		var parts []string
		if before.Alias != after.Alias {
			parts = append(parts, fmt.Sprintf("alias %q -> %q", before.Alias, after.Alias))
		}
		if after.MTU != 0 && before.MTU != after.MTU {
			parts = append(parts, fmt.Sprintf("mtu %d -> %d", before.MTU, after.MTU))
		}
		if before.Master != after.Master {
			parts = append(parts, fmt.Sprintf("master %q -> %q", before.Master, after.Master))
		}
		if before.Up != after.Up {
			parts = append(parts, upString(before.Up)+" -> "+upString(after.Up))
		}
		return strings.Join(parts, ", ")
	case Route:
		return before.String() + " -> " + a.After.(Route).String()
	case string:
		if before == "" {
			return "set to " + a.After.(string)
		}
		return before + " -> " + a.After.(string)
	}
	return ""
}

func upString(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// Plan is the ordered list of actions that takes the kernel from one State to another.
// Its order is deterministic: it depends on the states only, never on map iteration.
type Plan struct {
	Lab     string
	Actions []Action
	// Warnings name what the plan leaves alone that a person should know of: an
	// object of the lab's record that is no longer the lab's, a namespace that is gone.
	Warnings []string
}

// Empty reports whether the plan has nothing to do.
func (p Plan) Empty() bool { return len(p.Actions) == 0 }

// Summary counts the plan's actions by kind: objects added, changed and removed.
func (p Plan) Summary() (add, change, remove int) {
	for _, a := range p.Actions {
		switch a.Kind {
		case Create:
			add++
		case Update:
			change++
		case Delete:
			remove++
		}
	}
	return add, change, remove
}

// SummaryLine is the plan's closing line: "Plan: N to add, N to change, N to remove." or
// "No changes.".
func (p Plan) SummaryLine() string {
	if p.Empty() {
		return "No changes."
	}
	add, change, remove := p.Summary()
	return fmt.Sprintf("Plan: %d to add, %d to change, %d to remove.", add, change, remove)
}
