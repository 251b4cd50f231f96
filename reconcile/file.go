package reconcile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/netlab-go/netlab/plan"
	"golang.org/x/sys/unix"
)

// The files of /etc/netns/NODE are plain files: no namespace is entered to read or write
// them. Every path under /etc/netns is opened relative to a descriptor of /etc/netns,
// through openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS: a symbolic link anywhere, in
// /etc/netns itself, at NODE or at the file, is never followed, so a lab can never be
// made to write, read or delete a file elsewhere. A file is written to a temporary file
// of a fixed name in its directory (plan.FileKey.TempName) and renamed over the old one,
// so `ip netns exec` never binds a half-written hosts file.

// errForeign says that a path under /etc/netns is a symbolic link or not of the kind
// expected: not the lab's, whatever its record says.
var errForeign = errors.New("not a plain file or directory")

// etcNetns opens /etc/netns (an O_PATH descriptor) without following a symlink on the way,
// creating it (mode 0755) when create is set and it is missing. It refuses a directory
// that is not owned by root or that others may write to, as OpenSSH's StrictModes does:
// another user could swap the lab's files under it. ok is false when it is missing.
func etcNetns(create bool) (fd int, ok bool, err error) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS}
	fd, err = unix.Openat2(unix.AT_FDCWD, plan.EtcNetnsDir, how)
	if errors.Is(err, unix.ENOENT) && create {
		etc, eerr := unix.Openat2(unix.AT_FDCWD, "/etc", how)
		if eerr != nil {
			return -1, false, fmt.Errorf("open /etc: %w", eerr)
		}
		err = unix.Mkdirat(etc, "netns", 0o755)
		unix.Close(etc)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, false, fmt.Errorf("create %s: %w", plan.EtcNetnsDir, err)
		}
		fd, err = unix.Openat2(unix.AT_FDCWD, plan.EtcNetnsDir, how)
	}
	switch {
	case errors.Is(err, unix.ENOENT):
		return -1, false, nil
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		return -1, false, fmt.Errorf("refusing %s: it is a symbolic link or not a directory", plan.EtcNetnsDir)
	case err != nil:
		return -1, false, fmt.Errorf("open %s: %w", plan.EtcNetnsDir, err)
	}
	if err := checkStrict(fd, plan.EtcNetnsDir); err != nil {
		unix.Close(fd)
		return -1, false, err
	}
	return fd, true, nil
}

// checkStrict refuses a directory netlab relies on that is not owned by root or that its
// group or others may write to.
func checkStrict(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Uid != 0 || st.Mode&0o022 != 0 {
		return fmt.Errorf("refusing %s: it must be owned by root and writable by root alone (it is mode %04o, owner %d); fix it with chown root %s; chmod go-w %s",
			path, st.Mode&0o7777, st.Uid, path, path)
	}
	return nil
}

// openBeneath opens name (NODE or NODE/FILE) under the directory dirfd without
// following a symbolic link, with errForeign for a link.
func openBeneath(dirfd int, name string, flags uint64) (int, error) {
	fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS})
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EXDEV) {
		return -1, errForeign
	}
	return fd, err
}

// observeFiles reads the files of the scope: a file's content (its Digest), or a
// directory's listing; plan.FileForeign for a link or another kind of file. A lab of N
// namespaces has N hosts files of N lines each, so they are read and digested in
// parallel, GOMAXPROCS at a time.
func observeFiles(ctx context.Context, scope plan.Scope, s *plan.State) error {
	if len(scope.Files) == 0 {
		return nil
	}
	etc, ok, err := etcNetns(false)
	if err != nil || !ok {
		return err
	}
	defer unix.Close(etc)
	files, err := presentFiles(etc, scope.Files)
	if err != nil {
		return err
	}
	// The lab's shared files, by inode: a node's file that is the same inode is a link.
	shared := map[fileID]plan.FileKey{}
	for _, k := range files {
		if k.Shared() {
			if id, ok := idOf(etc, k.Name); ok {
				shared[id] = k
			}
		}
	}
	var mu sync.Mutex // guards s.Files
	return forEach(ctx, len(files), func(i int) error {
		k := files[i]
		v, marked, ok, err := observeFile(etc, k, scope.UnreadFiles[k], plan.FileMark(scope.Lab), shared)
		if err != nil {
			return fmt.Errorf("observe %s: %w", k.Path(), err)
		}
		if ok {
			mu.Lock()
			defer mu.Unlock()
			s.Files[k] = v
			if marked {
				s.MarkedFiles[k] = true
			}
		}
		return nil
	})
}

// presentFiles are the keys whose entry in /etc/netns (etc), the node's directory or
// the shared file, is listed there: the others cannot exist, and are not opened one by
// one. A lab of N namespaces has 3N keys, none of which exists before its first apply;
// one listing of /etc/netns costs less than 3N opens.
func presentFiles(etc int, keys []plan.FileKey) ([]plan.FileKey, error) {
	names, err := listEtcNetns(etc)
	if err != nil {
		return nil, err
	}
	listed := make(map[string]bool, len(names))
	for _, n := range names {
		listed[n] = true
	}
	present := make([]plan.FileKey, 0, len(names))
	for _, k := range keys {
		if top, _, _ := strings.Cut(relPath(k), "/"); listed[top] {
			present = append(present, k)
		}
	}
	return present, nil
}

// listEtcNetns returns the names in /etc/netns (etc, a descriptor of it).
func listEtcNetns(etc int) ([]string, error) {
	fd, err := openBeneath(etc, ".", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", plan.EtcNetnsDir, err)
	}
	dir := os.NewFile(uintptr(fd), plan.EtcNetnsDir)
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", plan.EtcNetnsDir, err)
	}
	return names, nil
}

// fileID identifies a file: its device and inode.
type fileID struct{ dev, ino uint64 }

// idOf returns the identity of the regular file name under the directory dirfd.
func idOf(dirfd int, name string) (fileID, bool) {
	fd, err := openBeneath(dirfd, name, unix.O_PATH)
	if err != nil {
		return fileID{}, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fileID{}, false
	}
	return fileID{st.Dev, st.Ino}, true
}

// relPath is the path of k relative to /etc/netns.
func relPath(k plan.FileKey) string { return strings.TrimPrefix(k.Path(), plan.EtcNetnsDir+"/") }

// observeFile reads one file or directory under /etc/netns (etc): see observeFiles. A
// file that need not be read (unread) is checked to start with mark only; one that is a
// hard link to a shared file of the lab's is plan.HardLink of it. A file read whole is
// marked when it starts with mark too (plan.State.MarkedFiles).
func observeFile(etc int, k plan.FileKey, unread bool, mark string, shared map[fileID]plan.FileKey) (v string, marked, ok bool, err error) {
	name, flags, kind := relPath(k), uint64(unix.O_RDONLY|unix.O_DIRECTORY), uint32(unix.S_IFDIR)
	if !k.IsDir() {
		flags, kind = unix.O_RDONLY|unix.O_NONBLOCK, unix.S_IFREG
	}
	fd, err := openBeneath(etc, name, flags)
	switch {
	case errors.Is(err, unix.ENOENT):
		return "", false, false, nil
	case errors.Is(err, errForeign):
		return plan.FileForeign, false, true, nil
	case err != nil:
		return "", false, false, err
	}
	f := os.NewFile(uintptr(fd), k.Path())
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", false, false, err
	}
	if st.Mode&unix.S_IFMT != kind {
		return plan.FileForeign, false, true, nil
	}
	if k.IsDir() {
		names, err := f.Readdirnames(-1)
		return strings.Join(names, " "), false, true, err
	}
	if target, ok := shared[fileID{st.Dev, st.Ino}]; ok && !k.Shared() {
		return plan.HardLink(target), false, true, nil
	}
	r := bufio.NewReader(f)
	if unread {
		// Only the mark matters: Diff deletes the file whatever else it holds.
		first, err := r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, false, err
		}
		if !startsWithMark(first, mark) {
			return plan.FileForeign, false, true, nil
		}
		return plan.FileUnread, false, true, nil // a file to delete: its mark is its value
	}
	first, _ := r.Peek(len(mark) + 1) // an error is a file too short for the mark
	v, err = plan.DigestReader(r)
	return v, startsWithMark(string(first), mark), true, err
}

// startsWithMark reports whether line starts with the lab's mark and then "; " or " ",
// as the header of a file netlab writes does ("# Written by netlab for lab LAB; ...").
// The character after the lab's name tells lab "a" from lab "ab".
func startsWithMark(line, mark string) bool {
	rest, ok := strings.CutPrefix(line, mark)
	return ok && rest != "" && strings.ContainsAny(rest[:1], "; ")
}

// ApplyFile writes, or removes, one file or directory under /etc/netns.
func (*Linux) ApplyFile(a plan.Action, o plan.FileObject) error {
	k := o.Key
	etc, ok, err := etcNetns(a.Kind != plan.Delete)
	if err != nil || !ok {
		return err // nothing to remove when /etc/netns is gone
	}
	defer unix.Close(etc)
	if k.IsDir() {
		if a.Kind == plan.Delete {
			return removeDir(etc, k.NS)
		}
		if err := unix.Mkdirat(etc, string(k.NS), 0o755); errors.Is(err, unix.EEXIST) {
			fd, err := openBeneath(etc, string(k.NS), unix.O_PATH|unix.O_DIRECTORY)
			if err == nil {
				unix.Close(fd)
			}
			return err
		} else if err != nil {
			return err
		}
		return nil
	}
	dir := etc // a shared file is in /etc/netns itself
	if !k.Shared() {
		dir, err = openBeneath(etc, string(k.NS), unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) && a.Kind == plan.Delete {
			return nil
		} else if err != nil {
			return fmt.Errorf("open %s: %w", plan.FileKey{NS: k.NS}.Path(), err)
		}
		defer unix.Close(dir)
	}
	if err := unlinkIfThere(dir, k.TempName(), 0); err != nil {
		return err
	}
	if a.Kind == plan.Delete {
		return unlinkIfThere(dir, k.Name, 0)
	}
	if target, link := plan.LinkTarget(o.After); link {
		return linkFileAt(etc, strings.TrimPrefix(target, plan.EtcNetnsDir+"/"), dir, k)
	}
	return writeFileAt(dir, k, o.After)
}

// linkFileAt makes the file of k in dir a hard link to target, a regular file in etc:
// linked at its temporary name first, then renamed over it. The target is opened first
// and linked through its descriptor, so that it is never a symbolic link.
func linkFileAt(etc int, target string, dir int, k plan.FileKey) error {
	fd, err := openBeneath(etc, target, unix.O_PATH)
	if err != nil {
		return fmt.Errorf("open %s: %w", target, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("refusing to link %s to %s: it is not a regular file", k.Path(), target)
	}
	if err := unix.Linkat(fd, "", dir, k.TempName(), unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("link %s to %s: %w", k.Path(), target, err)
	}
	if err := unix.Renameat(dir, k.TempName(), dir, k.Name); err != nil {
		return errors.Join(fmt.Errorf("link %s to %s: %w", k.Path(), target, err), unlinkIfThere(dir, k.TempName(), 0))
	}
	return nil
}

// writeFileAt writes content to the file of k in the directory dir: to its temporary
// file first, then renamed over it.
func writeFileAt(dir int, k plan.FileKey, content string) error {
	fd, err := unix.Openat(dir, k.TempName(), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", k.TempName(), err)
	}
	f := os.NewFile(uintptr(fd), k.TempName())
	_, err = f.WriteString(content)
	err = errors.Join(err, f.Chmod(0o644), f.Close()) // the mode, whatever the umask
	if err == nil {
		err = unix.Renameat(dir, k.TempName(), dir, k.Name)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", k.Path(), err), unlinkIfThere(dir, k.TempName(), 0))
	}
	return nil
}

// removeDir removes /etc/netns/NS, once the temporary files an interrupted run left
// in it (of the names a lab writes) are removed too.
func removeDir(etc int, ns plan.NS) error {
	dir, err := openBeneath(etc, string(ns), unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return err
	}
	for _, name := range []string{"hosts", "resolv.conf"} {
		if err := unlinkIfThere(dir, plan.FileKey{NS: ns, Name: name}.TempName(), 0); err != nil {
			unix.Close(dir)
			return err
		}
	}
	unix.Close(dir)
	return unlinkIfThere(etc, string(ns), unix.AT_REMOVEDIR)
}

// unlinkIfThere removes name in dir (unlinkat never follows a link); gone is fine.
func unlinkIfThere(dir int, name string, flags int) error {
	if err := unix.Unlinkat(dir, name, flags); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}
