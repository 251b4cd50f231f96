// Command floor builds, dumps and tears down the benchmark's star lab with only the
// netlink calls it needs: no planning, no state, no checks, as many workers as CPUs.
// It is the floor netlab is measured against; run it only inside a sandbox (make bench
// does).
//
//	floor build N     create n0..nN-1, then their veth pairs, addresses and routes, then
//	                  forwarding and NAT
//	floor build-lab N the same, and what the star lab has beyond the netlink calls: an
//	                  alias on each veth end (netlab's mark, set while the end is down,
//	                  as netlab sets it) and each node's /etc/netns directory, its hosts
//	                  file a hard link to one file of the lab's; the floor of netlab's
//	                  apply with everything its lab makes, to tell the lab's own cost
//	                  from netlab's
//	floor build-batched N
//	                  the build, with each namespace's requests written to the kernel in
//	                  two batches (the host's, the node's) before their answers are
//	                  read: the interfaces' indexes are given in the requests, so that
//	                  none waits for the answer to another; the moonshot of the issue
//	                  "Close to the floor", measured on the floor itself
//	floor dump N      dump links, addresses and routes of every namespace of the lab, the
//	                  host's among them (it holds a veth end per namespace, whose links
//	                  it reads without their counters, as netlab does), one handle each
//	floor teardown N  delete the namespaces, NAT and forwarding (and build-lab's files);
//	                  the kernel lets go of their veths asynchronously, and the bench
//	                  times until it has
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/netlab-go/netlab/bench/labgen"
	"github.com/netlab-go/netlab/internal/leanlink"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	netnsDir = "/run/netns"
	etcNetns = "/etc/netns"
	// sharedHosts is build-lab's file of the lab's names, which each node's hosts file
	// links to, as netlab's star lab has it.
	sharedHosts = etcNetns + "/.floor-star.hosts"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: floor build|build-lab|build-batched|dump|teardown N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "build":
		err = build(n, false)
	case "build-lab":
		err = build(n, true)
	case "build-batched":
		err = buildBatched(n)
	case "dump":
		err = parallel(n+1, dump) // the host first (its dump is the longest), then n0..nN-1
	case "teardown":
		err = teardown(n)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

// worker is what each worker of parallel has of its own in the host: a netlink handle,
// and a socket for build-batched's requests.
type worker struct {
	host *netlink.Handle
	sock *nl.NetlinkSocket
}

// parallel runs f for 0..n-1 on one worker per CPU.
func parallel(n int, f func(w *worker, i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, runtime.NumCPU())
	for w := range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host, err := netlink.NewHandle(unix.NETLINK_ROUTE)
			if err != nil {
				errs <- err
				return
			}
			defer host.Close()
			sock, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
			if err != nil {
				errs <- err
				return
			}
			defer sock.Close()
			own := &worker{host: host, sock: sock}
			for i := w; i < n; i += runtime.NumCPU() {
				if err := f(own, i); err != nil {
					errs <- fmt.Errorf("n%d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// build builds the star of n namespaces; with lab, the aliases and hosts files too.
func build(n int, lab bool) error {
	return buildWith(n, lab, func(w *worker, i int) error { return buildOne(w.host, i, lab) })
}

// buildBatched is build with each namespace's requests in batches (buildOneBatched).
func buildBatched(n int) error { return buildWith(n, false, buildOneBatched) }

// buildWith builds the star of n namespaces, the rest of each namespace by rest once
// every namespace is made.
func buildWith(n int, lab bool, rest func(w *worker, i int) error) error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return err
	}
	if lab {
		if err := writeHosts(n); err != nil {
			return err
		}
	}
	if err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return err
	}
	// Every namespace first, then the rest of each, as netlab orders its actions: faster
	// than each namespace with its rest in turn, in interleaved runs of both.
	if err := parallel(n, func(_ *worker, i int) error { return newNamespace(namespacePath(i)) }); err != nil {
		return err
	}
	if err := parallel(n, rest); err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0); err != nil {
		return err
	}
	return exec.Command("iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "10.0.0.0/8", "-j", "MASQUERADE").Run()
}

// newNamespace creates and bind-mounts a namespace on a locked thread, then switches the
// thread back.
func newNamespace(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	f.Close()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return err
	}
	err = unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "none", unix.MS_BIND, "")
	if serr := netns.Set(orig); serr != nil {
		return serr // the thread stays locked and ends with its goroutine
	}
	runtime.UnlockOSThread()
	return err
}

// namespacePath is the /run/netns entry of namespace n(i).
func namespacePath(i int) string { return filepath.Join(netnsDir, fmt.Sprintf("n%d", i)) }

// hostsPath is build-lab's hosts file of node n(i), in its /etc/netns directory.
func hostsPath(i int) string { return filepath.Join(etcNetns, fmt.Sprintf("n%d", i), "hosts") }

// writeHosts writes build-lab's shared hosts file: a line for each node, as netlab's.
func writeHosts(n int) error {
	if err := os.MkdirAll(etcNetns, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# the floor's star\n127.0.0.1\tlocalhost\n")
	for i := range n {
		_, e := labgen.Subnet(i)
		fmt.Fprintf(&b, "%s\tn%d\n", e, i)
	}
	return os.WriteFile(sharedHosts, []byte(b.String()), 0o644)
}

// buildOne makes what namespace n(i), already created, holds: the veth pair to the host,
// its addresses, the lo and the route; with lab, an alias on each end and the node's
// hosts file too.
func buildOne(host *netlink.Handle, i int, lab bool) error {
	fd, h, err := open(namespacePath(i))
	if err != nil {
		return err
	}
	defer fd.Close()
	defer h.Close()
	hAddr, eAddr := labgen.Subnet(i)
	veth := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: fmt.Sprintf("e%d", i), PeerNamespace: netlink.NsFd(int(fd))}
	veth.Name = fmt.Sprintf("h%d", i)
	if err := host.LinkAdd(veth); err != nil {
		return err
	}
	if lab {
		if err := host.LinkSetAlias(veth, alias); err != nil {
			return err
		}
	}
	// Up once made, not in the creating message, as netlab's veths: a link up without a
	// carrier makes the kernel walk the host's IPv6 routing table at the lookup after
	// its creation (see reconcile.Linux.createVeth).
	if err := host.LinkSetUp(veth); err != nil {
		return err
	}
	if err := host.AddrAdd(veth, addr(hAddr)); err != nil {
		return err
	}
	peer, err := h.LinkByName(veth.PeerName)
	if err != nil {
		return err
	}
	if err := h.AddrAdd(peer, addr(eAddr)); err != nil {
		return err
	}
	if lab {
		if err := h.LinkSetAlias(peer, alias); err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Dir(hostsPath(i)), 0o755); err != nil {
			return err
		}
		if err := os.Link(sharedHosts, hostsPath(i)); err != nil {
			return err
		}
	}
	if err := h.LinkSetUp(peer); err != nil {
		return err
	}
	if err := h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1}}); err != nil {
		return err
	}
	return h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: net.ParseIP(hAddr)})
}

// alias is build-lab's mark on each veth end, as long as netlab's for the star.
const alias = "netlab:star"

func addr(s string) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(s), Mask: net.CIDRMask(30, 32)}}
}

// open opens the namespace at path and a netlink handle in it; the caller closes both.
// The handle has a route socket only, as netlab's: netlink's default, a socket of each
// family it speaks (route, xfrm, netfilter), took two sockets and four namespace
// switches more per namespace.
func open(path string) (netns.NsHandle, *netlink.Handle, error) {
	fd, err := netns.GetFromPath(path)
	if err != nil {
		return fd, nil, err
	}
	h, err := netlink.NewHandleAt(fd, unix.NETLINK_ROUTE)
	if err != nil {
		fd.Close()
	}
	return fd, h, err
}

// dump dumps item i of floor dump: the host for 0, else namespace n(i-1).
func dump(w *worker, i int) error {
	h := w.host
	if i > 0 {
		fd, nh, err := open(namespacePath(i - 1))
		if err != nil {
			return err
		}
		defer fd.Close()
		defer nh.Close()
		h = nh
	}
	links := func() error { _, err := h.LinkList(); return err }
	if i == 0 {
		// The host's links without their counters, on a socket of its own, as netlab
		// reads them (leanlink): the least a plan must read.
		links = func() error {
			s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
			if err != nil {
				return err
			}
			defer s.Close()
			_, err = leanlink.List(s)
			return err
		}
	}
	for _, dump := range []func() error{
		links,
		func() error { _, err := h.AddrList(nil, netlink.FAMILY_ALL); return err },
		func() error { _, err := h.RouteList(nil, netlink.FAMILY_ALL); return err },
	} {
		// A dump the kernel changed under (the host's, while it still frees the
		// namespaces of an earlier step) is read again, as netlab does.
		err := dump()
		for try := 0; errors.Is(err, netlink.ErrDumpInterrupted) && try < 20; try++ {
			err = dump()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// removeHosts removes node n(i)'s hosts file and directory if build-lab made them: the
// file is a link to the shared one.
func removeHosts(i int, shared os.FileInfo) error {
	hosts := hostsPath(i)
	if node, err := os.Lstat(hosts); err != nil || !os.SameFile(shared, node) {
		return nil
	}
	if err := os.Remove(hosts); err != nil {
		return err
	}
	return os.Remove(filepath.Dir(hosts))
}

func teardown(n int) error {
	// build-lab's files, looked for once: a teardown after a plain build (which the
	// bench times) does no more than before build-lab was added.
	shared, sharedErr := os.Stat(sharedHosts)
	err := parallel(n, func(_ *worker, i int) error {
		path := namespacePath(i)
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			return err
		}
		if sharedErr == nil {
			if err := removeHosts(i, shared); err != nil {
				return err
			}
		}
		return os.Remove(path)
	})
	if err != nil {
		return err
	}
	if sharedErr == nil {
		if err := os.Remove(sharedHosts); err != nil {
			return err
		}
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0"), 0); err != nil {
		return err
	}
	return exec.Command("iptables", "-t", "nat", "-D", "POSTROUTING", "-s", "10.0.0.0/8", "-j", "MASQUERADE").Run()
}
