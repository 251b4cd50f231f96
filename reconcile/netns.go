package reconcile

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsfsMagic is the statfs type of a namespace file (NSFS_MAGIC).
const nsfsMagic = 0x6e736673

// isNamespaceFile reports whether path is a live network namespace file: a bind mount of
// a namespace, as `ip netns add` makes, or a link to /proc/PID/ns/net.
func isNamespaceFile(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Type == nsfsMagic, nil
}

// makeSharedMountPoint makes dir a shared mount point, binding it onto itself first when
// it is not a mount point yet, exactly as `ip netns add` does; so namespaces mounted
// under it are seen by every mount namespace that shares it.
func makeSharedMountPoint(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) {
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s onto itself: %w", dir, err)
		}
		err = unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", dir, err)
	}
	return nil
}

// entryOf says what is at path, an entry under /run/netns, without following a symlink:
// live (a namespace is mounted there), or else the plan.Entry it is, "" when nothing is
// there.
func entryOf(path string) (live bool, entry plan.Entry, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); errors.Is(err, unix.ENOENT) {
		return false, "", nil
	} else if err != nil {
		return false, "", fmt.Errorf("stat %s: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFLNK:
		return false, "a symbolic link", nil
	case unix.S_IFDIR:
		return false, "a directory", nil
	default:
		return false, "a special file", nil
	}
	if ok, err := isNamespaceFile(path); err != nil || ok {
		return ok, "", err
	}
	if st.Size == 0 && st.Mode&0o7777 == 0 {
		return false, plan.EntryEmpty, nil
	}
	return false, "a regular file", nil
}

// makeMountPoint creates the empty file dir/name (mode 0) to mount a namespace on, as
// `ip netns add` does. An empty file of mode 0 already there, the mount point left by a
// run killed before it mounted, is used as it is; anything else there is refused.
func makeMountPoint(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EEXIST) {
		if live, entry, lerr := entryOf(path); lerr != nil || live || entry != plan.EntryEmpty {
			return fmt.Errorf("create namespace file %s: %w (and it is not an empty mount point netlab left)", path, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("create namespace file %s: %w", path, err)
	}
	return unix.Close(fd)
}

// removeMountPoint removes dir/name after its namespace is unmounted, only if it is the
// empty file netlab made: never a symlink, or a file someone put there since.
func removeMountPoint(path string) error {
	live, entry, err := entryOf(path)
	switch {
	case err != nil:
		return err
	case entry == "":
		return nil // already gone
	case live || entry != plan.EntryEmpty:
		return fmt.Errorf("not removing %s: it is %s, not the empty mount point netlab made", path, cmp.Or(entry, "a mounted namespace"))
	}
	if err := unix.Unlink(path); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// createNamespace creates a network namespace and bind-mounts it at dir/name, as
// `ip netns add` does, then calls inside, when given, on the thread still in the new
// namespace. The unshare happens on a locked thread that is switched back to its
// original namespace afterwards, so the caller's thread never changes namespace.
func createNamespace(dir, name string, inside func() error) error {
	path := filepath.Join(dir, name)
	if err := makeMountPoint(path); err != nil {
		return err
	}
	err := onFreshThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare network namespace: %w", err)
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount namespace on %s: %w", path, err)
		}
		if inside != nil {
			return inside()
		}
		return nil
	})
	if err != nil {
		return errors.Join(err, deleteNamespace(dir, name))
	}
	return nil
}

// deleteNamespace unmounts and removes dir/name, as `ip netns del` does, without
// following a symlink there. A namespace already gone counts as deleted.
func deleteNamespace(dir, name string) error {
	path := filepath.Join(dir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	return removeMountPoint(path)
}

// onFreshThread runs f on a locked OS thread and, afterwards, puts the thread back in
// the network namespace it started in. A thread that cannot be put back stays locked, so
// the runtime ends it with its goroutine instead of reusing it.
func onFreshThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current namespace: %w", err)
			return
		}
		defer orig.Close()
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("switch thread back to its namespace: %w", err))
			return // the thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// inNamespace runs f on a locked thread switched into the namespace target.
func inNamespace(target netns.NsHandle, f func() error) error {
	return onFreshThread(func() error {
		if err := netns.Set(target); err != nil {
			return fmt.Errorf("enter namespace: %w", err)
		}
		return f()
	})
}

// ApplyNetns creates a namespace with its lo up, or deletes one.
func (k *Linux) ApplyNetns(a plan.Action, o plan.NetnsObject) error {
	ns := o.NS
	if a.Kind == plan.Delete {
		k.forget(ns)
		return deleteNamespace(k.netnsDir, string(ns))
	}
	if err := k.shareNetnsDir(); err != nil {
		return err
	}
	k.forget(ns)
	h, release, err := k.makeNamespace(ns)
	if err != nil {
		return err
	}
	defer release()
	// The loopback is the first interface of every new namespace: index 1.
	if err := h.nl.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1}}); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// makeNamespace creates namespace ns (createNamespace) and returns its handle,
// acquired. The handle is opened on the thread that made the namespace, while the
// thread is still in it: its socket is made there without entering the namespace
// through its entry and leaving it again, as opening it afterwards would (two
// namespace switches and an open for each of a lab's namespaces). With a test's
// handle maker (newHandle), the handle is opened afterwards, as any other.
func (k *Linux) makeNamespace(ns plan.NS) (*nsHandle, func(), error) {
	if k.newHandle != nil {
		if err := createNamespace(k.netnsDir, string(ns), nil); err != nil {
			return nil, nil, err
		}
		return k.handle(ns)
	}
	h := &nsHandle{name: ns, index: map[string]int{}, users: 1}
	err := createNamespace(k.netnsDir, string(ns), func() error {
		nsh, err := netns.Get()
		if err != nil {
			return fmt.Errorf("open namespace %s: %w", ns, err)
		}
		nl, err := netlink.NewHandle(unix.NETLINK_ROUTE) // in the thread's namespace: ns
		if err != nil {
			nsh.Close()
			return fmt.Errorf("open netlink in namespace %s: %w", ns, err)
		}
		h.ns, h.nl = nsh, nl
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	k.mu.Lock()
	k.drop(ns) // a handle opened meanwhile from the new entry is this namespace's too
	k.handles[ns] = h
	k.mu.Unlock()
	return h, func() { k.release(h) }, nil
}

// locate finds the namespace ns of the scope, for observe to look into: the host, or
// the live namespace mounted at its /run/netns entry. When the entry is not one, it
// notes in part what is there instead (plan.State.Entries); and for an existing
// namespace (source is its file), it opens the namespace through source instead, so
// that a lab is checked against what is in the namespace before it makes the entry,
// and destroy can wait for the kernel after it removed the entry. A source that is
// gone is noted in part (plan.State.SourceGone).
func (k *Linux) locate(ns plan.NS, source string, part *plan.State) (bool, error) {
	if ns == plan.Host {
		return true, nil
	}
	entry := filepath.Join(k.netnsDir, string(ns))
	if source == entry {
		// The node is named after an entry someone else made: theirs, used as it is.
		ok, err := isNamespaceFile(entry)
		return ok, err
	}
	live, stray, err := entryOf(entry)
	switch {
	case err != nil:
		return false, err
	case live:
		k.openFrom(ns, entry)
		return true, nil
	case stray != "":
		part.Entries[ns] = stray
	}
	if source == "" {
		return false, nil
	}
	if ok, err := isNamespaceFile(source); err != nil || !ok {
		part.SourceGone[ns] = true
		return false, err
	}
	k.openFrom(ns, source)
	return true, nil
}
