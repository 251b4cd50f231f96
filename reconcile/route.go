package reconcile

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ApplyRoute adds, replaces or deletes a route of the main table.
func (k *Linux) ApplyRoute(a plan.Action, o plan.RouteObject) error {
	key := o.Key
	h, release, err := k.handle(key.NS)
	if err != nil {
		return err
	}
	defer release()
	want := o.After
	if a.Kind == plan.Delete {
		want = o.Before
	}
	r := &netlink.Route{
		Dst:      ipNet(key.To),
		Table:    unix.RT_TABLE_MAIN,
		Protocol: unix.RTPROT_BOOT, // what `ip route add` sets
		Priority: key.Metric,
	}
	if want.Via.IsValid() {
		r.Gw = net.IP(want.Via.AsSlice())
	} else if key.To.Addr().Is4() {
		r.Scope = unix.RT_SCOPE_LINK // as ip sets it for a route with no gateway
	}
	if want.Dev != "" {
		l, err := k.link(h, want.Dev)
		if err != nil {
			return fmt.Errorf("find route device %s: %w", want.Dev, err)
		}
		r.LinkIndex = l.Attrs().Index
	}
	switch a.Kind {
	case plan.Create:
		return h.nl.RouteAdd(r)
	case plan.Update:
		return h.nl.RouteReplace(r)
	}
	if err := h.nl.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}

// observeRoutes dumps the routes of a namespace's main table into s, but for the
// kernel's own (of connected subnets) and multipath ones; names are its links by index.
func observeRoutes(h *nsHandle, ns plan.NS, names map[int]string, family int, s *plan.State) error {
	routes, err := retryDump("routes", func() ([]netlink.Route, error) {
		// An empty filter is the main table: netlink skips the other tables' routes (the
		// local table's several per address) before parsing them, which a filter on
		// the main table would parse first.
		return h.nl.RouteListFiltered(family, &netlink.Route{}, 0)
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
