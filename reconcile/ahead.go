package reconcile

import (
	"errors"
	"net"
	"reflect"
	"syscall"

	"github.com/netlab-go/netlab/internal/leanlink"
	"github.com/netlab-go/netlab/internal/phase"
	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// hostAhead is the host namespace's links, addresses and routes, read by
// ObserveHostAhead while the caller still loads the topology and the record, with the
// socket that tells whether the host changed since.
type hostAhead struct {
	done  chan struct{}
	part  plan.State     // the host's objects, as a worker of observeNamespaces gathers them
	names map[int]string // the host's interfaces by index
	err   error
	// watch is subscribed to the host's link, address and route notifications before
	// the dump begins: what it holds when the dump is used is what changed since the
	// dump may have read it (see changed).
	watch *nl.NetlinkSocket
}

// hostGroups are the notifications of everything observeNamespace reads in the host
// without qdiscs (which are read when the scope asks, never ahead).
var hostGroups = []uint{unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR,
	unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE}

// ObserveHostAhead starts reading the host namespace in the background, for the first
// Observe to use. The host holds the lab's other veth ends, one per namespace, and its
// dump is the longest of a large lab's; begun before the topology is parsed, it runs on
// a CPU that would be idle. The first Observe uses it only if every notification of
// the host's links, addresses and routes the kernel sent since before the dump began
// (another program's change, an apply's that held the lock meanwhile, the kernel's own)
// changes nothing it read or can be applied to it (see changed); otherwise, or when it
// failed, Observe reads the host again. Call it at most once, before the first Observe.
func (k *Linux) ObserveHostAhead() {
	watch, err := nl.SubscribeAt(k.host, k.host, unix.NETLINK_ROUTE, hostGroups...)
	if err != nil {
		return // Observe reads the host itself
	}
	// A second after an apply the kernel sends a thousand notifications; more than the
	// default buffer holds, and a lost one makes the dump useless.
	_ = watch.SetReceiveBufferSize(watchBuffer, true)
	a := &hostAhead{done: make(chan struct{}), part: plan.NewState(), watch: watch}
	k.mu.Lock()
	k.ahead = a
	k.mu.Unlock()
	go func() {
		defer close(a.done)
		defer phase.Begin("observe host ahead")()
		h, release, err := k.handle(plan.Host)
		if err != nil {
			a.err = err
			return
		}
		defer release()
		links, err := k.hostLinks()
		if err != nil {
			a.err = err
			return
		}
		a.names, a.err = k.observeWith(h, plan.Host, links, false, netlink.FAMILY_ALL, &a.part)
	}()
}

// hostLinks dumps the host's links without their counters (leanlink), on a socket of
// its own: a fifth less of the kernel's time than a full dump, with one veth end in the
// host for each namespace of a large lab.
func (k *Linux) hostLinks() ([]netlink.Link, error) {
	sock, err := nl.GetNetlinkSocketAt(k.host, k.host, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	return retryDump("links", func() ([]netlink.Link, error) { return leanlink.List(sock) })
}

// takeAhead waits for the host's observation begun ahead, if any, and when it is still
// the host's state, gathers it into part (with the host's qdiscs, read now, when
// asked) and reports true. The observation is used once: a later Observe reads anew.
func (k *Linux) takeAhead(qdiscs bool, part *plan.State) (bool, error) {
	k.mu.Lock()
	a := k.ahead
	k.ahead = nil
	k.mu.Unlock()
	if a == nil {
		return false, nil
	}
	<-a.done
	// Flood entries are neighbours, which the watch does not hear.
	fresh := a.err == nil && !hasFloodedVxlan(a.part) && !a.changed()
	a.watch.Close()
	if !fresh {
		phase.Begin("host read again")() // counted, for --timings
		return false, nil
	}
	merge(part, a.part)
	if !qdiscs {
		return true, nil
	}
	h, release, err := k.handle(plan.Host)
	if err != nil {
		return true, err
	}
	defer release()
	return true, observeQdiscs(h, plan.Host, a.names, part)
}

// changed reports whether the host changed since the watch was subscribed in a way its
// observation shows and cannot be brought up to date with. The kernel also tells of
// what observing leaves out (routes of the local table, a carrier coming up) and of
// addresses it makes itself (IPv6 link-local ones: a second after an apply, a thousand
// of them), so each notification the watch holds, in order, is either found to change
// nothing that was read, or applied to what was read (an address added or deleted), or
// counts as a change; so does one lost (the buffer overflowed).
func (a *hostAhead) changed() bool {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(a.watch.GetFd(), buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			return false
		}
		if err != nil {
			return true // ENOBUFS: notifications were lost
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return true
		}
		for _, m := range msgs {
			if !a.update(m.Header.Type, m.Data) {
				return true
			}
		}
	}
}

// update brings what was read of the host up to date with one notification, and
// reports whether it could: a link alike the one read, an address of a link read
// (added or deleted: observing reads nothing of it but its key), a route that
// observeRoutes does not read. A link that changed or went, a route it reads, and what
// the watch does not know, it cannot.
func (a *hostAhead) update(typ uint16, data []byte) bool {
	switch typ {
	case unix.RTM_NEWLINK:
		l, err := netlink.LinkDeserialize(nil, data)
		if err != nil {
			return false
		}
		at := l.Attrs()
		have, ok := a.part.Links[plan.LinkKey{NS: plan.Host, Name: at.Name}]
		return a.names[at.Index] == at.Name && ok && reflect.DeepEqual(have, linkOf(l, a.names))
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		key, ok := a.addrKey(data)
		if !ok {
			return false
		}
		if typ == unix.RTM_NEWADDR {
			a.part.Addrs[key] = true
		} else {
			delete(a.part.Addrs, key)
		}
		return true
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		if len(data) < unix.SizeofRtMsg {
			return false
		}
		rt := nl.DeserializeRtMsg(data)
		return rt.Table != unix.RT_TABLE_MAIN || rt.Protocol == unix.RTPROT_KERNEL || rt.Type != unix.RTN_UNICAST
	}
	return false
}

// addrKey is the key observeAddrs gives the address of an RTM_NEWADDR or RTM_DELADDR
// message, made as netlink's parser makes the Addr it reads: the address with the
// message's prefix length, or, when the local address differs from it (a
// point-to-point address, or an IPv6 one with a local address), the local address
// alone.
func (a *hostAhead) addrKey(data []byte) (plan.AddrKey, bool) {
	if len(data) < unix.SizeofIfAddrmsg {
		return plan.AddrKey{}, false
	}
	msg := nl.DeserializeIfAddrmsg(data)
	attrs, err := nl.ParseRouteAttr(data[unix.SizeofIfAddrmsg:])
	if err != nil {
		return plan.AddrKey{}, false
	}
	var local, address net.IP
	for _, at := range attrs {
		switch at.Attr.Type {
		case unix.IFA_LOCAL:
			local = at.Value
		case unix.IFA_ADDRESS:
			address = at.Value
		}
	}
	n := &net.IPNet{IP: address, Mask: net.CIDRMask(int(msg.Prefixlen), 8*len(address))}
	if local != nil && !(msg.Family == unix.AF_INET && address != nil && local.Equal(address)) {
		n = &net.IPNet{IP: local, Mask: net.CIDRMask(8*len(local), 8*len(local))}
	}
	name, known := a.names[int(msg.Index)]
	p, ok := prefixOf(n)
	return plan.AddrKey{Link: plan.LinkKey{NS: plan.Host, Name: name}, Prefix: p}, known && ok
}

// hasFloodedVxlan reports whether a state holds a VXLAN port with flood entries, read
// from the bridge's forwarding table.
func hasFloodedVxlan(s plan.State) bool {
	for _, l := range s.Links {
		if l.Kind == plan.Vxlan && !l.Remote.IsValid() {
			return true
		}
	}
	return false
}

// closeAhead waits for an observation begun ahead and never used, and closes its watch.
func (k *Linux) closeAhead() {
	k.mu.Lock()
	a := k.ahead
	k.ahead = nil
	k.mu.Unlock()
	if a != nil {
		<-a.done
		a.watch.Close()
	}
}
