package reconcile

import (
	"errors"
	"fmt"
	"net"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
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
	h, err := k.handle(key.NS)
	if err != nil {
		return err
	}
	switch a.Kind {
	case plan.Create:
		return k.createVeth(h, key, a.After.(plan.Link))
	case plan.Delete:
		l, err := h.nl.LinkByName(key.Name)
		if notFound(err) {
			return nil // already gone, with its peer's namespace perhaps
		}
		if err != nil {
			return fmt.Errorf("find %s: %w", key.Name, err)
		}
		if err := h.nl.LinkDel(l); err != nil && !notFound(err) {
			return fmt.Errorf("delete %s: %w", key.Name, err)
		}
		return nil
	}
	l, err := h.nl.LinkByName(key.Name)
	if err != nil {
		return fmt.Errorf("find %s: %w", key.Name, err)
	}
	return markUp(h, l, a.After.(plan.Link))
}

// createVeth creates a veth pair with the peer made straight in its namespace and its
// own end already up, then marks both ends with the lab's alias and brings the peer
// up. The kernel ignores an alias given at creation, hence the second step; a run
// killed in between leaves links that the ownership record still names as the lab's.
func (k *Linux) createVeth(h *nsHandle, key plan.LinkKey, want plan.Link) error {
	peer, err := k.handle(want.Peer.NS)
	if err != nil {
		return err
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.NewLinkAttrs(),
		PeerName:      want.Peer.Name,
		PeerNamespace: netlink.NsFd(int(peer.ns)),
	}
	veth.Name = key.Name
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
	if err := h.nl.LinkSetAlias(veth, want.Alias); err != nil {
		return fmt.Errorf("set alias of %s: %w", key, err)
	}
	p, err := peer.nl.LinkByName(want.Peer.Name)
	if err != nil {
		return fmt.Errorf("find peer %s: %w", want.Peer, err)
	}
	k.remember(peer, want.Peer.Name, p.Attrs().Index)
	return markUp(peer, p, want)
}

// markUp sets the link's alias and brings it up (or down) as want says.
func markUp(h *nsHandle, l netlink.Link, want plan.Link) error {
	name := l.Attrs().Name
	if want.Alias != "" && l.Attrs().Alias != want.Alias {
		if err := h.nl.LinkSetAlias(l, want.Alias); err != nil {
			return fmt.Errorf("set alias of %s: %w", name, err)
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
