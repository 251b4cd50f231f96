package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Clash is an object in the kernel that the lab wants to create but does not own: a
// namespace, interface, address or route made by someone else.
type Clash struct {
	Object string // what the lab wants, as Action.Object renders it
	Found  string // what is in the kernel instead
	Fix    string // what to do about it
	// Refused is set when the kernel would refuse what the lab asks for (a value it
	// does not take, a namespace that is gone), rather than an object being in the way.
	Refused bool
}

// ClashError lists every clash found by Diff, sorted. Nothing may be applied while it
// stands: netlab never takes over or removes what it does not own.
type ClashError struct {
	Lab     string
	Clashes []Clash
}

func (e *ClashError) Error() string {
	var b strings.Builder
	refused := slices.ContainsFunc(e.Clashes, func(c Clash) bool { return c.Refused })
	if refused {
		fmt.Fprintf(&b, "lab %s: %d problem(s) found before any change; nothing was changed:", e.Lab, len(e.Clashes))
	} else {
		fmt.Fprintf(&b, "lab %s clashes with %d object(s) it does not own; nothing was changed:", e.Lab, len(e.Clashes))
	}
	for _, c := range e.Clashes {
		fmt.Fprintf(&b, "\n  %s: %s; %s", c.Object, c.Found, c.Fix)
	}
	return b.String()
}

// Diff returns the plan that takes the kernel from actual to desired for the lab.
//
// owned is what the lab has recorded as its own (the Sysctls of owned hold the values to
// restore). Diff creates what desired has and actual lacks, updates what differs, and
// deletes only what the lab owns and desired no longer has: an object is the lab's when
// it is in owned or, for a link, when it carries the lab's alias. Anything desired that
// exists but is not the lab's is a clash: Diff then returns a *ClashError and no plan.
func Diff(lab string, desired, actual, owned State) (Plan, error) {
	return diff(lab, desired, actual, owned, false)
}

// DiffAdopting is Diff for `apply --adopt`: an object that the lab does not own but
// that the kernel has exactly as desired is adopted (an Adopt action) instead of being
// a clash: a namespace, an interface (then given the lab's alias), a route, the lab's
// shared hosts file, a directory under /etc/netns; and a sysctl already at its value
// is adopted with the value destroy restores left to reconcile (the kernel's default).
// What differs from the topology stays a clash.
func DiffAdopting(lab string, desired, actual, owned State) (Plan, error) {
	return diff(lab, desired, actual, owned, true)
}

func diff(lab string, desired, actual, owned State, adopt bool) (Plan, error) {
	d := differ{lab: lab, desired: desired, actual: actual, owned: owned, adopt: adopt,
		nsCreated: map[NS]bool{}, nsDeleted: map[NS]bool{}, linkCreated: map[LinkKey]bool{},
		addrDeleted: map[AddrKey]bool{}, nsTakes: map[NS][]LinkKey{}}
	d.namespaces()
	d.attachments()
	d.links()
	d.mergeReplacements()
	d.noteTakenLinks()
	d.qdiscs()
	d.addrs()
	d.routes()
	d.sysctls()
	d.nat()
	d.files()
	if len(d.clashes) > 0 {
		slices.SortFunc(d.clashes, func(a, b Clash) int { return strings.Compare(a.Object, b.Object) })
		return Plan{}, &ClashError{Lab: lab, Clashes: d.clashes}
	}
	return Plan{Lab: lab, Actions: order(d.actions), Warnings: d.warnings}, nil
}

type differ struct {
	lab                    string
	desired, actual, owned State
	actions                []Action
	clashes                []Clash
	warnings               []string
	nsCreated, nsDeleted   map[NS]bool
	linkCreated            map[LinkKey]bool
	addrDeleted            map[AddrKey]bool
	nsTakes                map[NS][]LinkKey      // links elsewhere that go with a deleted namespace
	kept                   map[NS][]netip.Prefix // subnets that stay connected; see survives
	digests                digester              // of desired files
	adopt                  bool                  // see DiffAdopting
}

// adopted plans the adoption of o.
func (d *differ) adopted(o Object) {
	d.add(Action{Kind: Adopt, Target: o, Reason: Reason{Code: ReasonAdopted}})
}

func (d *differ) add(a Action) {
	a.Lab = d.lab
	if a.Reason.Code == ReasonGone && d.desired.Empty() {
		a.Reason.Code = ReasonDestroy
	}
	d.actions = append(d.actions, a)
}

func (d *differ) clash(object, found, fix string) {
	d.clashes = append(d.clashes, Clash{Object: object, Found: found, Fix: fix})
}

// refuse reports what the lab asks for that the kernel would refuse.
func (d *differ) refuse(object, found, fix string) {
	d.clashes = append(d.clashes, Clash{Object: object, Found: found, Fix: fix, Refused: true})
}

// warn notes something the plan leaves alone that a person should know of.
func (d *differ) warn(format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf(format, args...))
}

// ownedNS reports whether ns is a namespace the lab made (and so may hold only the
// lab's objects).
func (d *differ) ownedNS(ns NS) bool { return ns != Host && d.owned.Namespaces[ns] }
