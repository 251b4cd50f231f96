package reconcile

import (
	"errors"
	"maps"

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
		return false, nil // flood entries are neighbours, which the watch does not hear
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

// changed reports whether the watch holds a notification (or lost some: its buffer
// overflowed), that is whether the host changed since it was subscribed.
func (a *hostAhead) changed() bool {
	var b [1]byte
	_, _, err := unix.Recvfrom(a.watch.GetFd(), b[:], unix.MSG_DONTWAIT|unix.MSG_PEEK)
	return !errors.Is(err, unix.EAGAIN)
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
