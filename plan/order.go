package plan

import (
	"cmp"
	"slices"
)

// phase is an action's place in the build order: netns, link, address, up, route,
// sysctl, NAT. Deletions come first, in the reverse order, as Terraform destroys
// dependents before what they depend on; so an address moved between two interfaces
// is removed before it is added again.
func phase(a Action) int {
	var p int
	switch a.Type() {
	case TypeNetns:
		p = 0
	case TypeLink:
		p = 1
		if a.Kind == Update {
			p = 3
		}
	case TypeAddress:
		p = 2
	case TypeRoute:
		p = 4
	case TypeSysctl:
		p = 5
	case TypeNAT:
		p = 6
	}
	if a.Kind == Delete || a.Reason == reasonRestore {
		return -1 - p // -7 (NAT) first ... -1 (netns) last of the deletions
	}
	return p
}

func compareTarget(a, b Action) int {
	switch ta := a.Target.(type) {
	case NS:
		return compareNS(ta, b.Target.(NS))
	case LinkKey:
		return compareLinkKey(ta, b.Target.(LinkKey))
	case AddrKey:
		return compareAddrKey(ta, b.Target.(AddrKey))
	case RouteKey:
		return compareRouteKey(ta, b.Target.(RouteKey))
	case SysctlKey:
		return compareSysctlKey(ta, b.Target.(SysctlKey))
	case NATRule:
		return compareNATRule(ta, b.Target.(NATRule))
	}
	return 0
}

// order sorts actions by phase, then kind (a replaced link is deleted before it is
// created), then key, and fills in DependsOn: each action depends on the previous
// action in each namespace it touches, so the actions of one namespace keep their
// order and independent namespaces may proceed in parallel.
func order(actions []Action) []Action {
	slices.SortStableFunc(actions, func(a, b Action) int {
		// Not cmp.Or: it evaluates every argument, and compareTarget needs equal types.
		if c := cmp.Or(cmp.Compare(phase(a), phase(b)), cmp.Compare(b.Kind, a.Kind)); c != 0 {
			return c
		}
		return compareTarget(a, b)
	})
	last := map[NS]int{}
	for i := range actions {
		actions[i].DependsOn = nil
		for _, ns := range actions[i].Namespaces() {
			if j, ok := last[ns]; ok && !slices.Contains(actions[i].DependsOn, j) {
				actions[i].DependsOn = append(actions[i].DependsOn, j)
			}
			last[ns] = i
		}
		slices.Sort(actions[i].DependsOn)
	}
	return actions
}
