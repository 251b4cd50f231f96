package reconcile

import (
	"errors"
	"net"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func (k *Linux) applyRoute(a plan.Action, key plan.RouteKey) error {
	h, err := k.handle(key.NS)
	if err != nil {
		return err
	}
	value := a.After
	if a.Kind == plan.Delete {
		value = a.Before
	}
	r := &netlink.Route{
		Dst:      ipNet(key.To),
		Gw:       net.IP(value.(plan.Route).Via.AsSlice()),
		Table:    unix.RT_TABLE_MAIN,
		Protocol: unix.RTPROT_BOOT, // what `ip route add` sets
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
