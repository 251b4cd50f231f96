package reconcile

import (
	"errors"
	"fmt"
	"net"

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
