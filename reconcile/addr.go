package reconcile

import (
	"errors"
	"net"
	"net/netip"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// ApplyAddr adds or deletes an address of an interface.
func (k *Linux) ApplyAddr(a plan.Action, o plan.AddrObject) error {
	key := o.Key
	h, release, err := k.handle(key.Link.NS)
	if err != nil {
		return err
	}
	defer release()
	addr := &netlink.Addr{IPNet: ipNet(key.Prefix)}
	if a.Kind == plan.Delete {
		err := k.byIndex(h, key.Link.Name, func(l netlink.Link) error { return h.nl.AddrDel(l, addr) })
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !notFound(err) {
			return err
		}
		return nil
	}
	if key.Prefix.Addr().Is6() {
		// Duplicate address detection on a private veth only leaves the address
		// unusable for a moment; nodad makes it usable at once.
		addr.Flags = unix.IFA_F_NODAD
	}
	err = k.byIndex(h, key.Link.Name, func(l netlink.Link) error { return h.nl.AddrAdd(l, addr) })
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// observeAddrs dumps the addresses of a namespace into s; names are its links by index.
func observeAddrs(h *nsHandle, ns plan.NS, names map[int]string, family int, s *plan.State) error {
	addrs, err := retryDump("addresses", func() ([]netlink.Addr, error) { return h.nl.AddrList(nil, family) })
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
	return nil
}
