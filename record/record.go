// Package record keeps, under netlab's state directory, what each lab owns and the lock
// that stops two netlab runs from interleaving.
//
// A lab's record is the file LAB.json (mode 0600, in a directory of mode 0700), written
// atomically: a temporary file, fsynced, renamed over the old one. netlab writes the
// record of an object before the kernel change that creates it, so a run killed at any
// point leaves a record from which the next apply converges and destroy cleans up.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netlab-go/netlab/plan"
)

// DefaultDir is the state directory unless --state-dir or NETLAB_STATE_DIR says another.
const DefaultDir = "/run/netlab"

// Record is what a lab owns: the objects it created (Owned; its Sysctls map each sysctl
// the lab changed to the value found before) and the topology file it was applied from.
type Record struct {
	Lab      string     `json:"lab"`
	Topology string     `json:"topology,omitempty"`
	Owned    plan.State `json:"owned"`
}

// Store is the state directory.
type Store struct {
	Dir string
}

func (s Store) path(lab string) string { return filepath.Join(s.Dir, lab+".json") }

func (s Store) ensureDir() error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		return fmt.Errorf("set mode of state directory: %w", err)
	}
	return nil
}

// Load returns the lab's record, or an empty one when the lab has none.
func (s Store) Load(lab string) (Record, error) {
	data, err := os.ReadFile(s.path(lab))
	if errors.Is(err, os.ErrNotExist) {
		return Record{Lab: lab, Owned: plan.NewState()}, nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("read record of lab %s: %w", lab, err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, fmt.Errorf("read record %s: %w", s.path(lab), err)
	}
	return r, nil
}

// Save writes the record atomically, or removes the lab's file when the record owns
// nothing.
func (s Store) Save(r Record) error {
	if r.Owned.Empty() {
		if err := os.Remove(s.path(r.Lab)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove record of lab %s: %w", r.Lab, err)
		}
		return nil
	}
	if err := s.ensureDir(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode record of lab %s: %w", r.Lab, err)
	}
	tmp, err := os.CreateTemp(s.Dir, "."+r.Lab+".*.tmp")
	if err != nil {
		return fmt.Errorf("write record of lab %s: %w", r.Lab, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write record of lab %s: %w", r.Lab, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync record of lab %s: %w", r.Lab, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write record of lab %s: %w", r.Lab, err)
	}
	if err := os.Rename(tmp.Name(), s.path(r.Lab)); err != nil {
		return fmt.Errorf("replace record of lab %s: %w", r.Lab, err)
	}
	return nil
}

// Labs lists the labs that have a record, sorted.
func (s Store) Labs() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list state directory: %w", err)
	}
	var labs []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok && !strings.HasPrefix(name, ".") {
			labs = append(labs, name)
		}
	}
	slices.Sort(labs)
	return labs, nil
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
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
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
			data, _ := os.ReadFile(f.Name())
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
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
