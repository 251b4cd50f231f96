// Package capture writes the frames of several interfaces into one pcapng stream, in
// the order of their timestamps, as `netlab capture` does. It reads from Sources (the
// packet sockets reconcile opens in each node's namespace) and touches no kernel
// itself.
package capture

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// Interface is an interface of the capture, as the file describes it.
type Interface struct {
	// Name is the interface's name in the file: NODE:IF.
	Name string
	// LinkType is its link-layer header type (LinkTypeEthernet for every lab interface).
	LinkType uint16
	// Snaplen is the most bytes kept of each frame.
	Snaplen int
}

// Packet is one frame of interface Interface (an index into the capture's interfaces).
type Packet struct {
	Interface int
	Timestamp time.Time
	// Length is the frame's length on the wire; Data its first Snaplen bytes.
	Length int
	Data   []byte
}

// Window is how long a Writer holds a packet before writing it, so that a packet of
// another interface read a little later, but stamped earlier, goes before it.
const Window = 50 * time.Millisecond

// Writer writes packets into one pcapng stream: one interface description block per
// Interface, then the packets in timestamp order (within Window), each flushed to the
// underlying writer at once, so that a reader at the other end of a pipe
// (`wireshark -k -i -`) sees it live.
type Writer struct {
	ng     *ngWriter
	held   packetHeap
	counts []int
}

// NewWriter writes the section header and the interface blocks of ifaces to w.
func NewWriter(w io.Writer, ifaces []Interface) (*Writer, error) {
	if len(ifaces) == 0 {
		return nil, errors.New("capture: no interface")
	}
	ng, err := newNgWriter(w, "netlab capture")
	if err != nil {
		return nil, fmt.Errorf("write pcapng header: %w", err)
	}
	for _, i := range ifaces {
		if err := ng.addInterface(i.Name, i.LinkType, uint32(i.Snaplen)); err != nil {
			return nil, fmt.Errorf("write pcapng interface %s: %w", i.Name, err)
		}
	}
	if err := ng.flush(); err != nil {
		return nil, err
	}
	return &Writer{ng: ng, counts: make([]int, len(ifaces))}, nil
}

// Add holds p until Release or Close writes it.
func (w *Writer) Add(p Packet) { heap.Push(&w.held, p) }

// Release writes the packets held that are older than now less Window, oldest first,
// and returns how many it wrote. limit, when positive, is the most to write in all.
func (w *Writer) Release(now time.Time, limit int) (int, error) {
	return w.write(func(p Packet) bool { return p.Timestamp.Before(now.Add(-Window)) }, limit)
}

// Close writes every packet still held (at most limit in all, when positive).
func (w *Writer) Close(limit int) error {
	_, err := w.write(func(Packet) bool { return true }, limit)
	return err
}

func (w *Writer) write(ready func(Packet) bool, limit int) (int, error) {
	n := 0
	for w.held.Len() > 0 && ready(w.held[0]) && (limit <= 0 || w.Total() < limit) {
		p := heap.Pop(&w.held).(Packet)
		if err := w.ng.writePacket(p.Interface, p.Timestamp, p.Length, p.Data); err != nil {
			return n, fmt.Errorf("write packet: %w", err)
		}
		if err := w.ng.flush(); err != nil {
			return n, fmt.Errorf("write packet: %w", err)
		}
		w.counts[p.Interface]++
		n++
	}
	return n, nil
}

// Counts returns how many packets were written for each interface.
func (w *Writer) Counts() []int { return w.counts }

// Total returns how many packets were written.
func (w *Writer) Total() int {
	t := 0
	for _, c := range w.counts {
		t += c
	}
	return t
}

type packetHeap []Packet

func (h packetHeap) Len() int           { return len(h) }
func (h packetHeap) Less(i, j int) bool { return h[i].Timestamp.Before(h[j].Timestamp) }
func (h packetHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *packetHeap) Push(x any)        { *h = append(*h, x.(Packet)) }
func (h *packetHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}

// Capture opens a source on each of the interfaces named (NODE:IF) through open,
// calls started once all are open, and writes what they read to w as one pcapng
// stream until ctx is done or count packets are written (0: no limit). It returns the
// packets written per interface. A reader of w that goes away (a closed pipe) ends the
// capture as ctx does.
func Capture(ctx context.Context, names []string, open func(i int) (Source, error), w io.Writer, count, snaplen int,
	started func()) ([]int, error) {
	var sources []Source
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	ifaces := make([]Interface, len(names))
	for i, name := range names {
		s, err := open(i)
		if err != nil {
			return nil, err
		}
		sources = append(sources, s)
		ifaces[i] = Interface{Name: name, LinkType: LinkTypeEthernet, Snaplen: snaplen}
	}
	cw, err := NewWriter(w, ifaces)
	if err != nil {
		return nil, err
	}
	started()
	err = Run(ctx, cw, sources, count)
	if errors.Is(err, syscall.EPIPE) {
		err = nil
	}
	return cw.Counts(), err
}

// Source is where the frames of one interface come from: a packet socket.
type Source interface {
	// ReadPacket returns the next frame; after Close, an error wrapping os.ErrClosed.
	ReadPacket() (data []byte, length int, ts time.Time, err error)
	Close() error
}

// Run reads sources[i] as interface i of w until ctx is done or, when count is
// positive, count packets are written; then it closes the sources, writes what it
// holds (up to count) and returns. A source that fails ends the capture with its error.
func Run(ctx context.Context, w *Writer, sources []Source, count int) error {
	packets := make(chan Packet, 256)
	failed := make(chan error, len(sources))
	var wg sync.WaitGroup
	for i, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				data, length, ts, err := s.ReadPacket()
				if err != nil {
					if !errors.Is(err, os.ErrClosed) {
						failed <- fmt.Errorf("read interface %d: %w", i, err)
					}
					return
				}
				packets <- Packet{Interface: i, Timestamp: ts, Length: length, Data: data}
			}
		}()
	}
	stop := func() {
		for _, s := range sources {
			s.Close()
		}
		go func() {
			wg.Wait()
			close(packets)
		}()
		for p := range packets { // what the readers had read: written too, up to count
			w.Add(p)
		}
	}
	tick := time.NewTicker(Window / 5)
	defer tick.Stop()
	var err error
loop:
	for count <= 0 || w.Total() < count {
		select {
		case <-ctx.Done():
			break loop
		case err = <-failed:
			break loop
		case p := <-packets:
			w.Add(p)
		case now := <-tick.C:
			if _, err = w.Release(now, count); err != nil {
				break loop
			}
		}
	}
	stop()
	return errors.Join(err, w.Close(count))
}
