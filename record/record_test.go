package record

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netlab-go/netlab/plan"
)

func TestSaveLoad(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "state")}
	r, err := s.Load("lab")
	if err != nil || !r.Owned.Empty() || r.Lab != "lab" {
		t.Fatalf("missing record: %+v, %v", r, err)
	}
	r.Owned.Namespaces["ns1"] = true
	r.Owned.Sysctls[plan.SysctlKey{NS: plan.Host, Name: "net.ipv4.ip_forward"}] = "0"
	if err := s.Save(r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load("lab")
	if err != nil || !got.Owned.Namespaces["ns1"] || got.Owned.Sysctls[plan.SysctlKey{NS: plan.Host, Name: "net.ipv4.ip_forward"}] != "0" {
		t.Fatalf("loaded %+v, %v", got, err)
	}
	entries, _ := os.ReadDir(s.Dir)
	if len(entries) != 1 {
		t.Errorf("a temporary file is left: %v", entries)
	}
	if labs, _ := s.Labs(); strings.Join(labs, ",") != "lab" {
		t.Errorf("labs = %v", labs)
	}
	if err := s.Save(Record{Lab: "lab", Owned: plan.NewState()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.path("lab")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an empty record should remove the file: %v", err)
	}
}

func TestLock(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	l, err := s.Lock(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file: a second open in this process conflicts too.
	_, err = s.Lock(100 * time.Millisecond)
	var held *LockHeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("want the lock held by this process, got %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := s.Lock(100 * time.Millisecond)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}
