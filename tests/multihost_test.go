package tests

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netlab-go/netlab/topology"
)

// machine is a simulated machine inside the sandbox: a network namespace with mounts
// of its own (its /run/netns, /run/netlab and /etc/netns), held by a sleeping process.
type machine struct {
	name string
	pid  int
}

// newMachine starts a machine and joins it to the underlay bridge of the sandbox with
// the address addr.
func newMachine(t *testing.T, name, addr string) *machine {
	t.Helper()
	cmd := exec.Command("unshare", "--net", "--mount", "--propagation", "private", "sleep", "infinity")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	m := &machine{name: name, pid: cmd.Process.Pid}
	// unshare has made the namespaces once /proc/PID/ns/net differs from ours.
	sh(t, fmt.Sprintf(`for i in $(seq 100); do [ "$(readlink /proc/%d/ns/net)" != "$(readlink /proc/self/ns/net)" ] && exit 0; sleep 0.05; done; exit 1`, m.pid))
	sh(t, fmt.Sprintf("ip link add u-%s type veth peer name underlay && ip link set underlay netns %d && ip link set u-%s master underlay-br up", name, m.pid, name))
	// A /run of its own (for sshd's /run/sshd too), and its own /etc/netns.
	m.run(t, "mount -t tmpfs -o mode=0755 tmpfs /run; mkdir -p /run/netns /run/netlab /run/sshd /etc/netns; "+
		"mount -t tmpfs -o mode=0755 tmpfs /etc/netns; "+
		"ip link set lo up; ip addr add "+addr+"/24 dev underlay; ip link set underlay up")
	return m
}

// run runs a shell command line on the machine and returns its output; it fails the
// test when the command fails.
func (m *machine) run(t *testing.T, script string) string {
	t.Helper()
	return sh(t, fmt.Sprintf("nsenter -t %d -n -m -- sh -c '%s'", m.pid, strings.ReplaceAll(script, "'", `'\''`)))
}

// netlab runs netlab on the machine.
func (m *machine) netlab(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, exec.Command("nsenter", append([]string{"-t", fmt.Sprint(m.pid), "-n", "-m", "--", netlabBin()}, args...)...))
}

// TestMultiHost: one lab across three simulated machines, joined by an underlay: each
// applies its part (--on), the links between machines are VXLAN pairs that carry
// pings, a re-plan is empty everywhere, a VXLAN end deleted by hand on one machine is
// seen and repaired, a machine that lacks its underlay address is refused before any
// change, and destroy leaves every machine as it was.
func TestMultiHost(t *testing.T) {
	cleanSandbox(t)
	sh(t, "ip link add underlay-br type bridge && ip link set underlay-br up")
	file, _ := filepath.Abs("../examples/multi-host/wan.yaml")
	machines := []*machine{newMachine(t, "left", "192.0.2.1"), newMachine(t, "mid", "192.0.2.2"), newMachine(t, "right", "192.0.2.3")}
	before := map[string]string{}
	for _, m := range machines {
		before[m.name] = m.run(t, "ls /run/netns /etc/netns; ip -o link | sed 's/^[0-9]*: //' | sort; ip -o addr | grep -v fe80 | sort; ip route")
	}
	if r := machines[0].netlab(t, "plan", file); r.code != 1 || !strings.Contains(r.stderr, "plan failed on left, mid, right") {
		t.Errorf("plan without --on of a lab across machines, with no sshd: %s", r)
	}
	if r := machines[0].netlab(t, "apply", "--on", "mid", file); r.code != 1 ||
		!strings.Contains(r.stderr, "the underlay address 192.0.2.2 is on no interface of this machine") || !strings.Contains(r.stderr, "nothing was changed") {
		t.Errorf("apply of another machine's part: %s", r)
	}
	for _, m := range machines {
		if r := m.netlab(t, "apply", "--on", m.name, file); r.code != 0 || !strings.Contains(r.stdout, "type vxlan id ") {
			t.Fatalf("apply on %s: %s", m.name, r)
		}
	}
	for _, m := range machines {
		if r := m.netlab(t, "check", "--on", m.name, file); r.code != 0 {
			t.Errorf("check on %s: %s", m.name, r)
		}
		if r := m.netlab(t, "plan", "--detailed-exitcode", "--on", m.name, file); r.code != 0 {
			t.Errorf("re-plan on %s: %s", m.name, r)
		}
	}
	mid := machines[1]
	mid.run(t, "ip -n b link del bc")
	if r := mid.netlab(t, "plan", "--detailed-exitcode", "--on", "mid", file); r.code != 2 || !strings.Contains(r.stdout, "+ vxlan b:bc to 192.0.2.3") {
		t.Errorf("plan after a VXLAN end was deleted by hand: %s", r)
	}
	if r := mid.netlab(t, "apply", "--on", "mid", file); r.code != 0 {
		t.Fatalf("repair: %s", r)
	}
	if r := machines[2].netlab(t, "check", "--on", "right", file); r.code != 0 {
		t.Errorf("check after the repair: %s", r)
	}
	checkHeadEndReplication(t, machines, file)
	for _, m := range machines {
		if r := m.netlab(t, "destroy", "--on", m.name); r.code != 0 {
			t.Errorf("destroy on %s: %s", m.name, r)
		}
		if after := m.run(t, "ls /run/netns /etc/netns; ip -o link | sed 's/^[0-9]*: //' | sort; ip -o addr | grep -v fe80 | sort; ip route"); after != before[m.name] {
			t.Errorf("destroy did not restore %s:\n%s", m.name, lineDiff(before[m.name], after))
		}
	}
}

// checkHeadEndReplication: the bridge segment sw:br0 is a bridge on each machine with
// one VXLAN port flooding to the other two, not a star around left: with left's port
// deleted by hand, mid's host still reaches right's, and each port's flood entries are
// drift that plan shows and apply repairs.
func checkHeadEndReplication(t *testing.T, machines []*machine, file string) {
	t.Helper()
	topo, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	vx := topology.SegmentPort(topo.Segments[0])
	left, mid := machines[0], machines[1]
	if fdb := mid.run(t, "bridge -n sw@mid fdb show dev "+vx+" | grep ^00:00:00:00:00:00"); !strings.Contains(fdb, "dst 192.0.2.1 ") || !strings.Contains(fdb, "dst 192.0.2.3 ") {
		t.Errorf("mid's segment port floods to:\n%s", fdb)
	}
	left.run(t, "ip -n sw link del "+vx)
	// The largest ping that fits the segment's 1450 bytes, not fragmented: every port
	// of the segment has the VXLAN port's MTU.
	mid.run(t, "ip netns exec hm ping -c 1 -W 5 -M do -s 1422 10.62.9.3 >/dev/null")
	if r := left.netlab(t, "plan", "--detailed-exitcode", "--on", "left", file); r.code != 2 ||
		!strings.Contains(r.stdout, "+ vxlan sw:"+vx+" flooding to 192.0.2.2, 192.0.2.3") || !strings.Contains(r.stdout, "fdb append 00:00:00:00:00:00 dev "+vx+" dst 192.0.2.3") {
		t.Errorf("plan after left's segment port was deleted by hand: %s", r)
	}
	mid.run(t, "bridge -n sw@mid fdb del 00:00:00:00:00:00 dev "+vx+" dst 192.0.2.3")
	if r := mid.netlab(t, "plan", "--detailed-exitcode", "--on", "mid", file); r.code != 2 ||
		!strings.Contains(r.stdout, "it floods to [192.0.2.1] and must flood to [192.0.2.1, 192.0.2.3]") {
		t.Errorf("plan after a flood entry was deleted by hand: %s", r)
	}
	for _, m := range machines[:2] {
		if r := m.netlab(t, "apply", "--on", m.name, file); r.code != 0 {
			t.Fatalf("repair on %s: %s", m.name, r)
		}
		if r := m.netlab(t, "check", "--on", m.name, file); r.code != 0 {
			t.Errorf("check on %s after the repair: %s", m.name, r)
		}
	}
}

// startSSHD starts an sshd on the machine, on its underlay address addr, with its own
// host key and the test's authorized key, all in dir; the test's end stops it.
func (m *machine) startSSHD(t *testing.T, sshd, libs, dir, addr string) {
	t.Helper()
	key := filepath.Join(dir, "host-"+m.name)
	sh(t, "ssh-keygen -q -t ed25519 -N '' -f "+key)
	config := filepath.Join(dir, "sshd-"+m.name+".conf")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`ListenAddress %s
HostKey %s
AuthorizedKeysFile %s/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PrintMotd no
PrintLastLog no
UseDNS no
PidFile %s/sshd-%s.pid
`, addr, key, dir, dir, m.name)), 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd's privilege separation user, in the machine's own /etc/passwd (a copy bound
	// over it in the machine's mount namespace: this one's stays as it is).
	passwd := filepath.Join(dir, "passwd-"+m.name)
	sh(t, "cp /etc/passwd "+passwd+" && (grep -q ^sshd: "+passwd+" || echo 'sshd:x:65533:65534::/run/sshd:/usr/sbin/nologin' >> "+passwd+")")
	m.run(t, "mount --bind "+passwd+" /etc/passwd")
	cmd := exec.Command("nsenter", "-t", fmt.Sprint(m.pid), "-n", "-m", "--", "env", "LD_LIBRARY_PATH="+libs, sshd, "-D", "-e", "-f", config)
	logFile := filepath.Join(dir, "sshd-"+m.name+".log")
	log, err := os.Create(logFile) // a file, not a pipe: its sessions outlive it a while
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stderr = log
	t.Cleanup(func() {
		if said, _ := os.ReadFile(logFile); t.Failed() {
			t.Logf("sshd on %s said:\n%s", m.name, said)
		}
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its connections' processes with it
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }) // stopped by its PID
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "known_hosts"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "%s %s", addr, pub)
	f.Close()
	// Listening once a connection to port 22 is taken.
	m.run(t, fmt.Sprintf(`for i in $(seq 200); do bash -c "echo > /dev/tcp/%s/22" 2>/dev/null && exit 0; sleep 0.05; done; exit 1`, addr))
}

// TestFanOut: from one machine, netlab plan, apply, check and destroy of a lab across
// three machines run on every machine over OpenSSH (each machine its own sshd, with a
// host key checked and a key the test made): plan shows each machine's part, a clash
// on one machine stops apply before any change anywhere, apply converges everywhere,
// check pings across machines, destroy leaves every machine as it was.
func TestFanOut(t *testing.T) {
	cleanSandbox(t)
	dir := t.TempDir()
	cache, _ := filepath.Abs("../.cache/test-sshd") // unpacked by make test's deps, with a network
	found := strings.Fields(sh(t, "../scripts/test-sshd.sh "+cache) + " ")
	sshd, libs := found[0], ""
	if len(found) > 1 {
		libs = found[1]
	}
	sh(t, "ip link add underlay-br type bridge && ip link set underlay-br up")
	sh(t, "ssh-keygen -q -t ed25519 -N '' -f "+filepath.Join(dir, "client")+" && cp "+filepath.Join(dir, "client.pub")+" "+filepath.Join(dir, "authorized_keys"))
	sshConfig := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(sshConfig, []byte(fmt.Sprintf("Host *\n  IdentityFile %s/client\n  IdentitiesOnly yes\n  UserKnownHostsFile %s/known_hosts\n", dir, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	file, _ := filepath.Abs("../examples/multi-host/wan.yaml")
	var machines []*machine
	for i, name := range []string{"left", "mid", "right"} {
		addr := fmt.Sprintf("192.0.2.%d", i+1)
		m := newMachine(t, name, addr)
		m.startSSHD(t, sshd, libs, dir, addr)
		machines = append(machines, m)
	}
	left := machines[0]
	t.Cleanup(func() { // the connections netlab keeps open a minute
		for i := range machines {
			left.run(t, fmt.Sprintf("ssh -F %s -o ControlPath=/run/netlab/ssh-%%C -O exit root@192.0.2.%d 2>/dev/null || true", sshConfig, i+1))
		}
	})
	fan := func(args ...string) result {
		return left.netlab(t, append([]string{"--ssh-config", sshConfig, "--remote-netlab", netlabBin()}, args...)...)
	}
	state := func(m *machine) string {
		return m.run(t, "ls /run/netns /etc/netns; ip -o link | sed 's/^[0-9]*: //' | sort; ip -o addr | grep -v fe80 | sort; ip route")
	}
	before := map[string]string{}
	for _, m := range machines {
		before[m.name] = state(m)
	}
	r := fan("plan", "--detailed-exitcode", file)
	if r.code != 2 || !strings.Contains(r.stdout, "== left ==") || !strings.Contains(r.stdout, "== right ==") || !strings.Contains(r.stdout, "+ vxlan c:cb to 192.0.2.2") {
		t.Fatalf("plan across machines: %s", r)
	}
	machines[2].run(t, "ip netns add c") // a clash on right
	r = fan("apply", file)
	if r.code != 1 || !strings.Contains(r.stderr, "plan failed on right; nothing was changed on any machine") {
		t.Errorf("apply with a clash on one machine: %s", r)
	}
	for _, m := range machines[:2] {
		if got := state(m); got != before[m.name] {
			t.Errorf("a clash on right changed %s:\n%s", m.name, lineDiff(before[m.name], got))
		}
	}
	machines[2].run(t, "ip netns del c")
	if r := fan("apply", file); r.code != 0 || strings.Count(r.stdout, "Apply complete") != 3 {
		t.Fatalf("apply across machines: %s", r)
	}
	if r := fan("check", file); r.code != 0 {
		t.Errorf("check across machines: %s", r)
	}
	if r := fan("plan", "--detailed-exitcode", "-o", "json", file); r.code != 0 || !strings.Contains(r.stdout, `"machine": "mid"`) {
		t.Errorf("plan -o json across machines: %s", r)
	}
	if r := fan("destroy", file); r.code != 0 {
		t.Errorf("destroy across machines: %s", r)
	}
	for _, m := range machines {
		if got := state(m); got != before[m.name] {
			t.Errorf("destroy did not restore %s:\n%s", m.name, lineDiff(before[m.name], got))
		}
	}
}

var multiHostN = flag.Int("multihost.n", 6, "namespaces per machine of the lab across three machines that TestMultiHostScale applies (make bench-multihost: 300)")

// scaleLab writes a lab of n namespaces on each of the machines (pairs linked on each
// machine, and a link from each machine to the next), or, with one set, the part of
// the first machine alone as a lab on one machine.
func scaleLab(t *testing.T, n int, machines []string, one bool) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: scale\n")
	if !one {
		b.WriteString("hosts:\n")
		for i, m := range machines {
			fmt.Fprintf(&b, "  %s: {ssh: root@192.0.2.%d, underlay: 192.0.2.%d}\n", m, i+1, i+1)
		}
	}
	b.WriteString("nodes:\n")
	var links []string
	for mi, m := range machines {
		if one && mi > 0 {
			break
		}
		for i := 0; i < n; i += 2 {
			sub := fmt.Sprintf("10.%d.%d.%d", 100+mi, i/128, (i%128)*2)
			pre := sub[:strings.LastIndex(sub, ".")+1]
			last := (i % 128) * 2
			on := ""
			if !one {
				on = "on: " + m + ", "
			}
			fmt.Fprintf(&b, "  %s-a%d: {%sinterfaces: {e0: {addresses: [%s%d/31]}", m, i, on, pre, last)
			if i == 0 && !one {
				fmt.Fprintf(&b, ", x0: {addresses: [10.99.%d.1/30]}, x1: {addresses: [10.99.%d.2/30]}", mi, (mi+len(machines)-1)%len(machines))
			}
			b.WriteString("}}\n")
			fmt.Fprintf(&b, "  %s-b%d: {%sinterfaces: {e0: {addresses: [%s%d/31]}}}\n", m, i, on, pre, last+1)
			links = append(links, fmt.Sprintf("[%s-a%d:e0, %s-b%d:e0]", m, i, m, i))
		}
		if !one {
			links = append(links, fmt.Sprintf("[%s-a0:x0, %s-a0:x1]", m, machines[(mi+1)%len(machines)]))
		}
	}
	b.WriteString("links:\n")
	for _, l := range links {
		b.WriteString("  - " + l + "\n")
	}
	name := "scale.yaml"
	if one {
		name = "one.yaml"
	}
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestMultiHostScale applies a lab of -multihost.n namespaces on each of three
// simulated machines, each machine its part at once, and the first machine's part
// alone as a lab on one machine, and reports the times (make bench-multihost: 300);
// it checks only that each converges and is destroyed.
func TestMultiHostScale(t *testing.T) {
	cleanSandbox(t)
	n := *multiHostN &^ 1
	sh(t, "ip link add underlay-br type bridge && ip link set underlay-br up")
	names := []string{"left", "mid", "right"}
	var machines []*machine
	for i, name := range names {
		machines = append(machines, newMachine(t, name, fmt.Sprintf("192.0.2.%d", i+1)))
	}
	one, across := scaleLab(t, n, names, true), scaleLab(t, n, names, false)
	timed := func(m *machine, args ...string) time.Duration {
		start := time.Now()
		if r := m.netlab(t, args...); r.code != 0 {
			t.Fatalf("netlab %v on %s: %s", args, m.name, r)
		}
		return time.Since(start)
	}
	single := timed(machines[0], "apply", "-q", one)
	timed(machines[0], "destroy", "-q")
	per := make([]time.Duration, len(machines))
	done := make(chan int)
	start := time.Now()
	for i, m := range machines {
		go func() { per[i] = timed(m, "apply", "-q", "--on", m.name, across); done <- i }()
	}
	for range machines {
		<-done
	}
	all := time.Since(start)
	for _, m := range machines {
		if r := m.netlab(t, "plan", "--detailed-exitcode", "--on", m.name, across); r.code != 0 {
			t.Errorf("re-plan on %s: %s", m.name, r)
		}
		timed(m, "destroy", "-q")
	}
	t.Logf("multi-host scale: %d namespaces per machine, 3 machines applying their parts at once: %v (left %v, mid %v, right %v); "+
		"left's part alone as a lab on one machine: %v", n, all.Round(time.Millisecond), per[0].Round(time.Millisecond),
		per[1].Round(time.Millisecond), per[2].Round(time.Millisecond), single.Round(time.Millisecond))
}
