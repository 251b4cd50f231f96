package reconcile

import (
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
// gateway route of each namespace in the scope that exists, the sysctls named, the
// lab's NAT rules, the entries of existing namespaces and the files under /etc/netns.
// Namespaces and sysctls are read in parallel, GOMAXPROCS at a time.
func (k *Linux) Observe(ctx context.Context, scope plan.Scope) (plan.State, error) {
	s := plan.NewState()
	s.MissingQdiscs = missingQdiscs(scope.QdiscKinds)
	for _, step := range []struct {
		name string
		f    func() error
	}{
		{"observe netns", func() error { return k.observeNamespaces(ctx, scope, &s) }},
		{"observe sysctls", func() error { return k.observeSysctls(ctx, scope, &s) }},
		{"observe nat", func() error { return k.observeNAT(scope, &s) }},
		{"observe attached", func() error { return k.observeAttached(scope.Attached, &s) }},
		{"observe files", func() error { return observeFiles(ctx, scope, &s) }},
	} {
		end := phase.Begin(step.name)
		err := step.f()
		end()
		if err != nil {
			return s, err
		}
	}
	return s, nil
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
				err = k.observeNamespace(ns, scope.Qdiscs[ns], part)
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
func (k *Linux) observeNamespace(ns plan.NS, qdiscs bool, s *plan.State) error {
	h, release, err := k.handle(ns)
	if err != nil {
		return err
	}
	defer release()
	links, err := k.dumpLinks(h)
	if err != nil {
		return err
	}
	_, err = k.observeWith(h, ns, links, qdiscs, s)
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
// addresses, routes and, when asked, qdiscs, and returns the links' names by index.
func (k *Linux) observeWith(h *nsHandle, ns plan.NS, links []netlink.Link, qdiscs bool, s *plan.State) (map[int]string, error) {
	names, err := k.gatherLinks(h, ns, links, s)
	if err != nil {
		return nil, err
	}
	if err := observeAddrs(h, ns, names, s); err != nil {
		return nil, err
	}
	if err := observeRoutes(h, ns, names, s); err != nil {
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
