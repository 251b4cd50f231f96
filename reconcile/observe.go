package reconcile

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"

	"github.com/netlab-go/netlab/plan"
)

// Observe reads the objects of the scope from the kernel: every link, address and
// gateway route of each namespace in the scope that exists, the sysctls named, the
// lab's NAT rules, the entries of existing namespaces and the files under /etc/netns.
// Namespaces and sysctls are read in parallel, GOMAXPROCS at a time.
func (k *Linux) Observe(ctx context.Context, scope plan.Scope) (plan.State, error) {
	s := plan.NewState()
	s.MissingQdiscs = missingQdiscs(scope.QdiscKinds)
	if err := k.observeNamespaces(ctx, scope, &s); err != nil {
		return s, err
	}
	if err := k.observeSysctls(ctx, scope, &s); err != nil {
		return s, err
	}
	if err := k.observeNAT(scope, &s); err != nil {
		return s, err
	}
	if err := k.observeAttached(scope.Attached, &s); err != nil {
		return s, err
	}
	return s, observeFiles(ctx, scope, &s)
}

// live reports whether a namespace of an observed state exists.
func live(s *plan.State, ns plan.NS) bool { return ns == plan.Host || s.Namespaces[ns] }

// observeNamespaces finds each namespace of the scope and dumps what is in it.
func (k *Linux) observeNamespaces(ctx context.Context, scope plan.Scope, s *plan.State) error {
	var mu sync.Mutex // guards s
	return forEach(ctx, len(scope.Namespaces), func(i int) error {
		ns := scope.Namespaces[i]
		part := plan.NewState()
		found, err := k.locate(ns, scope.Attached[ns], &part)
		if err != nil || !found {
			k.forget(ns) // a handle to a namespace that is gone is stale
		}
		if err == nil && found && !scope.ExistenceOnly[ns] {
			if err = k.observeNamespace(ns, scope.Qdiscs[ns], &part); err != nil {
				err = fmt.Errorf("observe namespace %s: %w", ns, err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if found && ns != plan.Host {
			s.Namespaces[ns] = true
		}
		maps.Copy(s.Links, part.Links)
		maps.Copy(s.Addrs, part.Addrs)
		maps.Copy(s.Routes, part.Routes)
		maps.Copy(s.Qdiscs, part.Qdiscs)
		maps.Copy(s.Entries, part.Entries)
		maps.Copy(s.SourceGone, part.SourceGone)
		return err
	})
}

// forEach calls f for 0..n-1 on GOMAXPROCS goroutines and returns the first error.
func forEach(ctx context.Context, n int, f func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
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
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
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
// namespace: one dump per object kind, never one query per object.
func (k *Linux) observeNamespace(ns plan.NS, qdiscs bool, s *plan.State) error {
	h, release, err := k.handle(ns)
	if err != nil {
		return err
	}
	defer release()
	names, err := k.observeLinks(h, ns, s)
	if err != nil {
		return err
	}
	if err := observeAddrs(h, ns, names, s); err != nil {
		return err
	}
	if err := observeRoutes(h, ns, names, s); err != nil {
		return err
	}
	if qdiscs {
		return observeQdiscs(h, ns, names, s)
	}
	return nil
}

func sortedNS(m map[plan.NS]string) []plan.NS {
	keys := slices.Collect(maps.Keys(m))
	slices.Sort(keys)
	return keys
}
