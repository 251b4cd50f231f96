package capture

import (
	"bufio"
	"encoding/binary"
	"io"
	"time"
)

// LinkTypeEthernet is the pcapng link type of Ethernet frames (LINKTYPE_ETHERNET).
const LinkTypeEthernet uint16 = 1

// The pcapng blocks and options netlab writes (draft-ietf-opsawg-pcapng).
const (
	blockSection   uint32 = 0x0a0d0d0a
	blockInterface uint32 = 0x00000001
	blockPacket    uint32 = 0x00000006 // an enhanced packet block
	byteOrderMagic uint32 = 0x1a2b3c4d

	optEnd        uint16 = 0
	optUserAppl   uint16 = 4 // shb_userappl
	optIfName     uint16 = 2 // if_name
	optIfTSResol  uint16 = 9 // if_tsresol
	optIfOS       uint16 = 12
	nanosecondRes byte   = 9 // if_tsresol: 10^-9 s
)

// ngWriter writes a pcapng stream: a section header, interface description blocks and
// enhanced packet blocks, little-endian, with nanosecond timestamps. It is netlab's
// own rather than gopacket's pcapgo.NgWriter: pcapgo imports gopacket/layers, whose
// init fills decoder tables of 65,536 entries, which would cost every netlab command,
// not only capture, 20 MiB of memory. gopacket's reader and tshark read what it writes
// in the tests.
type ngWriter struct {
	w   *bufio.Writer
	buf []byte
}

func newNgWriter(w io.Writer, application string) (*ngWriter, error) {
	n := &ngWriter{w: bufio.NewWriter(w)}
	body := n.u32(nil, byteOrderMagic)
	body = n.u16(body, 1) // major version
	body = n.u16(body, 0) // minor version
	body = n.u64(body, ^uint64(0))
	body = n.option(body, optUserAppl, []byte(application))
	body = n.option(body, optEnd, nil)
	return n, n.block(blockSection, body)
}

// addInterface writes the description of interface name (its link type and snap
// length, nanosecond timestamps).
func (n *ngWriter) addInterface(name string, linkType uint16, snaplen uint32) error {
	body := n.u16(nil, linkType)
	body = n.u16(body, 0)
	body = n.u32(body, snaplen)
	body = n.option(body, optIfName, []byte(name))
	body = n.option(body, optIfTSResol, []byte{nanosecondRes})
	body = n.option(body, optIfOS, []byte("Linux"))
	body = n.option(body, optEnd, nil)
	return n.block(blockInterface, body)
}

// writePacket writes one frame of interface iface (its index in the order added).
func (n *ngWriter) writePacket(iface int, ts time.Time, length int, data []byte) error {
	t := uint64(ts.UnixNano())
	body := n.u32(n.buf[:0], uint32(iface))
	body = n.u32(body, uint32(t>>32))
	body = n.u32(body, uint32(t))
	body = n.u32(body, uint32(len(data)))
	body = n.u32(body, uint32(length))
	body = append(body, data...)
	body = pad(body)
	n.buf = body
	return n.block(blockPacket, body)
}

func (n *ngWriter) flush() error { return n.w.Flush() }

// block writes a block: its type and total length around the body.
func (n *ngWriter) block(typ uint32, body []byte) error {
	var head [8]byte
	total := uint32(12 + len(body))
	binary.LittleEndian.PutUint32(head[0:], typ)
	binary.LittleEndian.PutUint32(head[4:], total)
	if _, err := n.w.Write(head[:]); err != nil {
		return err
	}
	if _, err := n.w.Write(body); err != nil {
		return err
	}
	_, err := n.w.Write(head[4:8])
	return err
}

func (n *ngWriter) option(b []byte, code uint16, value []byte) []byte {
	b = n.u16(b, code)
	b = n.u16(b, uint16(len(value)))
	return pad(append(b, value...))
}

func (*ngWriter) u16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func (*ngWriter) u32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func (*ngWriter) u64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// pad pads b to a multiple of four bytes with zeros.
func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
