package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// LinkWaiter is a Kernel that can wait for links to be gone by listening to the
// kernel, instead of the caller observing again and again.
type LinkWaiter interface {
	// WaitLinksGone returns once none of the links is left, at deadline, or when ctx is
	// done, whichever comes first; only an error of the kernel is an error (the
	// caller's next Observe tells what is left).
	WaitLinksGone(ctx context.Context, links []plan.LinkKey, deadline time.Time) error
}

// watchBuffer is the receive buffer of a socket listening to the kernel's
// notifications: the kernel frees a large lab's namespaces in batches, and a thousand
// veths deleted at once are about a megabyte of notifications. Should it overflow all
// the same, what was read is read again.
const watchBuffer = 8 << 20

// WaitLinksGone waits on the kernel's notifications of deleted links (RTM_DELLINK) in
// each namespace of links: the veths whose peers' namespaces were deleted go when the
// kernel frees those namespaces, seconds later at scale, and observing everything
// again meanwhile would only take CPU from the kernel doing it.
func (k *Linux) WaitLinksGone(ctx context.Context, links []plan.LinkKey, deadline time.Time) error {
	byNS := map[plan.NS]map[string]bool{}
	for _, l := range links {
		if byNS[l.NS] == nil {
			byNS[l.NS] = map[string]bool{}
		}
		byNS[l.NS][l.Name] = true
	}
	for _, ns := range slices.Sorted(maps.Keys(byNS)) {
		if err := k.waitGone(ctx, ns, byNS[ns], deadline); err != nil {
			return fmt.Errorf("wait for the links of %s to go: %w", ns, err)
		}
	}
	return nil
}

// waitGone waits until none of names is a link of ns, deadline passes or ctx is done.
func (k *Linux) waitGone(ctx context.Context, ns plan.NS, names map[string]bool, deadline time.Time) error {
	h, release, err := k.handle(ns) // a namespace that Observe found there, just now
	if err != nil {
		return err
	}
	defer release()
	watch, err := nl.SubscribeAt(h.ns, k.host, unix.NETLINK_ROUTE, unix.RTNLGRP_LINK)
	if err != nil {
		return fmt.Errorf("listen to links: %w", err)
	}
	defer watch.Close()
	_ = watch.SetReceiveBufferSize(watchBuffer, true) // a smaller buffer only means listing again
	for {
		// Listed after subscribing: a link deleted before is not listed, one deleted
		// after is heard.
		links, err := k.dumpLinks(h)
		if err != nil {
			return err
		}
		left := map[string]bool{}
		for _, l := range links {
			if names[l.Attrs().Name] {
				left[l.Attrs().Name] = true
			}
		}
		overflow := false
		for len(left) > 0 && !overflow {
			wait := min(time.Until(deadline), 50*time.Millisecond) // ctx is looked at between waits
			if ctx.Err() != nil || wait <= 0 {
				return nil
			}
			tv := unix.NsecToTimeval(wait.Nanoseconds())
			if err := watch.SetReceiveTimeout(&tv); err != nil {
				return err
			}
			msgs, _, err := watch.Receive()
			switch {
			case errors.Is(err, unix.EAGAIN):
				continue
			case errors.Is(err, unix.ENOBUFS):
				overflow = true // notifications were lost: list again
				continue
			case err != nil:
				return fmt.Errorf("read link notifications: %w", err)
			}
			for _, m := range msgs {
				if m.Header.Type != unix.RTM_DELLINK {
					continue
				}
				if l, err := netlink.LinkDeserialize(nil, m.Data); err == nil {
					delete(left, l.Attrs().Name)
				}
			}
		}
		if !overflow {
			return nil
		}
	}
}
