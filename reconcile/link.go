package reconcile

import (
	"errors"
	"fmt"
	"net"

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

func (k *Linux) applyLink(a plan.Action, key plan.LinkKey) error {
	h, release, err := k.handle(key.NS)
	if err != nil {
		return err
	}
	defer release()
	switch a.Kind {
	case plan.Create:
		switch want := a.After.(plan.Link); want.Kind {
		case plan.Bridge:
			return k.createBridge(h, a, key, want)
		case plan.Macvlan:
			return k.createMacvlan(h, a, key, want)
		default:
			return k.createVeth(h, a, key, want)
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
	want := a.After.(plan.Link)
	return finish(h, l, want, want.Master)
}

// createBridge creates a bridge, then marks it, sets its MTU and brings it up.
func (k *Linux) createBridge(h *nsHandle, a plan.Action, key plan.LinkKey, want plan.Link) error {
	br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
	br.Name = key.Name
	br.HardwareAddr = hwAddr(plan.LinkMAC(a.Lab, key))
	if err := h.nl.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge %s: %w", key, err)
	}
	l, err := h.nl.LinkByName(key.Name)
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", key, err)
	}
	k.remember(h, key.Name, l.Attrs().Index)
	return finish(h, l, want, "")
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
	l, err := h.nl.LinkByName(key.Name)
	if err != nil {
		return fmt.Errorf("find macvlan %s: %w", key, err)
	}
	k.remember(h, key.Name, l.Attrs().Index)
	return finish(h, l, want, "")
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

// createVeth creates a veth pair with the peer made straight in its namespace and its
// own end already up, then marks both ends with the lab's alias and brings the peer
// up. The kernel ignores an alias given at creation, hence the second step; a run
// killed in between leaves links that the ownership record still names as the lab's.
func (k *Linux) createVeth(h *nsHandle, a plan.Action, key plan.LinkKey, want plan.Link) error {
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
	}
	veth.Name = key.Name
	veth.HardwareAddr = hwAddr(plan.LinkMAC(a.Lab, key))
	if want.Up {
		veth.Flags = net.FlagUp
	}
	if err := h.nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s with peer %s: %w", key, want.Peer, err)
	}
	if veth.Index == 0 {
		return fmt.Errorf("create veth %s: the kernel did not report its index", key)
	}
	k.remember(h, key.Name, veth.Index)
	if want.MTU == 0 && want.Master == "" {
		if err := h.nl.LinkSetAlias(veth, want.Alias); err != nil {
			return fmt.Errorf("set alias of %s: %w", key, err)
		}
	} else if err := finish(h, veth, want, want.Master); err != nil {
		return err
	}
	p, err := peer.nl.LinkByName(want.Peer.Name)
	if err != nil {
		return fmt.Errorf("find peer %s: %w", want.Peer, err)
	}
	k.remember(peer, want.Peer.Name, p.Attrs().Index)
	return finish(peer, p, want, want.PeerMaster)
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

// finish sets the link's alias, MTU and master as want says, and brings it up (or
// down), as `ip link set NAME alias A mtu N master B up` does.
func finish(h *nsHandle, l netlink.Link, want plan.Link, master string) error {
	name := l.Attrs().Name
	if want.Alias != "" && l.Attrs().Alias != want.Alias {
		if err := h.nl.LinkSetAlias(l, want.Alias); err != nil {
			return fmt.Errorf("set alias of %s: %w", name, err)
		}
	}
	if want.MTU != 0 && l.Attrs().MTU != want.MTU {
		if err := h.nl.LinkSetMTU(l, want.MTU); err != nil {
			return fmt.Errorf("set mtu of %s: %w", name, err)
		}
	}
	if master == "" && l.Attrs().MasterIndex != 0 {
		if err := h.nl.LinkSetNoMaster(l); err != nil {
			return fmt.Errorf("release %s from its master: %w", name, err)
		}
	} else if master != "" {
		m, err := h.nl.LinkByName(master)
		if err != nil {
			return fmt.Errorf("find bridge %s for %s: %w", master, name, err)
		}
		if l.Attrs().MasterIndex != m.Attrs().Index {
			if err := h.nl.LinkSetMasterByIndex(l, m.Attrs().Index); err != nil {
				return fmt.Errorf("set master of %s to %s: %w", name, master, err)
			}
		}
	}
	set := h.nl.LinkSetDown
	if want.Up {
		set = h.nl.LinkSetUp
	}
	if err := set(l); err != nil {
		return fmt.Errorf("set %s up or down: %w", name, err)
	}
	return nil
}
