package record

import (
	"encoding/json"
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

// TestLoadVersion1: a record written by a netlab of format version 1 still loads, its
// links' spelled-out peers read into the one form of a link, and saves as version 2.
func TestLoadVersion1(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "state")}
	if err := os.Mkdir(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	v1 := `{"format_version": 1, "lab": "lab", "owned": {"namespaces": ["ns1"], "links": [
		{"ns": "host", "name": "m1", "kind": "veth", "peer_ns": "ns1", "peer_name": "s1", "alias": "netlab:lab", "up": true, "peer_master": "br0"},
		{"ns": "ns1", "name": "s1", "kind": "veth", "peer_ns": "host", "peer_name": "m1", "alias": "netlab:lab", "up": true, "master": "br0"}],
		"addresses": [], "routes": [], "sysctls": [], "nat": []}}`
	if err := os.WriteFile(s.path("lab"), []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := s.Load("lab")
	if err != nil {
		t.Fatal(err)
	}
	m1 := r.Owned.Links[plan.LinkKey{NS: plan.Host, Name: "m1"}]
	s1 := r.Owned.Links[plan.LinkKey{NS: "ns1", Name: "s1"}]
	if m1.Peer != (plan.LinkKey{NS: "ns1", Name: "s1"}) || s1.Peer != (plan.LinkKey{NS: plan.Host, Name: "m1"}) || s1.Master != "br0" {
		t.Errorf("links read as %+v and %+v", m1, s1)
	}
	if err := s.Save(r); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(s.path("lab"))
	if !strings.Contains(string(b), `"format_version":2`) || !strings.Contains(string(b), `"peer":"ns1:s1"`) || strings.Contains(string(b), "peer_ns") {
		t.Errorf("saved as %s", b)
	}
}

// TestStored: a record equal to the one Load read is what its file holds, unless that
// file is of an older format; a changed one, or one never read, is not.
func TestStored(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "state")}
	r := Record{Lab: "lab", Owned: plan.NewState()}
	r.Owned.Namespaces["ns1"] = true
	if err := s.Save(r); err != nil {
		t.Fatal(err)
	}
	read, err := s.Load("lab")
	if err != nil {
		t.Fatal(err)
	}
	same := Record{Lab: "lab", Owned: r.Owned.Clone(), Wants: Sysctls{}}
	if !same.Stored(read) {
		t.Error("an equal record is not what the file holds")
	}
	changed := Record{FormatVersion: FormatVersion, Lab: "lab", Owned: r.Owned.Clone()}
	changed.Owned.Namespaces["ns2"] = true
	if changed.Stored(read) {
		t.Error("a changed record is what the file holds")
	}
	if same.Stored(same) {
		t.Error("a record never read is what a file holds")
	}
	read.readVersion = 1
	if same.Stored(read) {
		t.Error("a record read from a file of format 1 is what a file of this format holds")
	}
}

// TestDecodeOtherFormatNamesItsVersion: a record of a format this netlab does not read
// is refused by its version, before its owned objects are read (their fields may be
// another format's).
func TestDecodeOtherFormatNamesItsVersion(t *testing.T) {
	_, err := decode(strings.NewReader(`{"format_version":3,"lab":"lab","owned":{"widgets":[]}}`), "lab")
	if err == nil || !strings.Contains(err.Error(), "format version 3") {
		t.Errorf("a record of format 3: %v", err)
	}
}

// TestEncode holds encode to json.Marshal's bytes, whose second pass over the owned
// state's JSON it leaves out.
func TestEncode(t *testing.T) {
	owned := plan.NewState()
	owned.Namespaces["n1"] = true
	owned.Links[plan.LinkKey{NS: "n1", Name: "e1"}] = plan.Link{Kind: plan.Veth, Peer: plan.LinkKey{NS: plan.Host, Name: "h1"}, Alias: "netlab:lab", Up: true}
	owned.Sysctls[plan.SysctlKey{NS: plan.Host, Name: "net.ipv4.ip_forward"}] = "0"
	tests := []struct {
		name string
		r    Record
	}{
		{"owned only", Record{FormatVersion: FormatVersion, Lab: "lab", Owned: owned}},
		{"every field", Record{FormatVersion: FormatVersion, Lab: "lab", Topology: `/labs/a "quoted" <name>.yaml`, Owned: owned,
			Wants: Sysctls{plan.SysctlKey{NS: plan.Host, Name: "net.ipv4.ip_forward"}: "1"}}},
		{"empty owned", Record{FormatVersion: 1, Lab: "x", Owned: plan.NewState(), Wants: Sysctls{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encode(tt.r)
			if err != nil || string(got) != string(want) {
				t.Errorf("encode = %s, %v\nwant %s", got, err, want)
			}
		})
	}
}
