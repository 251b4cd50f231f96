package plan

import (
	"fmt"
	"slices"
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
	// Replace deletes an object of the lab's and creates it anew under the same key, in
	// one action: what cannot be changed in place (a link's kind, a macvlan's mode, a
	// veth's peer). Terraform calls it DeleteThenCreate.
	Replace
	// Adopt takes over an object that is in the kernel as the topology wants it but is
	// not the lab's (built by hand, or by a plan's shell script): it is marked where it
	// carries a mark (a link's alias) and recorded, and destroy then removes it. Only
	// `apply --adopt` plans adoptions.
	Adopt
)

// Symbol is the mark of the kind in a rendered plan: + ~ - -/+.
func (k Kind) Symbol() string {
	switch k {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	case Replace:
		return "-/+"
	case Adopt:
		return "="
	}
	return "?"
}

// String names the kind as the JSON plan does: create, update, delete, replace.
func (k Kind) String() string {
	switch k {
	case Create:
		return "create"
	case Update:
		return "update"
	case Delete:
		return "delete"
	case Replace:
		return "replace"
	case Adopt:
		return "adopt"
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
	TypeQdisc   ObjectType = "qdisc"
)

// Object is one kernel object of an Action, of one kind: its key and, for the kinds
// that have one, its value before and after the action (NetnsObject, AttachObject,
// LinkObject, AddrObject, RouteObject, SysctlObject, NATObject, FileObject,
// QdiscObject). Each kind
// is defined in one file of this package, named after it, and says through these
// methods all that the plan needs of it.
//
// The interface is sealed, as google/nftables seals its expressions: its methods are
// unexported, so only this package defines kinds, and a kind that lacks one of them
// does not compile. The kernel side of a kind is one method of Applier.
type Object interface {
	// Type names the object's kind.
	Type() ObjectType
	// name is the object in the topology's notation, without its kind: "host:m1",
	// "10.0.0.1/24 on host:m1", "/etc/netns/client/hosts".
	name() string
	// describe is the object for people, as a heading shows it: "veth host:m1 <->
	// testns1:s1"; k is the action's kind.
	describe(k Kind) string
	// namespaces are those an action of kind k touches on it, the object's own first.
	namespaces(k Kind) []NS
	// change says what an update changes: "mtu 1500 -> 9000".
	change() string
	// commands are the shell commands an action of kind k (not Replace) stands for.
	commands(k Kind, lab string) [][]string
	// input is what the last command reads on its standard input, or "".
	input(k Kind) string
	// phase is the object's place in the build order (see order); Delete negates it.
	phase(k Kind) int
	// compare orders objects of one phase; o may be of another kind of that phase.
	compare(o Object) int
	// dependOn returns the indexes of the earlier actions that action i, of kind k on
	// this object, needs done first, and notes in x what later ones need of it.
	dependOn(x *depIndex, i int, k Kind) []int
	// jsonKey is the object's key as the JSON plan gives it.
	jsonKey() any
	// jsonValues are the values before and after, as the JSON plan gives them (nil
	// when the kind has none).
	jsonValues() (before, after any)
	// own adds to owned what an action of kind k (not Delete) makes the lab's;
	// desired is the state the plan goes to.
	own(owned State, desired State, k Kind)
	// apply carries the action out through the kind's method of the Applier.
	apply(ap Applier, a Action) error
	// marks are the commands that mark the object as the lab's when it is adopted
	// (a link's alias), or none: it is then only recorded.
	marks(lab string) [][]string
}

// Applier is a kernel that carries out actions: one method per kind of object, each
// given the action and its object. A new kind adds a method here, and so every kernel
// (the real one and the fake) must have it to compile. Action.ApplyTo calls the method
// of the action's kind, once for each of Delete and Create for a Replace.
type Applier interface {
	ApplyNetns(a Action, o NetnsObject) error
	ApplyAttach(a Action, o AttachObject) error
	ApplyLink(a Action, o LinkObject) error
	ApplyAddr(a Action, o AddrObject) error
	ApplyRoute(a Action, o RouteObject) error
	ApplySysctl(a Action, o SysctlObject) error
	ApplyNAT(a Action, o NATObject) error
	ApplyFile(a Action, o FileObject) error
	ApplyQdisc(a Action, o QdiscObject) error
}

// Action is one step of a Plan: a Kind applied to one Object.
type Action struct {
	Kind Kind
	// Target is the object the action works on, with its values before and after.
	Target Object
	// Reason says why the action is in the plan; the executor never reads it.
	Reason Reason
	// Lab is the lab the object belongs to; its mark is what the commands set.
	Lab string
	// DependsOn lists the indexes in the Plan of the actions that must be done before
	// this one. Actions on different namespaces with no path between them may run in
	// parallel.
	DependsOn []int
}

// Type returns the type of object the action concerns.
func (a Action) Type() ObjectType { return a.Target.Type() }

// Namespaces returns the namespaces the action touches, the object's own first: one,
// or two for a veth pair across namespaces or a macvlan made on a parent elsewhere.
func (a Action) Namespaces() []NS {
	if a.Kind == Adopt {
		return a.Target.namespaces(Create)
	}
	if a.Kind != Replace {
		return a.Target.namespaces(a.Kind)
	}
	nss := a.Target.namespaces(Delete)
	for _, ns := range a.Target.namespaces(Create) {
		if !slices.Contains(nss, ns) {
			nss = append(nss, ns)
		}
	}
	return nss
}

// Object describes the action's object for people, in the topology's own notation:
// "netns testns1", "veth host:m1 <-> testns1:s1", "address 10.0.0.1/24 on host:m1".
func (a Action) Object() string {
	if a.Kind == Replace || a.Kind == Adopt {
		return a.Target.describe(Create)
	}
	return a.Target.describe(a.Kind)
}

// Change describes an update's change for people ("down -> up", "0 -> 1"); it is
// empty for the other kinds.
func (a Action) Change() string {
	if a.Kind != Update {
		return ""
	}
	return a.Target.change()
}

// Commands returns the shell commands the action stands for, each as an argv: what a
// person would type with iproute2, iptables and sysctl to do the same. netlab itself
// does the work through netlink; these commands are for reading, auditing and the shell
// rendering of a plan. A Replace stands for its deletion's commands, then its
// creation's.
func (a Action) Commands() [][]string {
	switch a.Kind {
	case Replace:
		return append(a.Target.commands(Delete, a.Lab), a.Target.commands(Create, a.Lab)...)
	case Adopt:
		return a.Target.marks(a.Lab)
	}
	return a.Target.commands(a.Kind, a.Lab)
}

// Input returns what the action's last command reads on its standard input: the
// content of a file it writes; "" for every other action.
func (a Action) Input() string {
	if a.Kind == Adopt {
		return ""
	}
	if a.Kind == Replace {
		return a.Target.input(Create)
	}
	return a.Target.input(a.Kind)
}

// ApplyTo carries the action out on the kernel k, through the method of its kind; a
// Replace is its Delete, then its Create.
func (a Action) ApplyTo(k Applier) error {
	if a.Kind == Adopt {
		if len(a.Target.marks(a.Lab)) == 0 {
			return nil // recorded only
		}
		mark := a
		mark.Kind = Update // the marks are an update of the object in place
		return a.Target.apply(k, mark)
	}
	if a.Kind != Replace {
		return a.Target.apply(k, a)
	}
	del, create := a, a
	del.Kind, create.Kind = Delete, Create
	if err := a.Target.apply(k, del); err != nil {
		return err
	}
	return a.Target.apply(k, create)
}

// Own adds to owned what the action makes the lab's (nothing, for a deletion): the
// ownership record's intent, written before the action is carried out. desired is the
// state the plan goes to.
func (a Action) Own(owned, desired State) {
	switch a.Kind {
	case Delete:
	case Replace, Adopt:
		a.Target.own(owned, desired, Create)
	default:
		a.Target.own(owned, desired, a.Kind)
	}
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

// Summary counts the plan's actions by what they do to objects: added, changed and
// removed. A replacement counts as one added and one removed, as Terraform counts it.
func (p Plan) Summary() (add, change, remove int) {
	add, change, remove, _ = p.Counts()
	return add, change, remove
}

// Counts is Summary with the number of objects adopted.
func (p Plan) Counts() (add, change, remove, adopt int) {
	for _, a := range p.Actions {
		switch a.Kind {
		case Create:
			add++
		case Update:
			change++
		case Delete:
			remove++
		case Replace:
			add++
			remove++
		case Adopt:
			adopt++
		}
	}
	return add, change, remove, adopt
}

// SummaryLine is the plan's closing line: "Plan: N to add, N to change, N to remove." or
// "No changes.".
func (p Plan) SummaryLine() string {
	if p.Empty() {
		return "No changes."
	}
	add, change, remove, adopt := p.Counts()
	if adopt > 0 {
		return fmt.Sprintf("Plan: %d to add, %d to change, %d to remove, %d to adopt.", add, change, remove, adopt)
	}
	return fmt.Sprintf("Plan: %d to add, %d to change, %d to remove.", add, change, remove)
}
