package reconcile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

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

// createNamespace creates a network namespace and bind-mounts it at dir/name, as
// `ip netns add` does. The unshare happens on a locked thread that is switched back to
// its original namespace afterwards, so the caller's thread never changes namespace.
func createNamespace(dir, name string) error {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0)
	if errors.Is(err, os.ErrExist) {
		// A file left by a run killed between creating the file and mounting on it. A
		// live namespace there was caught by the plan as a clash or as the lab's own.
		if live, lerr := isNamespaceFile(path); lerr != nil || live {
			return fmt.Errorf("create namespace file %s: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove stale namespace file: %w", err)
		}
		f, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0)
	}
	if err != nil {
		return fmt.Errorf("create namespace file %s: %w", path, err)
	}
	f.Close()
	err = onFreshThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare network namespace: %w", err)
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount namespace on %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// deleteNamespace unmounts and removes dir/name, as `ip netns del` does. A namespace
// already gone counts as deleted.
func deleteNamespace(dir, name string) error {
	path := filepath.Join(dir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
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

// attachNamespace makes dir/name a bind mount of the existing namespace file source, as
// `ip netns attach NAME PID` does for /proc/PID/ns/net. A bind mount, not a symlink to
// /proc/PID/ns/net: it holds the namespace itself, so a reused PID can never make the
// entry point at another process's namespace, and `ip netns exec` treats it like any
// other. It keeps the namespace alive until destroy removes it.
func attachNamespace(dir, name, source string) error {
	if ok, err := isNamespaceFile(source); err != nil || !ok {
		return fmt.Errorf("%s is not a network namespace (has its process exited?)", source)
	}
	path := filepath.Join(dir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0)
	if err != nil {
		return fmt.Errorf("create namespace file %s: %w", path, err)
	}
	f.Close()
	if err := unix.Mount(source, path, "none", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return fmt.Errorf("bind %s on %s: %w", source, path, err)
	}
	return nil
}

// sameFile reports whether a and b are the same file (for namespace files: the same
// namespace).
func sameFile(a, b string) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		return false, err
	}
	if err := unix.Stat(b, &sb); err != nil {
		return false, err
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// inNamespaceFile runs f on a locked thread switched into the namespace of the file path.
func inNamespaceFile(path string, f func() error) error {
	h, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", path, err)
	}
	defer h.Close()
	return inNamespace(h, f)
}
