package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Observe reads the objects of the scope from the kernel: every link, address and
// gateway route of each namespace in the scope that exists, the sysctls named, and the
// lab's NAT rules. Namespaces are read in parallel, GOMAXPROCS at a time.
func (k *Linux) Observe(ctx context.Context, scope plan.Scope) (plan.State, error) {
	s := plan.NewState()
	var mu sync.Mutex // guards s
	// live reports whether a namespace exists; read it only after the first pass.
	live := func(ns plan.NS) bool { return ns == plan.Host || s.Namespaces[ns] }
	err := forEach(ctx, len(scope.Namespaces), func(i int) error {
		ns := scope.Namespaces[i]
		part := plan.NewState()
		found, err := k.locate(ns, scope.Attached[ns], &part)
		if err != nil || !found {
			k.forget(ns) // a handle to a namespace that is gone is stale
		}
		if err == nil && found && !scope.ExistenceOnly[ns] {
			if err = k.observeNamespace(ns, &part); err != nil {
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
		maps.Copy(s.Entries, part.Entries)
		maps.Copy(s.SourceGone, part.SourceGone)
		return err
	})
	if err != nil {
		return s, err
	}
	err = forEach(ctx, len(scope.Sysctls), func(i int) error {
		key := scope.Sysctls[i]
		if scope.ExistenceOnly[key.NS] {
			return nil
		}
		in := k.in
		if !live(key.NS) {
			// A namespace still to be created has the sysctls netlab's own has, with
			// values of the same shape: Diff checks the value against that, and
			// otherwise takes nothing from it.
			in = func(_ plan.NS, f func() error) error { return k.in(plan.Host, f) }
		}
		return in(key.NS, func() error {
			if !sysctlExists(key.Name) {
				return unknownSysctl(key)
			}
			v, err := readSysctl(key.Name)
			if errors.Is(err, os.ErrNotExist) {
				return nil // of an interface still to be created
			}
			if err != nil {
				return fmt.Errorf("observe %s: %w", key, err)
			}
			mu.Lock()
			defer mu.Unlock()
			s.Sysctls[key] = v
			return nil
		})
	})
	if err != nil {
		return s, err
	}
	for _, t := range scope.NAT {
		if !live(t.NS) || scope.ExistenceOnly[t.NS] {
			continue
		}
		ipt, err := k.iptables(t.IPv6)
		if err != nil {
			return s, err
		}
		err = k.in(t.NS, func() error {
			rules, err := listNAT(ipt, t.NS, scope.Lab)
			for _, r := range rules {
				s.NAT[r] = true
			}
			return err
		})
		if err != nil {
			return s, fmt.Errorf("observe nat of %s: %w", t.NS, err)
		}
	}
	if err := k.observeAttached(scope.Attached, &s); err != nil {
		return s, err
	}
	return s, observeFiles(ctx, scope, &s)
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

// observeNamespace dumps links, addresses and routes of one namespace: one dump per
// object kind, never one query per object.
func (k *Linux) observeNamespace(ns plan.NS, s *plan.State) error {
	h, release, err := k.handle(ns)
	if err != nil {
		return err
	}
	defer release()
	links, err := retryDump("links", h.nl.LinkList)
	if err != nil {
		return err
	}
	names := map[int]string{}
	for _, l := range links {
		a := l.Attrs()
		names[a.Index] = a.Name
		k.remember(h, a.Name, a.Index)
	}
	for _, l := range links {
		s.Links[plan.LinkKey{NS: ns, Name: l.Attrs().Name}] = linkOf(l, names)
	}
	addrs, err := retryDump("addresses", func() ([]netlink.Addr, error) { return h.nl.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return err
	}
	for _, a := range addrs {
		name, ok := names[a.LinkIndex]
		p, pok := prefixOf(a.IPNet)
		if !ok || !pok {
			continue
		}
		s.Addrs[plan.AddrKey{Link: plan.LinkKey{NS: ns, Name: name}, Prefix: p}] = true
	}
	routes, err := retryDump("routes", func() ([]netlink.Route, error) {
		return h.nl.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return err
	}
	for _, r := range routes {
		if r.Protocol == unix.RTPROT_KERNEL || r.Type != unix.RTN_UNICAST || len(r.MultiPath) > 0 {
			continue // the kernel's own (connected subnets), and multipath, are not netlab's
		}
		var via netip.Addr
		if r.Gw != nil {
			a, ok := netip.AddrFromSlice(r.Gw)
			if !ok {
				continue
			}
			via = a.Unmap()
		}
		to := plan.DefaultRoute(via)
		if r.Dst != nil {
			p, ok := prefixOf(r.Dst)
			if !ok {
				continue
			}
			to = p
		} else if !via.IsValid() {
			if r.Family == unix.AF_INET6 {
				to = plan.DefaultRoute(netip.IPv6Unspecified())
			} else {
				to = plan.DefaultRoute(netip.IPv4Unspecified())
			}
		}
		s.Routes[plan.RouteKey{NS: ns, To: to, Metric: r.Priority}] = plan.Route{Via: via, Dev: names[r.LinkIndex]}
	}
	return nil
}

// locate finds the namespace ns of the scope, for observe to look into: the host, or
// the live namespace mounted at its /run/netns entry. When the entry is not one, it
// notes in part what is there instead (plan.State.Entries); and for an existing
// namespace (source is its file), it opens the namespace through source instead, so
// that a lab is checked against what is in the namespace before it makes the entry,
// and destroy can wait for the kernel after it removed the entry. A source that is
// gone is noted in part (plan.State.SourceGone).
func (k *Linux) locate(ns plan.NS, source string, part *plan.State) (bool, error) {
	if ns == plan.Host {
		return true, nil
	}
	entry := filepath.Join(k.netnsDir, string(ns))
	if source == entry {
		// The node is named after an entry someone else made: theirs, used as it is.
		ok, err := isNamespaceFile(entry)
		return ok, err
	}
	live, stray, err := entryOf(entry)
	switch {
	case err != nil:
		return false, err
	case live:
		k.openFrom(ns, entry)
		return true, nil
	case stray != "":
		part.Entries[ns] = stray
	}
	if source == "" {
		return false, nil
	}
	if ok, err := isNamespaceFile(source); err != nil || !ok {
		part.SourceGone[ns] = true
		return false, err
	}
	k.openFrom(ns, source)
	return true, nil
}

// observeAttached checks the /run/netns entries of existing namespaces: present, and
// holding the namespace wanted.
func (k *Linux) observeAttached(attached map[plan.NS]string, s *plan.State) error {
	for _, ns := range sortedNS(attached) {
		source := attached[ns]
		entry := filepath.Join(k.netnsDir, string(ns))
		var live bool
		var err error
		if source == entry {
			live, err = isNamespaceFile(entry) // someone else's entry, perhaps a symlink
		} else {
			live, _, err = entryOf(entry)
		}
		if err != nil {
			return err
		}
		if !live {
			continue
		}
		if source == "" {
			s.Attached[ns] = ""
			continue
		}
		same, err := sameFile(source, entry)
		switch {
		case errors.Is(err, unix.ENOENT):
			s.Attached[ns] = plan.AttachedSourceGone
		case err != nil:
			return fmt.Errorf("node %s: namespace %s: %w", ns, source, err)
		case same:
			s.Attached[ns] = source
		default:
			s.Attached[ns] = plan.AttachedElsewhere
		}
	}
	return nil
}

func sortedNS(m map[plan.NS]string) []plan.NS {
	keys := slices.Collect(maps.Keys(m))
	slices.Sort(keys)
	return keys
}

func unknownSysctl(key plan.SysctlKey) error {
	list := "sysctl -a"
	if key.NS != plan.Host {
		list = "ip netns exec " + string(key.NS) + " sysctl -a"
	}
	return fmt.Errorf("node %s: sysctl %s does not exist (no %s in its /proc/sys); check the name with `%s`",
		key.NS, key.Name, sysctlPath(key.Name), list)
}
