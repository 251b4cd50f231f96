// Package record keeps, under netlab's state directory, what each lab owns and the lock
// that stops two netlab runs from interleaving.
//
// A lab's record is the file LAB.json (mode 0600, in a directory of mode 0700), written
// atomically: a temporary file, fsynced, renamed over the old one. netlab writes the
// record of an object before the kernel change that creates it, so a run killed at any
// point leaves a record from which the next apply converges and destroy cleans up.
package record

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netlab-go/netlab/plan"
	"golang.org/x/sys/unix"
)

// DefaultDir is the state directory unless --state-dir or NETLAB_STATE_DIR says another.
const DefaultDir = "/run/netlab"

// FormatVersion is the version of the record format this netlab writes. It reads this
// one and version 1 (whose links spell their peer out as peer_ns and peer_name); a
// record of another version is refused, never acted on. Version 2 writes a link in the
// one JSON form of plan.Link, which a netlab of version 1 refuses rather than misreads.
const FormatVersion = 2

// oldestFormatVersion is the oldest record format this netlab reads.
const oldestFormatVersion = 1

// Record is what a lab owns: the objects it created (Owned; its Sysctls map each sysctl
// the lab changed to the value found before) and the topology file it was applied from.
type Record struct {
	FormatVersion int        `json:"format_version"`
	Lab           string     `json:"lab"`
	Topology      string     `json:"topology,omitempty"`
	Owned         plan.State `json:"owned"`
	// Wants maps each sysctl the lab sets to the value it sets: when several labs set
	// one sysctl of the host, destroying one of them leaves the value the others want.
	Wants Sysctls `json:"wants,omitempty"`

	// readVersion is the format version of the file Load read the record from; 0 for a
	// record not read from a file.
	readVersion int
}

// Stored reports whether r is what the file of from holds already: from was read by
// Load from a file of this format, and r equals it. Saving r is then a rewrite of the
// same bytes.
func (r Record) Stored(from Record) bool {
	if from.readVersion != FormatVersion {
		return false
	}
	from.readVersion, r.FormatVersion = r.readVersion, FormatVersion // as Save writes it
	if len(r.Wants) == 0 && len(from.Wants) == 0 {
		r.Wants, from.Wants = nil, nil // none is written the same way
	}
	return reflect.DeepEqual(r, from)
}

// Nodes returns the nodes of the applied lab: the host first, then, sorted, every
// namespace it made or attached or wrote files for (every node but the host has its
// hosts file).
func (r Record) Nodes() []plan.NS {
	seen := map[plan.NS]bool{}
	for ns := range r.Owned.Namespaces {
		seen[ns] = true
	}
	for ns := range r.Owned.Attached {
		seen[ns] = true
	}
	for f := range r.Owned.Files {
		if !f.Shared() {
			seen[f.NS] = true
		}
	}
	delete(seen, plan.Host)
	nodes := slices.Sorted(maps.Keys(seen))
	return append([]plan.NS{plan.Host}, nodes...)
}

// Sysctls maps sysctls to values; in JSON a sorted list of {ns, name, value}.
type Sysctls map[plan.SysctlKey]string

type sysctlJSON struct {
	NS    plan.NS `json:"ns"`
	Name  string  `json:"name"`
	Value string  `json:"value"`
}

// MarshalJSON writes the map as a list sorted by namespace and name.
func (m Sysctls) MarshalJSON() ([]byte, error) {
	list := []sysctlJSON{}
	for k, v := range m {
		list = append(list, sysctlJSON{k.NS, k.Name, v})
	}
	slices.SortFunc(list, func(a, b sysctlJSON) int { return cmp.Or(cmp.Compare(a.NS, b.NS), cmp.Compare(a.Name, b.Name)) })
	return json.Marshal(list)
}

// UnmarshalJSON reads the list MarshalJSON writes.
func (m *Sysctls) UnmarshalJSON(data []byte) error {
	var list []sysctlJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		return err
	}
	*m = Sysctls{}
	for _, c := range list {
		if !plan.IsSysctlName(c.Name) || strings.ContainsAny(c.Value, "\x00\n") {
			return fmt.Errorf("wanted sysctl %q is not a net.* sysctl with a one-line value", c.Name)
		}
		if problem := plan.NamespaceNameProblem(c.NS); problem != "" && c.NS != plan.Host {
			return fmt.Errorf("namespace %q %s", c.NS, problem)
		}
		(*m)[plan.SysctlKey{NS: c.NS, Name: c.Name}] = c.Value
	}
	return nil
}

// Store is the state directory. Every file in it is opened relative to a descriptor of
// the directory, never through a symbolic link; the directory itself is refused when it
// is a link, is not owned by root or may be written by others (OpenSSH's StrictModes).
type Store struct {
	Dir string
}

func (s Store) path(lab string) string { return filepath.Join(s.Dir, lab+".json") }

// CorruptError says a lab's record cannot be read or is not valid. Nothing is done from
// it; destroy FILE can still remove the lab by what carries its marks.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("the record %s is not usable: %v; nothing was done from it (netlab destroy FILE removes the lab by its marks and its file)", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// open opens the state directory (creating it, mode 0700, when create is set and it is
// missing) and checks it. ok is false when it is missing.
func (s Store) open(create bool) (fd int, ok bool, err error) {
	const flags = syscall.O_RDONLY | syscall.O_DIRECTORY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	fd, err = syscall.Open(s.Dir, flags, 0)
	if errors.Is(err, syscall.ENOENT) && create {
		if err := os.MkdirAll(filepath.Dir(s.Dir), 0o755); err != nil {
			return -1, false, fmt.Errorf("create state directory: %w", err)
		}
		if err := syscall.Mkdir(s.Dir, 0o700); err != nil && !errors.Is(err, syscall.EEXIST) {
			return -1, false, fmt.Errorf("create state directory %s: %w", s.Dir, err)
		}
		fd, err = syscall.Open(s.Dir, flags, 0)
	}
	switch {
	case errors.Is(err, syscall.ENOENT):
		return -1, false, nil
	case errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.ENOTDIR):
		return -1, false, fmt.Errorf("refusing state directory %s: it is a symbolic link or not a directory", s.Dir)
	case err != nil:
		return -1, false, fmt.Errorf("open state directory %s: %w", s.Dir, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return -1, false, fmt.Errorf("stat state directory: %w", err)
	}
	if st.Uid != uint32(os.Geteuid()) || st.Mode&0o022 != 0 {
		syscall.Close(fd)
		return -1, false, fmt.Errorf("refusing state directory %s: it must be owned by root and writable by root alone (it is mode %04o, owner %d); use a directory of its own, such as the default %s",
			s.Dir, st.Mode&0o7777, st.Uid, DefaultDir)
	}
	return fd, true, nil
}

// openFile opens name in the directory dirfd without following a symbolic link, and
// refuses anything but a regular file.
func openFile(dirfd int, name string, flags int, perm uint32) (*os.File, error) {
	fd, err := syscall.Openat(dirfd, name, flags|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("refusing %s: it is a symbolic link", name)
	} else if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return nil, fmt.Errorf("refusing %s: it is not a regular file", name)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func checkLab(lab string) error {
	if problem := plan.LabNameProblem(lab); problem != "" {
		return fmt.Errorf("lab name %q %s", lab, problem)
	}
	return nil
}

// Load returns the lab's record, or an empty one when the lab has none. A record that
// cannot be read or is not valid gives a *CorruptError.
func (s Store) Load(lab string) (Record, error) {
	empty := Record{FormatVersion: FormatVersion, Lab: lab, Owned: plan.NewState()}
	if err := checkLab(lab); err != nil {
		return Record{}, err
	}
	dir, ok, err := s.open(false)
	if err != nil || !ok {
		return empty, err
	}
	defer syscall.Close(dir)
	f, err := openFile(dir, lab+".json", syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return empty, nil
	} else if err != nil {
		return Record{}, &CorruptError{Path: s.path(lab), Err: err}
	}
	defer f.Close()
	r, err := decode(io.LimitReader(f, maxRecord), lab)
	if err != nil {
		return Record{}, &CorruptError{Path: s.path(lab), Err: err}
	}
	return r, nil
}

// maxRecord bounds what Load reads: a record of 5,000 namespaces is a few MB.
const maxRecord = 256 << 20

// decode reads and validates a record of the lab, in one pass: its fields one by one,
// the owned state straight into its maps (a record of a thousand namespaces is read by
// every run).
func decode(r io.Reader, lab string) (Record, error) {
	var raw struct {
		FormatVersion *int
		Lab           string
		Topology      string
		Owned         plan.State
		HasOwned      bool
		Wants         Sysctls
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if t, err := dec.Token(); err != nil {
		return Record{}, fmt.Errorf("decode: %w", err)
	} else if t != json.Delim('{') {
		return Record{}, errors.New("decode: a record is a JSON object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Record{}, fmt.Errorf("decode: %w", err)
		}
		switch key, _ := t.(string); key {
		case "format_version":
			err = dec.Decode(&raw.FormatVersion)
		case "lab":
			err = dec.Decode(&raw.Lab)
		case "topology":
			err = dec.Decode(&raw.Topology)
		case "owned":
			if v := raw.FormatVersion; v != nil && (*v < oldestFormatVersion || *v > FormatVersion) {
				var skip json.RawMessage // another format's: refused below by its version, not its fields
				err, raw.HasOwned = dec.Decode(&skip), true
				break
			}
			raw.Owned, raw.HasOwned, err = plan.DecodeState(dec)
		case "wants":
			err = dec.Decode(&raw.Wants)
		default:
			err = fmt.Errorf("unknown field %q", key)
		}
		if err != nil {
			return Record{}, fmt.Errorf("decode: %w", err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return Record{}, fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Record{}, errors.New("decode: data after the record")
	}
	switch {
	case raw.FormatVersion == nil:
		return Record{}, errors.New("it has no format_version")
	case *raw.FormatVersion < oldestFormatVersion || *raw.FormatVersion > FormatVersion:
		return Record{}, fmt.Errorf("it is of format version %d; this netlab reads versions %d to %d (was it written by another netlab?)",
			*raw.FormatVersion, oldestFormatVersion, FormatVersion)
	case raw.Lab != lab:
		return Record{}, fmt.Errorf("it names lab %q, not %q", raw.Lab, lab)
	case !raw.HasOwned:
		return Record{}, errors.New("it lists no owned objects (\"owned\" is missing or null)")
	case strings.ContainsRune(raw.Topology, 0):
		return Record{}, errors.New("its topology path has a NUL byte")
	}
	rec := Record{FormatVersion: FormatVersion, Lab: raw.Lab, Topology: raw.Topology, Owned: raw.Owned, Wants: raw.Wants,
		readVersion: *raw.FormatVersion}
	if err := rec.Owned.Validate(); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// Save writes the record atomically, or removes the lab's file when the record owns
// nothing. The temporary file has one fixed name, .LAB.json.new, so that one left by a
// run killed while writing it is replaced by the next.
func (s Store) Save(r Record) error {
	if err := checkLab(r.Lab); err != nil {
		return err
	}
	dir, ok, err := s.open(!r.Owned.Empty())
	if err != nil {
		return err
	}
	if !ok {
		return nil // no directory: nothing recorded, nothing to remove
	}
	defer syscall.Close(dir)
	name, tmp := r.Lab+".json", "."+r.Lab+".json.new"
	if err := unlinkAt(dir, tmp); err != nil {
		return fmt.Errorf("remove %s: %w", tmp, err)
	}
	if r.Owned.Empty() {
		if err := unlinkAt(dir, name); err != nil {
			return fmt.Errorf("remove record of lab %s: %w", r.Lab, err)
		}
		return nil
	}
	r.FormatVersion = FormatVersion
	data, err := encode(r)
	if err != nil {
		return fmt.Errorf("encode record of lab %s: %w", r.Lab, err)
	}
	f, err := openFile(dir, tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write record of lab %s: %w", r.Lab, err)
	}
	_, err = f.Write(append(data, '\n'))
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = syscall.Renameat(dir, tmp, dir, name)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("write record of lab %s: %w", r.Lab, err), unlinkAt(dir, tmp))
	}
	return nil
}

// encode is json.Marshal(r), compact (a record of a thousand namespaces is read by
// every run), without json.Marshal's second pass over what the owned state's
// MarshalJSON returns: it compacts every Marshaler's output again, a quarter of the
// time Save took for a record of the 1000-namespace star. TestEncode holds it to
// json.Marshal's bytes.
func encode(r Record) ([]byte, error) {
	owned, err := r.Owned.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b := fmt.Appendf(make([]byte, 0, len(owned)+256), `{"format_version":%d,"lab":`, r.FormatVersion)
	field := func(s any) error {
		v, err := json.Marshal(s)
		b = append(b, v...)
		return err
	}
	err = field(r.Lab)
	if r.Topology != "" {
		b = append(b, `,"topology":`...)
		err = errors.Join(err, field(r.Topology))
	}
	b = append(append(b, `,"owned":`...), owned...)
	if len(r.Wants) > 0 {
		b = append(b, `,"wants":`...)
		err = errors.Join(err, field(r.Wants))
	}
	return append(b, '}'), err
}

func unlinkAt(dir int, name string) error {
	if err := syscall.Unlinkat(dir, name); err != nil && !errors.Is(err, syscall.ENOENT) {
		return err
	}
	return nil
}

// Labs lists the labs that have a record, sorted.
func (s Store) Labs() ([]string, error) {
	dir, ok, err := s.open(false)
	if err != nil || !ok {
		return nil, err
	}
	f := os.NewFile(uintptr(dir), s.Dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list state directory: %w", err)
	}
	var labs []string
	for _, n := range names {
		if name, ok := strings.CutSuffix(n, ".json"); ok && checkLab(name) == nil {
			labs = append(labs, name)
		}
	}
	slices.Sort(labs)
	return labs, nil
}

// Modified returns when the record of lab was last written: when the lab was last
// applied (or changed by a run).
func (s Store) Modified(lab string) (time.Time, error) {
	if err := checkLab(lab); err != nil {
		return time.Time{}, err
	}
	dir, ok, err := s.open(false)
	if err != nil || !ok {
		return time.Time{}, cmp.Or(err, os.ErrNotExist)
	}
	defer syscall.Close(dir)
	var st unix.Stat_t
	if err := unix.Fstatat(dir, lab+".json", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return time.Time{}, fmt.Errorf("record of lab %s: %w", lab, err)
	}
	return time.Unix(st.Mtim.Unix()), nil
}

// Lock is the held run lock; Unlock releases it.
type Lock struct {
	f *os.File
}

// LockHeldError says the run lock is still held by another netlab after the wait.
type LockHeldError struct {
	PID  int
	Wait time.Duration
}

func (e *LockHeldError) Error() string {
	holder := "another netlab"
	if e.PID > 0 {
		holder = fmt.Sprintf("netlab process %d", e.PID)
	}
	return fmt.Sprintf("the state directory is locked by %s; waited %s (wait longer with --lock-timeout)", holder, e.Wait)
}

// Lock takes the run lock (flock on the file "lock" in the state directory), waiting up
// to timeout for another run to finish. The lock file holds the holder's PID.
func (s Store) Lock(timeout time.Duration) (*Lock, error) {
	dir, _, err := s.open(true)
	if err != nil {
		return nil, err
	}
	f, err := openFile(dir, "lock", syscall.O_RDWR|syscall.O_CREAT, 0o600)
	syscall.Close(dir)
	if err != nil {
		return nil, fmt.Errorf("open lock in %s: %w", s.Dir, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock state directory: %w", err)
		}
		if time.Now().After(deadline) {
			data := make([]byte, 32)
			n, _ := f.ReadAt(data, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data[:n])))
			f.Close()
			return nil, &LockHeldError{PID: pid, Wait: timeout}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the run lock.
func (l *Lock) Unlock() error {
	l.f.Truncate(0)
	return l.f.Close() // closing the file releases the flock
}
