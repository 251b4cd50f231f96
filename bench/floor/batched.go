package main

import (
	"fmt"
	"net"
	"syscall"

	"github.com/netlab-go/netlab/bench/labgen"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The indexes build-batched gives its interfaces, so that no request waits for the
// answer to another to learn one: the host ends from hostIndex0 (a sandbox's host has
// only its lo), each node's end 2 (a new namespace has only its lo, index 1).
const (
	hostIndex0 = 1 << 20
	nodeIndex  = 2
	loIndex    = 1
)

// buildOneBatched makes what namespace n(i), already created, holds, as buildOne does,
// in two batches of requests, each written to the kernel at once (one sendmsg) and
// only then answered: on the host's socket the veth pair, its host end up and that
// end's address; on the node's the other end's address, that end and the lo up, and
// the route.
func buildOneBatched(w *worker, i int) error {
	fd, err := netns.GetFromPath(namespacePath(i))
	if err != nil {
		return err
	}
	defer fd.Close()
	node, err := nl.GetNetlinkSocketAt(fd, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer node.Close()
	hAddr, eAddr := labgen.Subnet(i)
	host := int32(hostIndex0 + i)
	if err := batch(w.sock, newVeth(i, host, fd), linkUp(host), addrAdd(host, hAddr)); err != nil {
		return fmt.Errorf("host end: %w", err)
	}
	if err := batch(node, addrAdd(nodeIndex, eAddr), linkUp(nodeIndex), linkUp(loIndex), routeVia(nodeIndex, hAddr)); err != nil {
		return fmt.Errorf("node end: %w", err)
	}
	return nil
}

// batch writes the requests to s in one message and then reads an acknowledgement of
// each, returning the first error the kernel answered.
func batch(s *nl.NetlinkSocket, reqs ...*nl.NetlinkRequest) error {
	var out []byte
	for _, r := range reqs {
		r.Flags |= unix.NLM_F_ACK
		out = append(out, r.Serialize()...)
	}
	if err := unix.Sendto(s.GetFd(), out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	var first error
	buf := make([]byte, 1<<14)
	for acked := 0; acked < len(reqs); {
		n, _, err := unix.Recvfrom(s.GetFd(), buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			acked++
			if errno := int32(nl.NativeEndian().Uint32(m.Data[:4])); errno != 0 && first == nil {
				first = fmt.Errorf("request %d of %d: %w", acked, len(reqs), syscall.Errno(-errno))
			}
		}
	}
	return first
}

// newVeth asks for the veth pair h<i> (index host) and e<i> (index nodeIndex, in the
// namespace ns), as `ip link add h<i> index host type veth peer e<i> index 2 netns ns`.
func newVeth(i int, host int32, ns netns.NsHandle) *nl.NetlinkRequest {
	r := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	m := nl.NewIfInfomsg(unix.AF_UNSPEC)
	m.Index = host
	r.AddData(m)
	r.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(fmt.Sprintf("h%d", i))))
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	peer := info.AddRtAttr(nl.IFLA_INFO_DATA, nil).AddRtAttr(nl.VETH_INFO_PEER, nil)
	pm := nl.NewIfInfomsg(unix.AF_UNSPEC)
	pm.Index = nodeIndex
	peer.AddChild(pm)
	peer.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(fmt.Sprintf("e%d", i)))
	peer.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(ns)))
	r.AddData(info)
	return r
}

// linkUp asks for the interface of the index to be brought up.
func linkUp(index int32) *nl.NetlinkRequest {
	r := nl.NewNetlinkRequest(unix.RTM_NEWLINK, 0)
	m := nl.NewIfInfomsg(unix.AF_UNSPEC)
	m.Index, m.Flags, m.Change = index, unix.IFF_UP, unix.IFF_UP
	r.AddData(m)
	return r
}

// addrAdd asks for the address ip/30 on the interface of the index.
func addrAdd(index int32, ip string) *nl.NetlinkRequest {
	r := nl.NewNetlinkRequest(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	m := nl.NewIfAddrmsg(unix.AF_INET)
	m.Index, m.Prefixlen = uint32(index), 30
	r.AddData(m)
	a := net.ParseIP(ip).To4()
	r.AddData(nl.NewRtAttr(unix.IFA_LOCAL, a))
	r.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, a))
	return r
}

// routeVia asks for the default route via gw on the interface of the index.
func routeVia(index int32, gw string) *nl.NetlinkRequest {
	r := nl.NewNetlinkRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	m := nl.NewRtMsg()
	m.Family = unix.AF_INET
	r.AddData(m)
	r.AddData(nl.NewRtAttr(unix.RTA_GATEWAY, net.ParseIP(gw).To4()))
	r.AddData(nl.NewRtAttr(unix.RTA_OIF, nl.Uint32Attr(uint32(index))))
	return r
}
