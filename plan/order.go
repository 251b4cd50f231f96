package plan

import (
	"cmp"
	"slices"
)

// phase is an action's place in the build order: netns (or the entry of an existing
// one), bridge, link, address, up, route, sysctl, NAT, directory, the lab's shared file,
// file. Deletions come first, in the reverse order, as Terraform destroys dependents
// before what they depend on; so an address moved between two interfaces is removed
// before it is added again.
func phase(a Action) int {
	var p int
	switch a.Type() {
	case TypeNetns, TypeAttach:
		p = 0
	case TypeLink:
		p = 2
		if l, ok := a.After.(Link); ok && l.Kind == Bridge && a.Kind == Create {
			p = 1 // before the ports that join it
		}
		if a.Kind == Update {
			p = 4
		}
	case TypeAddress:
		p = 3
	case TypeRoute:
		p = 5
	case TypeSysctl:
		p = 6
	case TypeNAT:
		p = 7
	case TypeFile:
		switch k := a.Target.(FileKey); {
		case k.IsDir():
			p = 8
		case k.Shared():
			p = 9 // before the links to it, whether they are made or made anew
		default:
			p = 10
		}
	}
	if a.Kind == Delete || a.Reason == reasonRestore {
		return -1 - p // -11 (files) first ... -1 (netns) last of the deletions
	}
	return p
}

func compareTarget(a, b Action) int {
	switch ta := a.Target.(type) {
	case NS:
		if tb, ok := b.Target.(Attach); ok {
			return compareNS(ta, NS(tb))
		}
		return compareNS(ta, b.Target.(NS))
	case Attach:
		if tb, ok := b.Target.(NS); ok {
			return compareNS(NS(ta), tb)
		}
		return compareNS(NS(ta), NS(b.Target.(Attach)))
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
	case FileKey:
		return compareFileKey(ta, b.Target.(FileKey))
	}
	return 0
}

// order sorts actions by phase, then kind (a replaced link is deleted before it is
// created), then key, and fills in DependsOn (see dependencies).
func order(actions []Action) []Action {
	slices.SortStableFunc(actions, func(a, b Action) int {
		// Not cmp.Or: it evaluates every argument, and compareTarget needs equal types.
		if c := cmp.Or(cmp.Compare(phase(a), phase(b)), cmp.Compare(b.Kind, a.Kind)); c != 0 {
			return c
		}
		return compareTarget(a, b)
	})
	dependencies(actions)
	return actions
}

// dependencies sets each action's DependsOn to the earlier actions it really needs,
// object by object, so that independent work (the veths of a thousand namespaces, all
// created from the host) can run in parallel:
//   - anything in a namespace waits for the namespace's creation;
//   - a veth waits for the deletion of a link it replaces; an address waits for its
//     link's creation and for the address deletions of its namespace (an address may
//     move between interfaces);
//   - a route waits for the addresses that reach its gateway, for links brought up and
//     addresses deleted in its namespace (which may drop it);
//   - NAT rules of a namespace keep their order;
//   - a file waits for its directory's creation; a directory's deletion for the
//     deletion of the files in it;
//   - a namespace's deletion waits for every other action in it.
func dependencies(actions []Action) {
	nsCreate := map[NS]int{}
	linkCreate := map[LinkKey]int{}
	linkDelete := map[LinkKey]int{}
	addrCreates := map[NS][]int{}
	addrDeletes := map[NS][]int{}
	linkUpdates := map[NS][]int{}
	lastNAT := map[NS]int{}
	dirCreate := map[NS]int{}
	fileDeletes := map[NS][]int{}
	sharedWrite := map[string]int{}
	touching := map[NS][]int{}
	for i := range actions {
		a := &actions[i]
		var deps []int
		need := func(m map[NS]int, ns NS) {
			if j, ok := m[ns]; ok {
				deps = append(deps, j)
			}
		}
		switch t := a.Target.(type) {
		case NS:
			if a.Kind == Delete {
				deps = append(deps, touching[t]...)
			} else {
				nsCreate[t] = i
			}
		case Attach:
			// Anything in an existing namespace waits for its entry, which is removed
			// after everything else in it.
			if a.Kind == Delete {
				deps = append(deps, touching[NS(t)]...)
			} else {
				nsCreate[NS(t)] = i
			}
		case LinkKey:
			ends := []LinkKey{t}
			if l, ok := a.After.(Link); ok && l.Kind == Veth {
				ends = append(ends, l.Peer)
			} else if l, ok := a.Before.(Link); ok && l.Kind == Veth && l.Peer.NS != "" {
				ends = append(ends, l.Peer)
			}
			switch a.Kind {
			case Create:
				if l := a.After.(Link); l.Master != "" || l.PeerMaster != "" {
					for _, m := range []LinkKey{{t.NS, l.Master}, {l.Peer.NS, l.PeerMaster}} {
						if j, ok := linkCreate[m]; ok && m.Name != "" {
							deps = append(deps, j) // a port waits for its bridge
						}
					}
				}
				for _, e := range ends {
					need(nsCreate, e.NS)
					if j, ok := linkDelete[e]; ok {
						deps = append(deps, j)
					}
					linkCreate[e] = i
				}
			case Update:
				need(nsCreate, t.NS)
				if m := a.After.(Link).Master; m != "" {
					bridge := LinkKey{t.NS, m}
					if j, ok := linkCreate[bridge]; ok {
						deps = append(deps, j) // joins a bridge made by this plan
					}
				}
				linkUpdates[t.NS] = append(linkUpdates[t.NS], i)
			case Delete:
				for _, e := range ends {
					linkDelete[e] = i
				}
			}
		case AddrKey:
			if a.Kind == Delete {
				addrDeletes[t.Link.NS] = append(addrDeletes[t.Link.NS], i)
				break
			}
			if j, ok := linkCreate[t.Link]; ok {
				deps = append(deps, j) // which waited for the namespace
			} else {
				need(nsCreate, t.Link.NS)
			}
			deps = append(deps, addrDeletes[t.Link.NS]...)
			addrCreates[t.Link.NS] = append(addrCreates[t.Link.NS], i)
		case RouteKey:
			if a.Kind == Delete {
				break
			}
			need(nsCreate, t.NS)
			r := a.After.(Route)
			for _, j := range addrCreates[t.NS] {
				if p := actions[j].Target.(AddrKey); p.Prefix.Masked().Contains(r.Via) || r.Dev != "" && p.Link.Name == r.Dev {
					deps = append(deps, j)
				}
			}
			if j, ok := linkCreate[LinkKey{t.NS, r.Dev}]; ok && r.Dev != "" {
				deps = append(deps, j)
			}
			deps = append(deps, linkUpdates[t.NS]...)
			deps = append(deps, addrDeletes[t.NS]...)
		case SysctlKey:
			need(nsCreate, t.NS)
			if iface, ok := SysctlInterface(t.Name); ok {
				if j, ok := linkCreate[LinkKey{t.NS, iface}]; ok {
					deps = append(deps, j) // net.ipv4.conf.IF.* needs IF
				}
			}
		case NATRule:
			need(nsCreate, t.NS)
			need(lastNAT, t.NS)
			lastNAT[t.NS] = i
		case FileKey:
			switch {
			case t.IsDir() && a.Kind == Create:
				dirCreate[t.NS] = i
			case t.IsDir() && a.Kind == Delete:
				deps = append(deps, fileDeletes[t.NS]...)
			case a.Kind == Delete:
				fileDeletes[t.NS] = append(fileDeletes[t.NS], i)
			case t.Shared():
				sharedWrite[t.Path()] = i
			default:
				need(dirCreate, t.NS)
				if target, link := LinkTarget(a.After.(string)); link {
					if j, ok := sharedWrite[target]; ok {
						deps = append(deps, j) // a link to the file written first
					}
				}
			}
		}
		for _, ns := range a.Namespaces() {
			touching[ns] = append(touching[ns], i)
		}
		slices.Sort(deps)
		a.DependsOn = slices.Compact(deps)
	}
}
