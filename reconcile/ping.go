package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/netlab-go/netlab/plan"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingID makes the echo identifier of each Ping unique within this process: every raw
// ICMP socket of a namespace sees every echo reply that arrives there, so concurrent
// pings tell theirs apart by identifier and sequence number.
var pingID atomic.Uint32

func init() { pingID.Store(uint32(os.Getpid()) << 4) }

// Ping sends up to tries ICMP echo requests from namespace ns to addr, waiting timeout
// for each reply, and reports whether one came back from addr. The raw socket is opened
// inside ns (on a locked thread that is switched back) and stays there, so the
// packets leave from ns whatever thread sends them.
func (k *Linux) Ping(ctx context.Context, ns plan.NS, addr netip.Addr, tries int, timeout time.Duration) (bool, error) {
	h, release, err := k.handle(ns)
	if err != nil {
		return false, err
	}
	defer release()
	network, laddr, proto, echo := "ip4:icmp", "0.0.0.0", 1, icmp.Type(ipv4.ICMPTypeEcho)
	if addr.Is6() {
		network, laddr, proto, echo = "ip6:ipv6-icmp", "::", 58, ipv6.ICMPTypeEchoRequest
	}
	var conn *icmp.PacketConn
	err = inNamespace(h.ns, func() error {
		var err error
		conn, err = icmp.ListenPacket(network, laddr)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("open an ICMP socket in %s: %w", ns, err)
	}
	defer conn.Close()
	id := int(pingID.Add(1) & 0xffff)
	dst := &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	buf := make([]byte, 1500)
	for seq := 1; seq <= tries; seq++ {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		msg := icmp.Message{Type: echo, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("netlab check")}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return false, err
		}
		if _, err := conn.WriteTo(b, dst); err != nil {
			// No route, or the neighbour is unknown: that try failed, like ping's.
			time.Sleep(min(timeout, 100*time.Millisecond))
			continue
		}
		deadline := time.Now().Add(timeout)
		conn.SetReadDeadline(deadline)
		for {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return false, fmt.Errorf("read ICMP in %s: %w", ns, err)
			}
			if isEchoReply(buf[:n], proto, peer, addr, id, seq) {
				return true, nil
			}
		}
	}
	return false, nil
}

// isEchoReply reports whether the ICMP message b, from peer, is the reply from want to
// the echo request id/seq.
func isEchoReply(b []byte, proto int, peer net.Addr, want netip.Addr, id, seq int) bool {
	m, err := icmp.ParseMessage(proto, b)
	if err != nil || (m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply) {
		return false
	}
	e, ok := m.Body.(*icmp.Echo)
	if !ok || e.ID != id || e.Seq != seq {
		return false
	}
	ip, ok := peer.(*net.IPAddr)
	if !ok {
		return false
	}
	from, ok := netip.AddrFromSlice(ip.IP)
	return ok && from.Unmap() == want.Unmap()
}
