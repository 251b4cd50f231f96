package reconcile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/netlab-go/netlab/plan"
	"golang.org/x/sys/unix"
)

// PacketSocket is an AF_PACKET socket bound to one interface of a namespace: every
// frame the interface sends and receives, with the kernel's timestamp of it. It is
// read through the runtime's poller, so Close ends a read in progress.
type PacketSocket struct {
	f     *os.File
	rc    syscall.RawConn
	index int
	buf   []byte
	oob   []byte
}

// OpenPacketSocket opens a packet socket on the interface name of the namespace ns,
// keeping at most snaplen bytes of each frame. The socket is made inside the namespace
// on a locked thread that is switched back (as iptables is run), and lives on there.
func (k *Linux) OpenPacketSocket(ns plan.NS, name string, snaplen int) (*PacketSocket, error) {
	h, release, err := k.handle(ns)
	if err != nil {
		return nil, err
	}
	l, err := h.nl.LinkByName(name)
	release()
	if err != nil {
		return nil, fmt.Errorf("capture on %s:%s: %w", ns, name, err)
	}
	index := l.Attrs().Index
	var fd int
	err = k.in(ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("capture on %s:%s: open a packet socket: %w", ns, name, err)
	}
	for _, opt := range []struct{ level, name int }{{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS}, {unix.SOL_PACKET, unix.PACKET_AUXDATA}} {
		if err := unix.SetsockoptInt(fd, opt.level, opt.name, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("capture on %s:%s: %w", ns, name, err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("capture on %s:%s: bind: %w", ns, name, err)
	}
	f := os.NewFile(uintptr(fd), string(ns)+":"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &PacketSocket{f: f, rc: rc, index: index, buf: make([]byte, snaplen),
		oob: make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))+unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))}, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ReadPacket returns the next frame of the interface: its first bytes (a copy, at most
// the snap length), its length on the wire and its timestamp. After Close it returns
// an error that wraps os.ErrClosed.
func (s *PacketSocket) ReadPacket() (data []byte, length int, ts time.Time, err error) {
	for {
		var n, oobn int
		var from unix.Sockaddr
		var rerr error
		err = s.rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), s.buf, s.oob, unix.MSG_TRUNC)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return nil, 0, time.Time{}, err
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Ifindex != s.index {
			continue // queued before the socket was bound to its interface
		}
		length, ts = n, time.Now()
		cmsgs, _ := unix.ParseSocketControlMessage(s.oob[:oobn])
		for _, m := range cmsgs {
			switch {
			case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})):
				t := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				ts = time.Unix(t.Unix())
			case m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})):
				length = int((*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0])).Len)
			}
		}
		data = make([]byte, min(n, len(s.buf)))
		copy(data, s.buf)
		return data, max(length, len(data)), ts, nil
	}
}

// Close closes the socket, ending a read in progress.
func (s *PacketSocket) Close() error { return s.f.Close() }
