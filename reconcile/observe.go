package reconcile

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Observe reads the objects of the scope from the kernel: every link, address and
// gateway route of each namespace in the scope that exists, the sysctls named, and the
// lab's NAT rules.
func (k *Linux) Observe(ctx context.Context, scope plan.Scope) (plan.State, error) {
	s := plan.NewState()
	live := map[plan.NS]bool{}
	for _, ns := range scope.Namespaces {
		if ns == plan.Host {
			live[ns] = true
			continue
		}
		ok, err := isNamespaceFile(filepath.Join(k.netnsDir, string(ns)))
		if err != nil {
			return s, err
		}
		if ok {
			live[ns] = true
			s.Namespaces[ns] = true
		} else {
			k.forget(ns) // a handle to a namespace that is gone is stale
		}
	}
	for _, ns := range scope.Namespaces {
		if err := ctx.Err(); err != nil {
			return s, err
		}
		if !live[ns] {
			continue
		}
		if err := k.observeNamespace(ns, &s); err != nil {
			return s, fmt.Errorf("observe namespace %s: %w", ns, err)
		}
	}
	for _, key := range scope.Sysctls {
		if !live[key.NS] {
			continue
		}
		err := k.in(key.NS, func() error {
			v, err := readSysctl(key.Name)
			s.Sysctls[key] = v
			return err
		})
		if err != nil {
			return s, fmt.Errorf("observe %s: %w", key, err)
		}
	}
	for _, t := range scope.NAT {
		if !live[t.NS] {
			continue
		}
		ipt, err := newIPTables(t.IPv6)
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
	return s, nil
}

// observeNamespace dumps links, addresses and routes of one namespace: one dump per
// object kind, never one query per object.
func (k *Linux) observeNamespace(ns plan.NS, s *plan.State) error {
	h, err := k.handle(ns)
	if err != nil {
		return err
	}
	links, err := retryDump("links", h.nl.LinkList)
	if err != nil {
		return err
	}
	names := map[int]string{}
	for _, l := range links {
		a := l.Attrs()
		names[a.Index] = a.Name
		s.Links[plan.LinkKey{NS: ns, Name: a.Name}] = plan.Link{
			Kind: linkKind(l), Alias: a.Alias, Up: a.Flags&unix.IFF_UP != 0,
		}
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
		if r.Protocol == unix.RTPROT_KERNEL || r.Type != unix.RTN_UNICAST || r.Gw == nil || len(r.MultiPath) > 0 {
			continue // netlab manages gateway routes only
		}
		via, ok := netip.AddrFromSlice(r.Gw)
		if !ok {
			continue
		}
		via = via.Unmap()
		to := plan.DefaultRoute(via)
		if r.Dst != nil {
			if p, ok := prefixOf(r.Dst); ok {
				to = p
			}
		}
		s.Routes[plan.RouteKey{NS: ns, To: to}] = plan.Route{Via: via}
	}
	return nil
}
