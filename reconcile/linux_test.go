package reconcile

import (
	"context"
	"maps"
	"net"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// inThrowawayNetns moves the test's goroutine, locked to its thread for good, into a
// new network namespace, so that the host of a Linux opened now is that namespace: the
// machine's own is never touched. The thread ends with the test's goroutine.
func inThrowawayNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CI=true)")
		}
		t.Skip("needs root")
	}
	runtime.LockOSThread() // never unlocked: the thread is thrown away with the namespace
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare: %v", err)
	}
}

func addVeth(t *testing.T, name, peer string) {
	t.Helper()
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}); err != nil {
		t.Fatalf("add veth %s: %v", name, err)
	}
}

// TestHostAhead checks that the host's observation begun ahead is used while the host
// is as it was read, or changed only in what observing leaves out or in addresses
// (then brought up to date), and never when a link changed after it was read.
func TestHostAhead(t *testing.T) {
	inThrowawayNetns(t)
	addVeth(t, "before0", "before1")
	k, err := NewLinux(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	has := func(s plan.State, name string) bool {
		_, ok := s.Links[plan.LinkKey{NS: plan.Host, Name: name}]
		return ok
	}

	k.ObserveHostAhead()
	<-k.ahead.done
	part := plan.NewState()
	if taken, err := k.takeAhead(false, &part); err != nil || !taken || !has(part, "before0") {
		t.Errorf("unchanged host: taken %v, err %v, before0 read %v; want it used, with before0", taken, err, has(part, "before0"))
	}

	// What observing does not show: promiscuity, an address's lifetimes, a route of
	// the local table (and, after an apply, IPv6 link-local addresses done with
	// duplicate detection, carriers coming up).
	before, err := netlink.LinkByName("before0")
	if err != nil {
		t.Fatal(err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 9, 0, 1), Mask: net.CIDRMask(24, 32)}, ValidLft: 1000, PreferedLft: 500}
	if err := netlink.AddrAdd(before, addr); err != nil {
		t.Fatal(err)
	}
	k.ObserveHostAhead()
	<-k.ahead.done
	addr.ValidLft, addr.PreferedLft = 2000, 1000
	local := &netlink.Route{Table: unix.RT_TABLE_LOCAL, Type: unix.RTN_LOCAL, Scope: netlink.SCOPE_HOST, LinkIndex: before.Attrs().Index,
		Dst: &net.IPNet{IP: net.IPv4(10, 9, 0, 99), Mask: net.CIDRMask(32, 32)}}
	for what, err := range map[string]error{"promisc": netlink.SetPromiscOn(before), "lifetimes": netlink.AddrReplace(before, addr), "local route": netlink.RouteAdd(local)} {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	part = plan.NewState()
	if taken, err := k.takeAhead(false, &part); err != nil || !taken {
		t.Errorf("host changed only in what observing does not show: taken %v, err %v; want it used", taken, err)
	}

	// Addresses added and deleted after the dump: what was read is brought up to date.
	k.ObserveHostAhead()
	<-k.ahead.done
	more := []netlink.Addr{
		{IPNet: &net.IPNet{IP: net.IPv4(10, 9, 0, 2), Mask: net.CIDRMask(24, 32)}},
		{IPNet: &net.IPNet{IP: net.IPv4(10, 9, 1, 1), Mask: net.CIDRMask(32, 32)}, Peer: &net.IPNet{IP: net.IPv4(10, 9, 1, 2), Mask: net.CIDRMask(32, 32)}},
		{IPNet: &net.IPNet{IP: net.ParseIP("fd00:9::1"), Mask: net.CIDRMask(64, 128)}},
	}
	for _, a := range more {
		if err := netlink.AddrAdd(before, &a); err != nil {
			t.Fatalf("add %s: %v", a.IPNet, err)
		}
	}
	if err := netlink.AddrDel(before, &more[0]); err != nil {
		t.Fatal(err)
	}
	part = plan.NewState()
	if taken, err := k.takeAhead(false, &part); err != nil || !taken {
		t.Errorf("addresses added and deleted after the dump: taken %v, err %v; want it used", taken, err)
	}
	fresh, err := k.Observe(context.Background(), plan.Scope{Namespaces: []plan.NS{plan.Host}})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(part.Addrs, fresh.Addrs) {
		t.Errorf("addresses brought up to date:\n%v\nobserved anew:\n%v", part.Addrs, fresh.Addrs)
	}

	k.ObserveHostAhead()
	<-k.ahead.done
	addVeth(t, "after0", "after1") // after the dump: only the watch can tell
	part = plan.NewState()
	if taken, err := k.takeAhead(false, &part); err != nil || taken {
		t.Errorf("host changed after the dump: taken %v, err %v; want it dropped", taken, err)
	}

	k.ObserveHostAhead()
	addVeth(t, "late0", "late1") // before, during or after the dump
	s, err := k.Observe(context.Background(), plan.Scope{Namespaces: []plan.NS{plan.Host}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"before0", "after0", "late0", "late1"} {
		if !has(s, name) {
			t.Errorf("Observe after a change made while reading ahead misses %s", name)
		}
	}
	if k.ahead != nil {
		t.Error("the observation begun ahead is kept after Observe")
	}
}

// TestWaitLinksGone checks that waiting for links returns once the kernel has deleted
// them, not before, and at the deadline when one stays.
func TestWaitLinksGone(t *testing.T) {
	inThrowawayNetns(t)
	addVeth(t, "a0", "a1")
	addVeth(t, "b0", "b1")
	addVeth(t, "c0", "c1")
	k, err := NewLinux(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	del := func(name string) {
		t.Helper()
		l, err := netlink.LinkByName(name)
		if err == nil {
			err = netlink.LinkDel(l)
		}
		if err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	keys := func(names ...string) []plan.LinkKey {
		var ks []plan.LinkKey
		for _, n := range names {
			ks = append(ks, plan.LinkKey{NS: plan.Host, Name: n})
		}
		return ks
	}

	del("a0") // gone before the wait: nothing to wait for
	done := make(chan error)
	go func() { done <- k.WaitLinksGone(context.Background(), keys("a0", "b0"), time.Now().Add(time.Minute)) }()
	select {
	case err := <-done:
		t.Fatalf("returned while b0 is left (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	del("b0")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName("b0"); err == nil {
		t.Error("returned with b0 left")
	}

	// c0 stays: the wait ends at the deadline, without an error.
	if err := k.WaitLinksGone(context.Background(), keys("c0"), time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
}

// TestReadOnce checks that a Linux that reads once keeps no handle after observing, and
// that one that does not keeps them for the actions to come.
func TestReadOnce(t *testing.T) {
	inThrowawayNetns(t)
	for _, once := range []bool{false, true} {
		k, err := NewLinux(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if once {
			k.ReadOnce()
		}
		if _, err := k.Observe(context.Background(), plan.Scope{Namespaces: []plan.NS{plan.Host}}); err != nil {
			t.Fatal(err)
		}
		k.mu.Lock()
		open := len(k.handles)
		k.mu.Unlock()
		if want := map[bool]int{false: 1, true: 0}[once]; open != want {
			t.Errorf("ReadOnce %v: %d handles open after Observe, want %d", once, open, want)
		}
		k.Close()
	}
}

// TestPresentFiles checks that the keys kept are those whose entry in /etc/netns, a
// node's directory or a shared file, is listed there, whatever is inside the directory.
func TestPresentFiles(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		if err := os.Mkdir(dir+"/"+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(dir+"/.netlab-lab.hosts", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	etc, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(etc)
	for _, c := range []struct {
		name       string
		keys, want []plan.FileKey
	}{
		{"none listed", []plan.FileKey{{NS: "c"}, {NS: "c", Name: "hosts"}, plan.SharedHosts("other")}, []plan.FileKey{}},
		{"a directory and what may be in it", []plan.FileKey{{NS: "a"}, {NS: "a", Name: "hosts"}, {NS: "a", Name: "resolv.conf"}},
			[]plan.FileKey{{NS: "a"}, {NS: "a", Name: "hosts"}, {NS: "a", Name: "resolv.conf"}}},
		{"the shared file among others", []plan.FileKey{plan.SharedHosts("lab"), {NS: "b", Name: "hosts"}, {NS: "d", Name: "hosts"}},
			[]plan.FileKey{plan.SharedHosts("lab"), {NS: "b", Name: "hosts"}}},
	} {
		got, err := presentFiles(etc, c.keys)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: presentFiles = %v, want %v", c.name, got, c.want)
		}
	}
}
