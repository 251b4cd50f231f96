package tests

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	m.run(t, "for d in /run/netns /run/netlab /etc/netns; do mkdir -p $d; mount -t tmpfs -o mode=0755 tmpfs $d; done; "+
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
		before[m.name] = m.run(t, "ls /run/netns /etc/netns; ip -o link | sed 's/^[0-9]*: //' | sort; ip -o addr | sort; ip route")
	}
	if r := machines[0].netlab(t, "plan", file); r.code != 1 || !strings.Contains(r.stderr, "give --on MACHINE") {
		t.Errorf("plan without --on of a lab across machines: %s", r)
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
	for _, m := range machines {
		if r := m.netlab(t, "destroy", "--on", m.name); r.code != 0 {
			t.Errorf("destroy on %s: %s", m.name, r)
		}
		if after := m.run(t, "ls /run/netns /etc/netns; ip -o link | sed 's/^[0-9]*: //' | sort; ip -o addr | sort; ip route"); after != before[m.name] {
			t.Errorf("destroy did not restore %s:\n%s", m.name, lineDiff(before[m.name], after))
		}
	}
}
