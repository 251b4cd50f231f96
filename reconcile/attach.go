package reconcile

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/netlab-go/netlab/plan"
	"golang.org/x/sys/unix"
)

// ApplyAttach makes, rebinds or removes the /run/netns entry of an existing namespace.
// Removing it unmounts the entry only: the namespace lives on with its processes.
func (k *Linux) ApplyAttach(a plan.Action, o plan.AttachObject) error {
	ns := o.NS
	k.forget(ns)
	if a.Kind == plan.Delete {
		return deleteNamespace(k.netnsDir, string(ns))
	}
	if err := k.shareNetnsDir(); err != nil {
		return err
	}
	return attachNamespace(k.netnsDir, string(ns), o.After)
}

// attachNamespace makes dir/name a bind mount of the existing namespace file source, as
// `ip netns attach NAME PID` does for /proc/PID/ns/net. A bind mount, not a symlink to
// /proc/PID/ns/net: it holds the namespace itself, so a reused PID can never make the
// entry point at another process's namespace, and `ip netns exec` treats it like any
// other. It keeps the namespace alive until destroy removes it. An entry that holds
// another namespace (the plan rebinds it) is unmounted first.
func attachNamespace(dir, name, source string) error {
	if ok, err := isNamespaceFile(source); err != nil || !ok {
		return fmt.Errorf("%s is not a network namespace (has its process exited?)", source)
	}
	path := filepath.Join(dir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := makeMountPoint(path); err != nil {
		return err
	}
	if err := unix.Mount(source, path, "none", unix.MS_BIND, ""); err != nil {
		return errors.Join(fmt.Errorf("bind %s on %s: %w", source, path, err), removeMountPoint(path))
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

// observeAttached checks the /run/netns entries of existing namespaces: present, and
// holding the namespace wanted.
func (k *Linux) observeAttached(attached map[plan.NS]string, s *plan.State) error {
	for _, ns := range sortedNS(attached) {
		source := attached[ns]
		entry := filepath.Join(k.netnsDir, string(ns))
		var live bool
		var err error
		if source == entry {
			live, err = isNamespaceFile(entry) // someone else's entry, perhaps a symlink
		} else {
			live, _, err = entryOf(entry)
		}
		if err != nil {
			return err
		}
		if !live {
			continue
		}
		if source == "" {
			s.Attached[ns] = ""
			continue
		}
		same, err := sameFile(source, entry)
		switch {
		case errors.Is(err, unix.ENOENT):
			s.Attached[ns] = plan.AttachedSourceGone
		case err != nil:
			return fmt.Errorf("node %s: namespace %s: %w", ns, source, err)
		case same:
			s.Attached[ns] = source
		default:
			s.Attached[ns] = plan.AttachedElsewhere
		}
	}
	return nil
}
