package plan

import (
	"cmp"
	"slices"
)

// The phases of the build order: netns (or the entry of an existing one), bridge,
// link, address, up, qdisc, route, sysctl, NAT, directory, the lab's shared file, file. Each
// kind says its phase (Object.phase). Deletions come first, in the reverse order, as
// Terraform destroys dependents before what they depend on; so an address moved between
// two interfaces is removed before it is added again.
const (
	phaseNetns = iota
	phaseBridge
	phaseLink
	phaseAddress
	phaseLinkUpdate
	phaseQdisc
	phaseRoute
	phaseSysctl
	phaseNAT
	phaseDirectory
	phaseSharedFile
	phaseFile
)

// position is an action's place in the order: its phase, negated (and shifted below
// every build phase) for a deletion or a sysctl restored to its value before the lab.
func position(a Action) int {
	k := a.Kind
	if k == Replace || k == Adopt {
		k = Create // in the place of what it creates
	}
	p := a.Target.phase(k)
	if a.Kind == Delete || a.Reason.Code == ReasonRestore {
		return -1 - p // -12 (files) first ... -1 (netns) last of the deletions
	}
	return p
}

// order sorts actions by position, then kind (a replacement before the creations of
// its phase, a deletion before a creation), then object, and fills in DependsOn (see
// dependencies).
func order(actions []Action) []Action {
	slices.SortStableFunc(actions, func(a, b Action) int {
		// Not cmp.Or: it evaluates every argument, and compare wants one phase.
		if c := cmp.Or(cmp.Compare(position(a), position(b)), cmp.Compare(b.Kind, a.Kind)); c != 0 {
			return c
		}
		return a.Target.compare(b.Target)
	})
	dependencies(actions)
	return actions
}

// compareAs compares a with o when o is of a's kind, and otherwise by kind name: a
// phase holds objects of one kind, but for the namespaces and their entries.
func compareAs[T Object](a T, o Object, compare func(a, b T) int) int {
	if b, ok := o.(T); ok {
		return compare(a, b)
	}
	return cmp.Compare(a.Type(), o.Type())
}

// depIndex is what the actions seen so far offer the later ones, by object: which
// action creates a namespace, a link, a directory, which ones delete an address in a
// namespace, and so on. Each kind's dependOn reads and writes the parts it concerns.
type depIndex struct {
	nsCreate    map[NS]int
	linkCreate  map[LinkKey]int
	linkDelete  map[LinkKey]int
	linkUpdates map[NS][]int
	addrCreates map[NS][]addrCreate
	addrDeletes map[NS][]int
	lastNAT     map[NS]int
	dirCreate   map[NS]int
	fileDeletes map[NS][]int
	sharedWrite map[string]int
	touching    map[NS][]int
}

// addrCreate is the action that creates an address.
type addrCreate struct {
	i   int
	key AddrKey
}

// needNS returns the creation of the namespace ns, when this plan makes it.
func (x *depIndex) needNS(ns NS) []int { return need(x.nsCreate, ns) }

func need[K comparable](m map[K]int, k K) []int {
	if j, ok := m[k]; ok {
		return []int{j}
	}
	return nil
}

// dependencies sets each action's DependsOn to the earlier actions it really needs,
// object by object (each kind's dependOn says which), so that independent work (the
// veths of a thousand namespaces, all created from the host) can run in parallel.
// Anything in a namespace waits for the namespace's creation, and a namespace's
// deletion waits for every other action in it.
func dependencies(actions []Action) {
	x := &depIndex{
		nsCreate: map[NS]int{}, linkCreate: map[LinkKey]int{}, linkDelete: map[LinkKey]int{},
		linkUpdates: map[NS][]int{}, addrCreates: map[NS][]addrCreate{}, addrDeletes: map[NS][]int{},
		lastNAT: map[NS]int{}, dirCreate: map[NS]int{}, fileDeletes: map[NS][]int{},
		sharedWrite: map[string]int{}, touching: map[NS][]int{},
	}
	for i := range actions {
		a := &actions[i]
		var deps []int
		switch a.Kind {
		case Replace:
			deps = append(a.Target.dependOn(x, i, Delete), a.Target.dependOn(x, i, Create)...)
			deps = slices.DeleteFunc(deps, func(j int) bool { return j == i })
		case Adopt:
			deps = a.Target.dependOn(x, i, Create)
		default:
			deps = a.Target.dependOn(x, i, a.Kind)
		}
		for _, ns := range a.Namespaces() {
			x.touching[ns] = append(x.touching[ns], i)
		}
		slices.Sort(deps)
		a.DependsOn = slices.Compact(deps)
	}
}
