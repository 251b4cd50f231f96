package capture

import (
	"bytes"
	"context"
	"io"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
)

// fakeSource yields its frames, then blocks until closed.
type fakeSource struct {
	frames []time.Time
	mu     sync.Mutex
	closed chan struct{}
	once   sync.Once
}

func newFake(frames ...time.Time) *fakeSource {
	return &fakeSource{frames: frames, closed: make(chan struct{})}
}

func (s *fakeSource) ReadPacket() ([]byte, int, time.Time, error) {
	s.mu.Lock()
	if len(s.frames) > 0 {
		ts := s.frames[0]
		s.frames = s.frames[1:]
		s.mu.Unlock()
		return []byte{1, 2, 3, 4}, 60, ts, nil
	}
	s.mu.Unlock()
	<-s.closed
	return nil, 0, time.Time{}, os.ErrClosed
}

func (s *fakeSource) Close() error { s.once.Do(func() { close(s.closed) }); return nil }

// read returns the interface names of a pcapng stream, and its packets' interfaces
// and timestamps.
func read(t *testing.T, b []byte) (names []string, ifaces []int, stamps []time.Time) {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ifaces, stamps = append(ifaces, ci.InterfaceIndex), append(stamps, ci.Timestamp)
	}
	for i := range r.NInterfaces() {
		intf, _ := r.Interface(i)
		names = append(names, intf.Name)
	}
	return names, ifaces, stamps
}

// TestWriterOrders: frames of three interfaces, stamped out of order across them, come
// out in timestamp order, one interface block each, named.
func TestWriterOrders(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var b bytes.Buffer
	w, err := NewWriter(&b, []Interface{{"a:eth0", LinkTypeEthernet, 262144}, {"b:eth0", LinkTypeEthernet, 262144},
		{"c:eth1", LinkTypeEthernet, 262144}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ i, ms int }{{0, 3}, {0, 10}, {1, 1}, {1, 7}, {1, 8}, {2, 2}} {
		w.Add(Packet{Interface: p.i, Timestamp: at(p.ms), Length: 60, Data: []byte{1, 2, 3, 4}})
	}
	if n, err := w.Release(at(8).Add(Window), 0); n != 4 || err != nil { // those before 8 ms
		t.Errorf("released %d: %v", n, err)
	}
	if err := w.Close(0); err != nil {
		t.Fatal(err)
	}
	names, ifaces, stamps := read(t, b.Bytes())
	if !slices.Equal(names, []string{"a:eth0", "b:eth0", "c:eth1"}) {
		t.Errorf("interfaces %v", names)
	}
	if !slices.Equal(ifaces, []int{1, 2, 0, 1, 1, 0}) || !slices.IsSortedFunc(stamps, time.Time.Compare) {
		t.Errorf("packets on interfaces %v at %v", ifaces, stamps)
	}
	if !slices.Equal(w.Counts(), []int{2, 3, 1}) {
		t.Errorf("counts %v", w.Counts())
	}
}

// TestRun: the context (Ctrl-C, --duration) ends a capture with every frame read
// written; --count N ends it after N.
func TestRun(t *testing.T) {
	for _, tc := range []struct {
		count, want int
	}{{0, 4}, {3, 3}} {
		t0 := time.Now()
		sources := []Source{newFake(t0, t0.Add(2*time.Millisecond), t0.Add(4*time.Millisecond)), newFake(t0.Add(time.Millisecond))}
		var b bytes.Buffer
		w, err := NewWriter(&b, []Interface{{"a:eth0", LinkTypeEthernet, 64}, {"b:eth0", LinkTypeEthernet, 64}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if tc.count == 0 {
			time.AfterFunc(200*time.Millisecond, cancel) // a Ctrl-C
		}
		if err := Run(ctx, w, sources, tc.count); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, ifaces, stamps := read(t, b.Bytes()); len(ifaces) != tc.want || w.Total() != tc.want || !slices.IsSortedFunc(stamps, time.Time.Compare) {
			t.Errorf("count %d: packets on interfaces %v at %v", tc.count, ifaces, stamps)
		}
	}
}
