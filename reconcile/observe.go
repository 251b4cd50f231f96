package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"

	"github.com/netlab-go/netlab/internal/phase"
	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
)

// Observe reads the objects of the scope from the kernel: every link, address and
// gateway route of each namespace in the scope that exists, the pairing of the veth
// ends named, the sysctls named, the lab's NAT rules, the entries of existing
// namespaces and the files under /etc/netns.
// Namespaces and sysctls are read in parallel, GOMAXPROCS at a time. The files and the
// host's NAT rules are read while the namespaces are: neither depends on which
// namespaces exist, and listing NAT rules runs iptables, mostly waiting for it.
func (k *Linux) Observe(ctx context.Context, scope plan.Scope) (plan.State, error) {
	s := plan.NewState()
	s.MissingQdiscs = missingQdiscs(scope.QdiscKinds)
	var hostNAT, nsNAT []plan.NATTable
	for _, t := range scope.NAT {
		if t.NS == plan.Host {
			hostNAT = append(hostNAT, t)
		} else {
			nsNAT = append(nsNAT, t)
		}
	}
	var beside sync.WaitGroup
	var filesErr, natErr error
	nat := plan.NewState() // the host's rules, merged once read: s.NAT is written below too
	beside.Go(func() {
		defer phase.Begin("observe files")()
		filesErr = observeFiles(ctx, scope, &s) // writes only s.Files and s.MarkedFiles
	})
	beside.Go(func() {
		defer phase.Begin("observe nat")()
		natErr = k.observeNAT(scope, hostNAT, &nat)
	})
	type step struct {
		name string
		f    func() error
	}
	steps := []step{{"observe netns", func() error { return k.observeNamespaces(ctx, scope, &s) }}}
	if len(scope.VethPeers) > 0 {
		steps = append(steps, step{"observe veth peers", func() error { return k.observeVethPeers(scope, &s) }})
	}
	steps = append(steps,
		step{"observe sysctls", func() error { return k.observeSysctls(ctx, scope, &s) }},
		step{"observe nat", func() error { return k.observeNAT(scope, nsNAT, &s) }},
		step{"observe attached", func() error { return k.observeAttached(scope.Attached, &s) }})
	var err error
	for _, step := range steps {
		end := phase.Begin(step.name)
		err = step.f()
		end()
		if err != nil {
			break
		}
	}
	beside.Wait()
	maps.Copy(s.NAT, nat.NAT)
	maps.Copy(s.PlainNAT, nat.PlainNAT)
	return s, cmp.Or(err, natErr, filesErr)
}

// observeVethPeers reads, for each veth end of scope.VethPeers that s holds, the end
// the kernel pairs it with (plan.State.VethPeers). Only apply --adopt asks for it.
func (k *Linux) observeVethPeers(scope plan.Scope, s *plan.State) error {
	names := map[plan.NS]map[int]string{} // each peer namespace's links by index, dumped once
	for end, want := range scope.VethPeers {
		if l, ok := s.Links[end]; !ok || l.Kind != plan.Veth {
			continue
		}
		peer, err := k.vethPeer(end, want.NS, s, names)
		if err != nil {
			return fmt.Errorf("observe the peer of veth %s: %w", end, err)
		}
		s.VethPeers[end] = peer
	}
	return nil
}

// vethPeer returns the end the veth end is paired with when that end is in namespace
// ns, else the zero key. The end's own link gives its peer's index and, when the peer
// is in another namespace, the id end's namespace gives that one (IFLA_LINK and
// IFLA_LINK_NETNSID, as `ip link` shows "link-netns"): the peer is in ns when ns has
// that id there, and is the link of that index in ns. names holds the namespaces'
// links by index dumped so far (a star's host is the peer namespace of every end).
func (k *Linux) vethPeer(end plan.LinkKey, ns plan.NS, s *plan.State, names map[plan.NS]map[int]string) (plan.LinkKey, error) {
	if !live(s, ns) {
		return plan.LinkKey{}, nil
	}
	h, release, err := k.handle(end.NS)
	if err != nil {
		return plan.LinkKey{}, err
	}
	defer release()
	l, err := h.nl.LinkByName(end.Name)
	if err != nil {
		return plan.LinkKey{}, err
	}
	a, there := l.Attrs(), h
	if ns == end.NS {
		if a.NetNsID >= 0 {
			return plan.LinkKey{}, nil // the peer is in another namespace
		}
	} else {
		p, releasePeer, err := k.handle(ns)
		if err != nil {
			return plan.LinkKey{}, err
		}
		defer releasePeer()
		id, err := h.nl.GetNetNsIdByFd(int(p.ns))
		if err != nil {
			return plan.LinkKey{}, fmt.Errorf("id of namespace %s in %s: %w", ns, end.NS, err)
		}
		if a.NetNsID < 0 || a.NetNsID != id {
			return plan.LinkKey{}, nil
		}
		there = p
	}
	if names[ns] == nil {
		links, err := k.dumpLinks(there)
		if err != nil {
			return plan.LinkKey{}, err
		}
		names[ns] = map[int]string{}
		for _, pl := range links {
			names[ns][pl.Attrs().Index] = pl.Attrs().Name
		}
	}
	if name, ok := names[ns][a.ParentIndex]; ok {
		return plan.LinkKey{NS: ns, Name: name}, nil
	}
	return plan.LinkKey{}, nil
}

// familyOf is the address family whose addresses and routes Observe reads: IPv4 alone
// when the scope says the lab has no IPv6 (the kernel dumps one family without taking
// its rtnl lock, which a dump of all takes), else all.
func familyOf(scope plan.Scope) int {
	if scope.IPv4Only {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_ALL
}

// live reports whether a namespace of an observed state exists.
func live(s *plan.State, ns plan.NS) bool { return ns == plan.Host || s.Namespaces[ns] }

// observeNamespaces finds each namespace of the scope and dumps what is in it. Each
// worker gathers into a State of its own, merged into s at the end: a namespace's
// objects are few, and a State and a lock for each of thousands would cost more than
// the dumps.
func (k *Linux) observeNamespaces(ctx context.Context, scope plan.Scope, s *plan.State) error {
	workers := min(runtime.GOMAXPROCS(0), len(scope.Namespaces))
	parts := make([]plan.State, workers)
	for w := range parts {
		parts[w] = plan.NewState()
	}
	err := forEachOn(ctx, workers, len(scope.Namespaces), func(w, i int) error {
		ns, part := scope.Namespaces[i], &parts[w]
		found, err := k.locate(ns, scope.Attached[ns], part)
		if err != nil || !found {
			k.forget(ns) // a handle to a namespace that is gone is stale
		}
		if err == nil && found && !scope.ExistenceOnly[ns] {
			var taken bool
			if ns == plan.Host {
				taken, err = k.takeAhead(scope.Qdiscs[ns], part)
			}
			if !taken && err == nil {
				err = k.observeNamespace(ns, scope.Qdiscs[ns], familyOf(scope), part)
			}
			if err != nil {
				err = fmt.Errorf("observe namespace %s: %w", ns, err)
			}
		}
		if found && ns != plan.Host {
			part.Namespaces[ns] = true
		}
		return err
	})
	for _, part := range parts {
		merge(s, part)
	}
	return err
}

// merge copies into s what observing namespaces gathered into part.
func merge(s *plan.State, part plan.State) {
	maps.Copy(s.Namespaces, part.Namespaces)
	maps.Copy(s.Links, part.Links)
	maps.Copy(s.Addrs, part.Addrs)
	maps.Copy(s.Routes, part.Routes)
	maps.Copy(s.Qdiscs, part.Qdiscs)
	maps.Copy(s.Entries, part.Entries)
	maps.Copy(s.SourceGone, part.SourceGone)
}

// forEach calls f for 0..n-1 on GOMAXPROCS goroutines and returns the first error.
func forEach(ctx context.Context, n int, f func(i int) error) error {
	return forEachOn(ctx, min(runtime.GOMAXPROCS(0), n), n, func(_, i int) error { return f(i) })
}

// forEachOn calls f(w, i) for i in 0..n-1 on the given number of goroutines, w being
// the goroutine's number, and returns the first error.
func forEachOn(ctx context.Context, workers, n int, f func(w, i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(w, i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// observeNamespace dumps links, addresses, routes and, when asked, qdiscs of one
// namespace: one dump per object kind, never one query per object (see dumpLinks).
func (k *Linux) observeNamespace(ns plan.NS, qdiscs bool, family int, s *plan.State) error {
	h, release, err := k.handle(ns)
	if err != nil {
		return err
	}
	defer release()
	links, err := k.dumpLinks(h)
	if err != nil {
		return err
	}
	_, err = k.observeWith(h, ns, links, qdiscs, family, s)
	return err
}

// dumpLinks dumps the links of h's namespace: the host's without their counters
// (hostLinks), the others' with netlink's LinkList (a namespace holds a few).
func (k *Linux) dumpLinks(h *nsHandle) ([]netlink.Link, error) {
	if h.name == plan.Host {
		return k.hostLinks()
	}
	return retryDump("links", h.nl.LinkList)
}

// observeWith puts the dumped links of h's namespace into s, then dumps its
// addresses and routes of the family (netlink.FAMILY_ALL or FAMILY_V4) and, when asked,
// qdiscs, and returns the links' names by index.
func (k *Linux) observeWith(h *nsHandle, ns plan.NS, links []netlink.Link, qdiscs bool, family int, s *plan.State) (map[int]string, error) {
	names, err := k.gatherLinks(h, ns, links, s)
	if err != nil {
		return nil, err
	}
	if err := observeAddrs(h, ns, names, family, s); err != nil {
		return nil, err
	}
	if err := observeRoutes(h, ns, names, family, s); err != nil {
		return nil, err
	}
	if qdiscs {
		return names, observeQdiscs(h, ns, names, s)
	}
	return names, nil
}

func sortedNS(m map[plan.NS]string) []plan.NS {
	keys := slices.Collect(maps.Keys(m))
	slices.Sort(keys)
	return keys
}
