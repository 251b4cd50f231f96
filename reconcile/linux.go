package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/coreos/go-iptables/iptables"
	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultNetnsDir is where `ip netns` keeps its namespaces.
const DefaultNetnsDir = plan.NetnsDir

// Linux is the Kernel of the machine netlab runs on. It keeps one netlink handle per
// namespace, opened on first use, at most handleLimit of them at once; Close releases
// them all.
type Linux struct {
	netnsDir string

	mu      sync.Mutex
	host    netns.NsHandle
	handles map[plan.NS]*nsHandle
	// paths holds the file each namespace is opened from when it is not its entry
	// under netnsDir: an existing namespace whose entry is not made yet, or gone.
	paths  map[plan.NS]string
	shared bool                        // netnsDir was made a shared mount point
	ipt    map[bool]*iptables.IPTables // by IPv6
	// handleLimit bounds the handles open at once (see maxHandles); clock orders
	// their last uses.
	handleLimit int
	clock       uint64
	// newHandle, when set, stands in for netlink.NewHandleAt (a test's recorder).
	newHandle func(ns plan.NS, nsh netns.NsHandle) (netlinkHandle, error)
	// ahead is the host's observation begun by ObserveHostAhead, until Observe uses it.
	ahead *hostAhead
	// once: each handle is closed at its last release (see ReadOnce).
	once bool
}

// ReadOnce says that this Linux is to read the kernel once and change nothing, as for a
// plan: each namespace's handle is then closed as soon as its dump is done, by the
// worker that dumped it, instead of thousands of them one after the other at Close.
func (k *Linux) ReadOnce() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.once = true
}

// nsHandle is an open namespace and a netlink handle whose socket lives in it. index
// remembers the interface indexes seen or made in the namespace during this run, to
// spare a lookup by name before each address; it goes with the handle (guarded by
// Linux.mu, as are users, used and closing).
type nsHandle struct {
	name  plan.NS
	ns    netns.NsHandle
	nl    netlinkHandle
	index map[string]int

	users   int    // acquired and not released
	used    uint64 // when it was last released, in Linux.clock ticks
	closing bool   // forgotten while in use: closed by the last release
}

func (h *nsHandle) close() {
	h.nl.Close()
	h.ns.Close()
}

// fdsPerHandle is what one open namespace costs: its file and one netlink socket.
const fdsPerHandle = 2

// maxHandles bounds the handles open at once, whatever the lab's size: two
// descriptors each. Idle ones beyond it are closed, least recently used first, and
// opened again when needed.
const maxHandles = 1024

// handleLimit is how many handles may be open under the process's RLIMIT_NOFILE,
// keeping 64 descriptors for everything else, or an error when that is too few to work.
func handleLimit() (int, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("read the limit of open files: %w", err)
	}
	n := (int64(lim.Cur) - 64) / fdsPerHandle
	if n < 8 {
		return 0, fmt.Errorf("the limit of open files is %d; netlab needs at least %d (raise it with ulimit -n)", lim.Cur, 64+8*fdsPerHandle)
	}
	return int(min(n, maxHandles)), nil
}

// NewLinux opens the kernel of the namespace the process runs in, with namespaces under
// netnsDir (DefaultNetnsDir unless testing). The caller must Close it. It fails, before
// anything is changed, when the limit of open files is too low to work.
func NewLinux(netnsDir string) (*Linux, error) {
	limit, err := handleLimit()
	if err != nil {
		return nil, err
	}
	host, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("open host namespace: %w", err)
	}
	return &Linux{netnsDir: netnsDir, host: host, handles: map[plan.NS]*nsHandle{}, paths: map[plan.NS]string{},
		ipt: map[bool]*iptables.IPTables{}, handleLimit: limit}, nil
}

// Close releases every netlink handle and namespace file Linux opened. The handles are
// closed on every CPU (forEach): the kernel takes some 10 µs to release each socket,
// which for a lab of a thousand namespaces made 10 ms on a single CPU.
func (k *Linux) Close() error {
	k.closeAhead()
	k.mu.Lock()
	defer k.mu.Unlock()
	open := slices.Collect(maps.Values(k.handles))
	clear(k.handles)
	_ = forEach(context.Background(), len(open), func(i int) error { open[i].close(); return nil })
	return k.host.Close()
}

// handle returns the open handle of a namespace, opening it on first use, and the
// function that releases it: a handle in use is never closed under its user. The
// namespace and its socket are opened without holding k.mu (each open switches a
// thread into the namespace and back), so that workers open theirs in parallel; when
// two open the same namespace at once, or its file changed meanwhile, one handle wins.
func (k *Linux) handle(ns plan.NS) (*nsHandle, func(), error) {
	k.mu.Lock()
	for {
		if h, ok := k.handles[ns]; ok {
			h.users++
			k.mu.Unlock()
			return h, func() { k.release(h) }, nil
		}
		path := k.pathOf(ns)
		k.mu.Unlock()
		h, err := k.open(ns, path)
		if err != nil {
			return nil, nil, err
		}
		k.mu.Lock()
		if _, raced := k.handles[ns]; raced || k.pathOf(ns) != path {
			h.close() // the next round takes the winner's, or opens the new file
			continue
		}
		k.handles[ns] = h
	}
}

// pathOf is the file a namespace is opened from; k.mu is held.
func (k *Linux) pathOf(ns plan.NS) string {
	if ns == plan.Host {
		return fmt.Sprintf("/proc/self/fd/%d", int(k.host))
	}
	if path, ok := k.paths[ns]; ok {
		return path
	}
	return filepath.Join(k.netnsDir, string(ns))
}

// open opens a namespace from its file and a netlink handle in it.
func (k *Linux) open(ns plan.NS, path string) (*nsHandle, error) {
	nsh, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", ns, err)
	}
	var nl netlinkHandle
	if k.newHandle != nil {
		nl, err = k.newHandle(ns, nsh)
	} else {
		nl, err = netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE) // the only family netlab speaks
	}
	if err != nil {
		nsh.Close()
		return nil, fmt.Errorf("open netlink in namespace %s: %w", ns, err)
	}
	return &nsHandle{name: ns, ns: nsh, nl: nl, index: map[string]int{}}, nil
}

// release gives a handle back. Past the limit, it closes idle handles, least recently
// used first, down to three quarters of the limit: one sort for every quarter of the
// limit released, not one for each (which cost a lab of 5000 namespaces seconds).
func (k *Linux) release(h *nsHandle) {
	k.mu.Lock()
	defer k.mu.Unlock()
	h.users--
	k.clock++
	h.used = k.clock
	if h.closing && h.users == 0 {
		h.close()
		return
	}
	if k.once && h.users == 0 && k.handles[h.name] == h {
		delete(k.handles, h.name)
		k.mu.Unlock()
		h.close() // not under k.mu: the kernel takes its time to release a socket
		k.mu.Lock()
		return
	}
	if len(k.handles) <= k.handleLimit {
		return
	}
	idle := make([]plan.NS, 0, len(k.handles))
	for ns, o := range k.handles {
		if o.users == 0 {
			idle = append(idle, ns)
		}
	}
	slices.SortFunc(idle, func(a, b plan.NS) int { return cmp.Compare(k.handles[a].used, k.handles[b].used) })
	for _, ns := range idle[:min(len(idle), len(k.handles)-k.handleLimit*3/4)] {
		k.handles[ns].close()
		delete(k.handles, ns)
	}
}

// forget closes the handle of a namespace that is deleted, with its indexes (when the
// handle is in use, its last release closes it).
func (k *Linux) forget(ns plan.NS) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.drop(ns)
	delete(k.paths, ns)
}

// drop closes or marks for closing the handle of ns; k.mu is held.
func (k *Linux) drop(ns plan.NS) {
	if h, ok := k.handles[ns]; ok {
		if h.users == 0 {
			h.close()
		} else {
			h.closing = true
		}
		delete(k.handles, ns)
	}
}

// openFrom says which file the namespace is to be opened from (its entry under
// netnsDir, or an existing namespace's own file), closing a handle opened from another.
func (k *Linux) openFrom(ns plan.NS, path string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	was, ok := k.paths[ns]
	if !ok {
		was = filepath.Join(k.netnsDir, string(ns))
	}
	if was == path {
		return
	}
	k.drop(ns)
	if path == filepath.Join(k.netnsDir, string(ns)) {
		delete(k.paths, ns)
	} else {
		k.paths[ns] = path
	}
}

// remember records the index of an interface of h's namespace.
func (k *Linux) remember(h *nsHandle, name string, index int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	h.index[name] = index
}

// link returns the interface as a netlink.Link that netlink calls taking an index
// accept: from the remembered index, or looked up by name.
func (k *Linux) link(h *nsHandle, name string) (netlink.Link, error) {
	k.mu.Lock()
	i, ok := h.index[name]
	k.mu.Unlock()
	if ok {
		return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: i, Name: name}}, nil
	}
	l, err := h.nl.LinkByName(name)
	if err == nil {
		k.remember(h, name, l.Attrs().Index)
	}
	return l, err
}

// byIndex calls f with the interface found by its remembered index and, if that index
// is gone (ENODEV), once more with the interface looked up by name.
func (k *Linux) byIndex(h *nsHandle, name string, f func(netlink.Link) error) error {
	l, err := k.link(h, name)
	if err != nil {
		return err
	}
	err = f(l)
	if errors.Is(err, unix.ENODEV) {
		k.mu.Lock()
		delete(h.index, name)
		k.mu.Unlock()
		if l, err = k.link(h, name); err != nil {
			return err
		}
		err = f(l)
	}
	return err
}

// in runs f in the namespace: directly for the host, on a switched, locked thread
// otherwise.
func (k *Linux) in(ns plan.NS, f func() error) error {
	if ns == plan.Host {
		return f()
	}
	h, release, err := k.handle(ns)
	if err != nil {
		return err
	}
	defer release()
	return inNamespace(h.ns, f)
}

// Apply carries out one action.
func (k *Linux) Apply(ctx context.Context, a plan.Action) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.ApplyTo(k); err != nil {
		return fmt.Errorf("%s %s: %w", a.Kind, a.Object(), err)
	}
	return nil
}

// retryDump calls dump until it returns a complete result: a dump interrupted by a
// concurrent change is incomplete and must not be taken for the truth.
func retryDump[T any](what string, dump func() (T, error)) (T, error) {
	var v T
	var err error
	for range 20 {
		v, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return v, fmt.Errorf("dump %s: %w", what, err)
	}
	return v, nil
}

// HasNamespace reports whether the lab namespace ns exists (is a live namespace file).
func (k *Linux) HasNamespace(ns plan.NS) bool {
	if ns == plan.Host {
		return true
	}
	ok, err := isNamespaceFile(filepath.Join(k.netnsDir, string(ns)))
	return ok && err == nil
}

// shareNetnsDir makes the namespace directory a shared mount point, as `ip netns add`
// does, once per Linux.
func (k *Linux) shareNetnsDir() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.shared {
		return nil
	}
	if err := makeSharedMountPoint(k.netnsDir); err != nil {
		return err
	}
	k.shared = true
	return nil
}

// Namespaces lists the names under the namespace directory and /etc/netns that are
// usable node names, sorted, once each.
func (k *Linux) Namespaces(context.Context) ([]plan.NS, error) {
	seen := map[plan.NS]bool{}
	entries, err := os.ReadDir(k.netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list %s: %w", k.netnsDir, err)
	}
	for _, e := range entries {
		seen[plan.NS(e.Name())] = true
	}
	etc, ok, err := etcNetns(false)
	if err != nil {
		return nil, err
	}
	if ok {
		names, err := listEtcNetns(etc)
		unix.Close(etc)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			seen[plan.NS(n)] = true
		}
	}
	var nss []plan.NS
	for ns := range seen {
		if plan.NamespaceNameProblem(ns) == "" && ns != plan.Host {
			nss = append(nss, ns)
		}
	}
	slices.Sort(nss)
	return nss, nil
}
