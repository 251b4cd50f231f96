package tests

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// startCapture starts `netlab capture args...` and returns once it says it captures
// (its sockets are open), with the command, its standard output and what it writes
// to standard error after that.
func startCapture(t *testing.T, args ...string) (*exec.Cmd, io.ReadCloser, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(netlabBin(), append([]string{"capture"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	ready := make(chan string, 1)
	rest := &strings.Builder{}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "capturing on") {
				ready <- sc.Text()
				continue
			}
			rest.WriteString(sc.Text() + "\n")
		}
		close(ready)
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			t.Fatalf("netlab capture %v ended before capturing: %s", args, rest)
		}
		t.Log(line)
	case <-time.After(30 * time.Second):
		t.Fatal("netlab capture did not start")
	}
	return cmd, stdout, rest
}

// icmp is what a pcapng stream holds: its interface names, and per packet its
// interface, timestamp and ICMP type (-1 for anything else).
type icmp struct {
	names  []string
	ifaces []int
	stamps []time.Time
	types  []int
}

func readICMP(t *testing.T, r io.Reader, max int) icmp {
	t.Helper()
	ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var c icmp
	for max <= 0 || len(c.types) < max {
		data, ci, err := ng.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		typ := -1
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if l, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
			typ = int(l.TypeCode.Type())
		}
		c.ifaces, c.stamps, c.types = append(c.ifaces, ci.InterfaceIndex), append(c.stamps, ci.Timestamp), append(c.types, typ)
	}
	for i := range ng.NInterfaces() {
		intf, _ := ng.Interface(i)
		c.names = append(c.names, intf.Name)
	}
	return c
}

// echoes counts the echo requests and replies of interface i.
func (c icmp) echoes(i int) (requests, replies int) {
	for j, typ := range c.types {
		switch {
		case c.ifaces[j] != i:
		case typ == layers.ICMPv4TypeEchoRequest:
			requests++
		case typ == layers.ICMPv4TypeEchoReply:
			replies++
		}
	}
	return requests, replies
}

// TestCapture: three interfaces of the two-namespace lab, both ends of one link and a
// third on the path, captured into one pcapng while testns1 pings testns2: read back by
// gopacket's reader and by tshark, it names the interfaces, holds the echo requests
// and replies on each, in time order; --duration, --count and Ctrl-C end it cleanly;
// -w - streams it live; an interface that is not the lab's is refused before anything.
func TestCapture(t *testing.T) {
	cleanSandbox(t)
	file := "../examples/two-namespaces.yaml"
	mustNetlab(t, "apply", file)
	dir := t.TempDir()
	out := filepath.Join(dir, "lab.pcapng")
	ping := "ip netns exec testns1 ping -c 3 -i 0.2 -W 2 192.168.10.102"

	cmd, _, stderr := startCapture(t, "-f", file, "testns1:s1", "host:m1", "testns2:s2", "-w", out, "--duration", "3s")
	sh(t, ping)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture --duration: %v\n%s", err, stderr)
	}
	if want := "packet(s) captured: testns1:s1 "; !strings.Contains(stderr.String(), want) {
		t.Errorf("capture's last words lack %q: %s", want, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	c := readICMP(t, f, 0)
	f.Close()
	if !slices.Equal(c.names, []string{"testns1:s1", "host:m1", "testns2:s2"}) {
		t.Errorf("interfaces of the file: %v", c.names)
	}
	for i, name := range c.names {
		if req, rep := c.echoes(i); req < 3 || rep < 3 {
			t.Errorf("%s: %d echo requests and %d replies, want 3 each", name, req, rep)
		}
	}
	if !slices.IsSortedFunc(c.stamps, time.Time.Compare) {
		t.Errorf("packets out of time order: %v", c.stamps)
	}
	fields := sh(t, "tshark -r "+out+" -T fields -e frame.interface_name -e icmp.type 2>/dev/null")
	for _, name := range c.names {
		for _, typ := range []string{"8", "0"} {
			if n := strings.Count(fields, name+"\t"+typ+"\n"); n < 3 {
				t.Errorf("tshark reads %d ICMP type %s on %s:\n%s", n, typ, name, fields)
			}
		}
	}

	// --count: exactly that many.
	cmd, _, stderr = startCapture(t, "-f", file, "testns1:s1", "-w", out, "--count", "4")
	sh(t, ping)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture --count: %v\n%s", err, stderr)
	}
	f, _ = os.Open(out)
	if c := readICMP(t, f, 0); len(c.types) != 4 {
		t.Errorf("--count 4 wrote %d packets", len(c.types))
	}
	f.Close()

	// -w - streams: the first packets are readable while it runs; Ctrl-C ends it.
	cmd, stdout, stderr := startCapture(t, "-f", file, "host:m1", "-w", "-")
	go shOK(ping)
	if c := readICMP(t, stdout, 2); len(c.types) != 2 || c.names[0] != "host:m1" {
		t.Errorf("streamed: %+v", c)
	}
	go io.Copy(io.Discard, stdout)
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("capture after Ctrl-C: %v\n%s", err, stderr)
	}

	// Not the lab's: refused, nothing opened or written.
	r := netlab(t, "capture", "-f", file, "testns1:s1", "nope:eth0", "-w", filepath.Join(dir, "x.pcapng"))
	if r.code != 1 || !strings.Contains(r.stderr, "nope:eth0 is not an interface of the lab; its interfaces: host:m1, host:m2, testns1:s1, testns2:s2") {
		t.Errorf("capture on an interface not in the lab: %s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.pcapng")); err == nil {
		t.Error("a refused capture wrote its file")
	}
}
