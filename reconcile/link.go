package reconcile

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// linkKind maps a netlink link to the kind netlab models.
func linkKind(l netlink.Link) plan.LinkKind {
	if l.Attrs().Flags&net.FlagLoopback != 0 {
		return plan.Loopback
	}
	return plan.LinkKind(l.Type())
}

func notFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// ApplyLink creates a veth pair, a bridge or a macvlan and finishes it, changes a
// link's attributes in place, or deletes a link.
func (k *Linux) ApplyLink(a plan.Action, o plan.LinkObject) error {
	key := o.Key
	h, release, err := k.handle(key.NS)
	if err != nil {
		return err
	}
	defer release()
	switch a.Kind {
	case plan.Create:
		switch want := o.After; want.Kind {
		case plan.Bridge:
			return k.createBridge(h, a, key, want)
		case plan.Macvlan:
			return k.createMacvlan(h, a, key, want)
		case plan.Vxlan:
			return k.createVxlan(h, a, key, want)
		default:
			return k.createVeth(h, a, o)
		}
	case plan.Delete:
		l, err := h.nl.LinkByName(key.Name)
		if notFound(err) {
			return nil // already gone, with its peer's namespace perhaps
		}
		if err != nil {
			return fmt.Errorf("find %s: %w", key.Name, err)
		}
		if err := h.nl.LinkDel(l); err != nil && !notFound(err) && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("delete %s: %w", key.Name, err) // ENODEV: the kernel took it meanwhile
		}
		return nil
	}
	l, err := h.nl.LinkByName(key.Name)
	if err != nil {
		return fmt.Errorf("find %s: %w", key.Name, err)
	}
	return finish(h, l, o.Before, o.After) // as observed for the plan
}

// createBridge creates a bridge, then marks it, sets its MTU and brings it up.
func (k *Linux) createBridge(h *nsHandle, a plan.Action, key plan.LinkKey, want plan.Link) error {
	br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
	br.Name = key.Name
	br.HardwareAddr = hwAddr(plan.LinkMAC(a.Lab, key))
	if err := h.nl.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge %s: %w", key, err)
	}
	_, err := k.finishNew(h, key.Name, want)
	return err
}

// createMacvlan creates a macvlan on its parent in the parent's namespace, straight
// into the node's namespace (`ip link add ... netns NODE`), then finishes it there.
func (k *Linux) createMacvlan(h *nsHandle, a plan.Action, key plan.LinkKey, want plan.Link) error {
	ph, release, err := k.handle(want.Parent.NS)
	if err != nil {
		return err
	}
	defer release()
	parent, err := ph.nl.LinkByName(want.Parent.Name)
	if err != nil {
		return fmt.Errorf("find macvlan parent %s: %w", want.Parent, err)
	}
	mode, ok := macvlanModes[want.Mode]
	if !ok {
		return fmt.Errorf("macvlan %s: unknown mode %q", key, want.Mode)
	}
	mv := &netlink.Macvlan{LinkAttrs: netlink.NewLinkAttrs(), Mode: mode}
	mv.Name = key.Name
	mv.HardwareAddr = hwAddr(plan.LinkMAC(a.Lab, key))
	mv.ParentIndex = parent.Attrs().Index
	if key.NS != want.Parent.NS {
		mv.Namespace = netlink.NsFd(int(h.ns))
	}
	if err := ph.nl.LinkAdd(mv); err != nil {
		return fmt.Errorf("create macvlan %s on %s: %w", key, want.Parent, err)
	}
	_, err = k.finishNew(h, key.Name, want)
	return err
}

// createVxlan creates a VXLAN end in the host, straight into the node's namespace
// (`ip link add ... netns NODE type vxlan ...`): its socket stays in the host, on the
// underlay. Then it finishes it in the node.
func (k *Linux) createVxlan(h *nsHandle, a plan.Action, key plan.LinkKey, want plan.Link) error {
	host, release, err := k.handle(plan.Host)
	if err != nil {
		return err
	}
	defer release()
	vx := &netlink.Vxlan{LinkAttrs: netlink.NewLinkAttrs(), VxlanId: want.VNI, SrcAddr: net.IP(want.Local.AsSlice()),
		Group: net.IP(want.Remote.AsSlice()), Port: want.Port} // no Remote: nil, a segment's port

	vx.Name = key.Name
	vx.HardwareAddr = hwAddr(plan.LinkMAC(a.Lab, key))
	if key.NS != plan.Host {
		vx.Namespace = netlink.NsFd(int(h.ns))
	}
	if err := host.nl.LinkAdd(vx); err != nil {
		return fmt.Errorf("create vxlan %s (vni %d to %s): %w", key, want.VNI, want.Remote, err)
	}
	index, err := k.finishNew(h, key.Name, want)
	if err != nil {
		return err
	}
	for _, r := range want.Flood {
		// bridge fdb append 00:00:00:00:00:00 dev NAME dst R: head-end replication.
		fdb := &netlink.Neigh{LinkIndex: index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
			State: netlink.NUD_NOARP | netlink.NUD_PERMANENT, HardwareAddr: make(net.HardwareAddr, 6), IP: net.IP(r.AsSlice())}
		if err := h.nl.NeighAppend(fdb); err != nil {
			return fmt.Errorf("add the flood entry of vxlan %s to %s: %w", key, r, err)
		}
	}
	return nil
}

// floodOf reads the underlays a VXLAN port floods to: its all-zeros FDB entries, as
// `bridge fdb show dev NAME` lists them, sorted.
func floodOf(h *nsHandle, index int) ([]netip.Addr, error) {
	fdb, err := retryDump("fdb", func() ([]netlink.Neigh, error) { return h.nl.NeighList(index, unix.AF_BRIDGE) })
	if err != nil {
		return nil, err
	}
	var flood []netip.Addr
	for _, n := range fdb {
		a, ok := netip.AddrFromSlice(n.IP)
		if ok && n.LinkIndex == index && bytes.Equal(n.HardwareAddr, make([]byte, 6)) {
			flood = append(flood, a.Unmap())
		}
	}
	slices.SortFunc(flood, netip.Addr.Compare)
	return slices.Compact(flood), nil
}

var macvlanModes = map[string]netlink.MacvlanMode{
	"bridge": netlink.MACVLAN_MODE_BRIDGE, "private": netlink.MACVLAN_MODE_PRIVATE, "vepa": netlink.MACVLAN_MODE_VEPA,
	"passthru": netlink.MACVLAN_MODE_PASSTHRU, "source": netlink.MACVLAN_MODE_SOURCE,
}

// macvlanModeName is the name `ip link` gives a macvlan mode, or "" for one it has none.
func macvlanModeName(m netlink.MacvlanMode) string {
	for name, mode := range macvlanModes {
		if mode == m {
			return name
		}
	}
	return ""
}

// createVeth creates a veth pair with the peer made straight in its namespace, both
// ends down, then finishes this end and then the peer (alias, MTU, master, ..., up
// last; see finish). The kernel ignores an alias given at creation, hence the second
// step; a run killed in between leaves links that carry the lab's MAC (plan.LinkMAC).
//
// This end comes up last, as every link netlab makes does, not in the creating message.
// A link that is up but not ready for IPv6 (no carrier: its peer is still down) makes
// the kernel walk its namespace's whole IPv6 routing table (rt6_sync_down_dev, under the
// RTNL lock) at each change to it, such as its alias, and at the first lookup after its
// creation. In the host of a lab of N namespaces that is a walk of thousands of routes,
// twice for each of N veths. A link still down is spared both, and coming up without a
// carrier walks nothing.
func (k *Linux) createVeth(h *nsHandle, a plan.Action, o plan.LinkObject) error {
	key, want := o.Key, o.After
	peer, release, err := k.handle(want.Peer.NS)
	if err != nil {
		return err
	}
	defer release()
	veth := &netlink.Veth{
		LinkAttrs:        netlink.NewLinkAttrs(),
		PeerName:         want.Peer.Name,
		PeerNamespace:    netlink.NsFd(int(peer.ns)),
		PeerHardwareAddr: hwAddr(plan.LinkMAC(a.Lab, want.Peer)),
		PeerTxQLen:       -1, // the kernel's default, as for this end (0 would be sent as 0)
	}
	veth.Name = key.Name
	veth.HardwareAddr = hwAddr(plan.LinkMAC(a.Lab, key))
	if err := h.nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s with peer %s: %w", key, want.Peer, err)
	}
	if veth.Index == 0 {
		return fmt.Errorf("create veth %s: the kernel did not report its index", key)
	}
	k.remember(h, key.Name, veth.Index)
	if err := finish(h, veth, plan.Link{}, want); err != nil {
		return err
	}
	_, err = k.finishNew(peer, want.Peer.Name, o.PeerEnd)
	return err
}

// hwAddr is the netlink form of a MAC.
func hwAddr(m plan.MAC) net.HardwareAddr { return net.HardwareAddr(m[:]) }

// macOf is the plan form of a link's address; zero unless it is an Ethernet one.
func macOf(a net.HardwareAddr) plan.MAC {
	var m plan.MAC
	if len(a) == len(m) {
		copy(m[:], a)
	}
	return m
}

// linkAttr is how netlink sets one of plan.LinkAttrs on a link, and reads it back from
// a dumped link (names maps the namespace's interface indexes to names).
type linkAttr struct {
	set  func(h *nsHandle, l netlink.Link, want plan.Link) error
	read func(a *netlink.LinkAttrs, names map[int]string, l *plan.Link)
}

// linkAttrs has an entry for each of plan.LinkAttrs, by name; TestLinkAttrsComplete
// checks that none is missing.
var linkAttrs = map[string]linkAttr{
	"alias": {
		set:  func(h *nsHandle, l netlink.Link, want plan.Link) error { return h.nl.LinkSetAlias(l, want.Alias) },
		read: func(a *netlink.LinkAttrs, _ map[int]string, l *plan.Link) { l.Alias = a.Alias },
	},
	"mtu": {
		set:  func(h *nsHandle, l netlink.Link, want plan.Link) error { return h.nl.LinkSetMTU(l, want.MTU) },
		read: func(a *netlink.LinkAttrs, _ map[int]string, l *plan.Link) { l.MTU = a.MTU },
	},
	"txqueuelen": {
		set:  func(h *nsHandle, l netlink.Link, want plan.Link) error { return h.nl.LinkSetTxQLen(l, want.TxQueueLen) },
		read: func(a *netlink.LinkAttrs, _ map[int]string, l *plan.Link) { l.TxQueueLen = a.TxQLen },
	},
	"master": {
		set: func(h *nsHandle, l netlink.Link, want plan.Link) error {
			if want.Master == "" {
				return h.nl.LinkSetNoMaster(l)
			}
			m, err := h.nl.LinkByName(want.Master)
			if err != nil {
				return fmt.Errorf("find bridge %s: %w", want.Master, err)
			}
			return h.nl.LinkSetMasterByIndex(l, m.Attrs().Index)
		},
		read: func(a *netlink.LinkAttrs, names map[int]string, l *plan.Link) { l.Master = names[a.MasterIndex] },
	},
	"up": {
		set: func(h *nsHandle, l netlink.Link, want plan.Link) error {
			if want.Up {
				return h.nl.LinkSetUp(l)
			}
			return h.nl.LinkSetDown(l)
		},
		read: func(a *netlink.LinkAttrs, _ map[int]string, l *plan.Link) { l.Up = a.Flags&unix.IFF_UP != 0 },
	},
}

// linkOf is the plan form of a dumped link: its kind, MAC, macvlan mode and the
// attributes of plan.LinkAttrs.
func linkOf(l netlink.Link, names map[int]string) plan.Link {
	a := l.Attrs()
	link := plan.Link{Kind: linkKind(l), MAC: macOf(a.HardwareAddr)}
	for _, at := range plan.LinkAttrs {
		linkAttrs[at.Name].read(a, names, &link)
	}
	switch l := l.(type) {
	case *netlink.Macvlan:
		link.Mode = macvlanModeName(l.Mode)
	case *netlink.Vxlan:
		link.VNI, link.Port = l.VxlanId, l.Port
		link.Local, _ = netip.AddrFromSlice(l.SrcAddr)
		link.Remote, _ = netip.AddrFromSlice(l.Group)
		link.Local, link.Remote = link.Local.Unmap(), link.Remote.Unmap()
	}
	return link
}

// finish takes the link l, whose state is have, to want in every attribute of
// plan.LinkAttrs, in their order: as `ip link set NAME alias A mtu N master B up` does.
func finish(h *nsHandle, l netlink.Link, have, want plan.Link) error {
	for _, at := range plan.LinkAttrs {
		if !at.Differs(want, have) {
			continue
		}
		if err := linkAttrs[at.Name].set(h, l, want); err != nil {
			return fmt.Errorf("set %s of %s: %w", at.Name, l.Attrs().Name, err)
		}
	}
	return nil
}

// finishNew finishes a link just made (see finish) that is known by its name only,
// such as a veth's far end or a link made into another namespace, and remembers its
// index, which it returns.
//
// Not in one message: netlink's LinkModify would set every attribute in one
// RTM_NEWLINK, as `ip link set NAME alias A up` does, but it names the kind "device",
// and kernels from 6.13 on look that kind up first, asking modprobe for a module
// "rtnl-link-device" at every call on a kernel with modules. Named with the link's own
// kind instead, that one message measured no faster than these calls.
func (k *Linux) finishNew(h *nsHandle, name string, want plan.Link) (int, error) {
	l, err := h.nl.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("find %s: %w", name, err)
	}
	k.remember(h, name, l.Attrs().Index)
	return l.Attrs().Index, finish(h, l, plan.Link{}, want)
}

// gatherLinks puts the dumped links of h's namespace into s, and returns their names
// by index.
func (k *Linux) gatherLinks(h *nsHandle, ns plan.NS, links []netlink.Link, s *plan.State) (map[int]string, error) {
	var err error
	names := map[int]string{}
	for _, l := range links {
		a := l.Attrs()
		names[a.Index] = a.Name
		k.remember(h, a.Name, a.Index)
	}
	for _, l := range links {
		link := linkOf(l, names)
		if link.Kind == plan.Vxlan && !link.Remote.IsValid() {
			if link.Flood, err = floodOf(h, l.Attrs().Index); err != nil {
				return nil, fmt.Errorf("flood entries of %s: %w", l.Attrs().Name, err)
			}
		}
		s.Links[plan.LinkKey{NS: ns, Name: l.Attrs().Name}] = link
	}
	return names, nil
}

// UnderlayMTU is the MTU of the interface of this namespace (netlab's own, the
// machine's root) that has the address addr, or 0 when none has it: the MTU a lab
// across machines builds its VXLAN ends from (topology.Topology.DesiredOn).
func UnderlayMTU(addr netip.Addr) int {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return 0
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == addr {
			if l, err := netlink.LinkByIndex(a.LinkIndex); err == nil {
				return l.Attrs().MTU
			}
		}
	}
	return 0
}
