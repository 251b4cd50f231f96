package reconcile

import (
	"errors"
	"maps"
	"net"
	"reflect"
	"syscall"

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
	// the dump begins: anything it holds when the dump is used means the host changed
	// after the dump may have read it.
	watch *nl.NetlinkSocket
}

// hostGroups are the notifications of everything observeNamespace reads in the host
// without qdiscs (which are read when the scope asks, never ahead).
var hostGroups = []uint{unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR,
	unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE}

// ObserveHostAhead starts reading the host namespace in the background, for the first
// Observe to use. The host holds the lab's other veth ends, one per namespace, and its
// dump is the longest of a large lab's; begun before the topology is parsed, it runs on
// a CPU that would be idle. The first Observe uses it only if the kernel sent no
// notification of a change to the host's links, addresses or routes since before the
// dump began (another program's change, or an apply's that held the lock meanwhile);
// otherwise, or when it failed, Observe reads the host again. Call it at most once,
// before the first Observe.
func (k *Linux) ObserveHostAhead() {
	watch, err := nl.SubscribeAt(k.host, k.host, unix.NETLINK_ROUTE, hostGroups...)
	if err != nil {
		return // Observe reads the host itself
	}
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
		sock, err := nl.GetNetlinkSocketAt(k.host, k.host, unix.NETLINK_ROUTE)
		if err != nil {
			a.err = err
			return
		}
		links, err := retryDump("links", func() ([]netlink.Link, error) { return leanLinkList(sock) })
		sock.Close()
		if err != nil {
			a.err = err
			return
		}
		if a.names, a.err = k.gatherLinks(h, plan.Host, links, &a.part); a.err != nil {
			return
		}
		if a.err = observeAddrs(h, plan.Host, a.names, &a.part); a.err != nil {
			return
		}
		a.err = observeRoutes(h, plan.Host, a.names, &a.part)
	}()
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
	fresh := a.err == nil && !a.changed()
	a.watch.Close()
	if !fresh || hasFloodedVxlan(a.part) {
		// Flood entries are neighbours, which the watch does not hear.
		phase.Begin("host read again")() // counted, for --timings
		return false, nil
	}
	maps.Copy(part.Links, a.part.Links)
	maps.Copy(part.Addrs, a.part.Addrs)
	maps.Copy(part.Routes, a.part.Routes)
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

// rtextFilterSkipStats asks the kernel to leave a link's counters out of a dump
// (RTEXT_FILTER_SKIP_STATS of linux/rtnetlink.h; a kernel without it sends them).
const rtextFilterSkipStats = 1 << 3

// leanLinkList is Handle.LinkList on the socket s, without the links' counters, which
// netlab never reads, and parsing each message as it comes instead of keeping them all
// first: for the host of a large lab, a fifth less of the kernel's time and a smaller
// heap while the topology is parsed beside it.
func leanLinkList(s *nl.NetlinkSocket) ([]netlink.Link, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_EXT_MASK, nl.Uint32Attr(rtextFilterSkipStats)))
	var links []netlink.Link
	var parseErr error
	err := req.ExecuteIter(unix.NETLINK_ROUTE, unix.RTM_NEWLINK, func(m []byte) bool {
		l, err := netlink.LinkDeserialize(nil, m)
		if err != nil {
			parseErr = err
			return false
		}
		links = append(links, l)
		return true
	})
	if err == nil {
		err = parseErr
	}
	return links, err
}

// changed reports whether the host changed since the watch was subscribed in a way its
// observation shows. The kernel also tells of what observing leaves out (IPv6
// link-local addresses done with duplicate detection, routes of the local table, a
// carrier coming up: a second after an apply, a thousand of them), so each notification
// the watch holds is compared with what the dump read; one lost (the buffer overflowed)
// counts as a change.
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
			if a.shows(m.Header.Type, m.Data) {
				return true
			}
		}
	}
}

// shows reports whether a notification tells of a change that observing the host would
// show: a link that differs from the one read, an address added or deleted, a route
// of the main table that observeRoutes would read. Anything else it cannot tell of
// counts as a change.
func (a *hostAhead) shows(typ uint16, data []byte) bool {
	switch typ {
	case unix.RTM_NEWLINK:
		l, err := netlink.LinkDeserialize(nil, data)
		if err != nil {
			return true
		}
		at := l.Attrs()
		have, ok := a.part.Links[plan.LinkKey{NS: plan.Host, Name: at.Name}]
		return a.names[at.Index] != at.Name || !ok || !reflect.DeepEqual(have, linkOf(l, a.names))
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		key, ok := a.addrKey(data)
		return !ok || a.part.Addrs[key] != (typ == unix.RTM_NEWADDR)
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		if len(data) < unix.SizeofRtMsg {
			return true
		}
		rt := nl.DeserializeRtMsg(data)
		return rt.Table == unix.RT_TABLE_MAIN && rt.Protocol != unix.RTPROT_KERNEL && rt.Type == unix.RTN_UNICAST
	}
	return true // a link deleted, or what the watch does not know
}

// addrKey is the key observeAddrs gives the address of an RTM_NEWADDR or RTM_DELADDR
// message: its local address when it has one, else its address, as netlink's parser
// makes the Addr observeAddrs reads.
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
	ip := local
	if ip == nil {
		ip = address
	}
	name, known := a.names[int(msg.Index)]
	p, ok := prefixOf(&net.IPNet{IP: ip, Mask: net.CIDRMask(int(msg.Prefixlen), 8*len(ip))})
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
