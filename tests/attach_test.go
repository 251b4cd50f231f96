package tests

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// standInContainer starts a process with a network namespace of its own, as a
// container runtime would, gives it a veth pair and lo up, and returns its PID. The
// process is killed when the test ends.
func standInContainer(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("unshare", "--net", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	self, _ := os.Readlink("/proc/self/ns/net")
	for range 100 {
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && ns != self {
			sh(t, fmt.Sprintf("nsenter -t %d -n sh -c 'ip link set lo up && ip link add c0 type veth peer name c1'", pid))
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the stand-in container did not get a namespace of its own")
	return 0
}

// containerState is everything in the process's namespace, seen from inside it.
func containerState(t *testing.T, pid int) string {
	t.Helper()
	return sh(t, fmt.Sprintf("nsenter -t %d -n sh -c 'ip -o link show; ip -o addr show; ip route show table all; cat /proc/sys/net/ipv4/ip_forward'", pid))
}

// TestExistingNamespace attaches a stand-in container's namespace as a node, by pid,
// path and name: it is linked to a lab namespace, reachable, visible to ip netns, and
// after destroy the namespace is intact with exactly what it had before.
func TestExistingNamespace(t *testing.T) {
	pid := standInContainer(t)
	refs := []struct{ name, ref, node, setup string }{
		{"pid", fmt.Sprintf("{pid: %d}", pid), "web", ""},
		{"path", fmt.Sprintf("{path: /proc/%d/ns/net}", pid), "web", ""},
		{"name", "{name: box}", "web", fmt.Sprintf("ip netns attach box %d", pid)},
		{"same name", "{name: web}", "web", fmt.Sprintf("ip netns attach web %d", pid)},
	}
	for _, r := range refs {
		t.Run(r.name, func(t *testing.T) {
			cleanSandbox(t)
			if r.setup != "" {
				sh(t, r.setup)
			}
			before, netnsBefore := containerState(t, pid), sh(t, "ls /run/netns")
			file := writeFile(t, "attach.yaml", fmt.Sprintf(`name: attach
nodes:
  %s:
    netns: %s
    forwarding: true
    interfaces: {eth1: {addresses: [10.40.0.2/24]}}
  client:
    interfaces: {eth0: {addresses: [10.40.0.1/24]}}
links:
  - [client:eth0, %s:eth1]
expect:
  - {from: client, reach: [%s]}
  - {from: %s, reach: [client]}
`, r.node, r.ref, r.node, r.node, r.node))
			out := mustNetlab(t, "apply", file)
			if strings.Contains(out, "+ netns "+r.node) {
				t.Errorf("apply created a namespace for an existing one:\n%s", out)
			}
			if r.name == "same name" && strings.Contains(out, "netns entry") {
				t.Errorf("apply made an entry for a namespace already under /run/netns by that name:\n%s", out)
			}
			// ip netns sees it; inside, the container's own links and the lab's.
			if got := sh(t, "ip netns exec "+r.node+" ip -br link"); !strings.Contains(got, "c0@c1") || !strings.Contains(got, "eth1@") {
				t.Errorf("ip netns exec %s ip link:\n%s", r.node, got)
			}
			if got := mustNetlab(t, "exec", r.node, "--", "cat", "/proc/sys/net/ipv4/ip_forward"); got != "1\n" {
				t.Errorf("forwarding inside the container = %q", got)
			}
			if res := netlab(t, "check", file); res.code != 0 {
				t.Errorf("check: %s", res)
			}
			if res := netlab(t, "plan", "--detailed-exitcode", file); res.code != 0 {
				t.Errorf("re-plan: %s", res)
			}
			out = mustNetlab(t, "destroy", file)
			if strings.Contains(out, "- netns "+r.node) {
				t.Errorf("destroy deletes the container's namespace:\n%s", out)
			}
			if after := containerState(t, pid); after != before {
				t.Errorf("the container's namespace changed.\n%s", lineDiff(before, after))
			}
			if got := sh(t, "ls /run/netns"); got != netnsBefore {
				t.Errorf("/run/netns after destroy:\n%s\nwant:\n%s", got, netnsBefore)
			}
		})
	}
}

// attachLab is a lab that links a client namespace to the existing namespace ref
// (a netns: value) as node web, through web's interface iface.
func attachLab(t *testing.T, ref, iface string) string {
	t.Helper()
	return writeFile(t, "attach.yaml", fmt.Sprintf(`name: attach
nodes:
  web:
    netns: %s
    forwarding: true
    interfaces: {%s: {addresses: [10.40.0.2/24]}}
  client:
    interfaces: {eth0: {addresses: [10.40.0.1/24]}}
links:
  - [client:eth0, web:%s]
`, ref, iface, iface))
}

// TestAttachedClash: a lab that declares an interface the container already has is
// refused before any change, by pid and by name, and destroy then touches nothing of
// the container's.
func TestAttachedClash(t *testing.T) {
	pid := standInContainer(t)
	for _, r := range []struct{ name, ref, setup string }{
		{"pid", fmt.Sprintf("{pid: %d}", pid), ""},
		{"name", "{name: box}", fmt.Sprintf("ip netns attach box %d", pid)},
	} {
		t.Run(r.name, func(t *testing.T) {
			cleanSandbox(t)
			if r.setup != "" {
				sh(t, r.setup)
			}
			file := attachLab(t, r.ref, "c0")
			before, container := snapshot(t), containerState(t, pid)
			for _, cmd := range []string{"plan", "apply"} {
				res := netlab(t, cmd, file)
				if res.code != 1 || !strings.Contains(res.stderr, "link web:c0") || !strings.Contains(res.stderr, "nothing was changed") {
					t.Errorf("%s: want exit 1 naming web:c0 as a clash: %s", cmd, res)
				}
			}
			if res := netlab(t, "destroy", file); res.code != 0 {
				t.Errorf("destroy of a lab never applied: %s", res)
			}
			if after := snapshot(t); after != before {
				t.Errorf("a refused lab changed the sandbox.\n%s", lineDiff(before, after))
			}
			if after := containerState(t, pid); after != container {
				t.Errorf("a refused lab changed the container.\n%s", lineDiff(container, after))
			}
		})
	}
}

// TestAttachedReapply destroys an attached lab and applies it again at once, several
// times: destroy returns only when the kernel has removed the lab's interface from the
// container, so the container is as before and the next apply meets no leftover.
func TestAttachedReapply(t *testing.T) {
	pid := standInContainer(t)
	cleanSandbox(t)
	file := attachLab(t, fmt.Sprintf("{pid: %d}", pid), "eth1")
	before, container := snapshot(t), containerState(t, pid)
	for i := range 5 {
		mustNetlab(t, "apply", file)
		mustNetlab(t, "destroy")
		if after := containerState(t, pid); after != container {
			t.Fatalf("round %d: destroy returned before the container was as before.\n%s", i, lineDiff(container, after))
		}
	}
	if after := snapshot(t); after != before {
		t.Errorf("sandbox not restored.\n%s", lineDiff(before, after))
	}
}

// TestAttachedExited: a lab whose container has exited is still destroyed. While the
// lab's entry holds the namespace, destroy removes everything through it; when the
// entry is gone too, destroy removes the rest, names the node in a warning and drops
// what was in the namespace from the record.
func TestAttachedExited(t *testing.T) {
	for _, entryGone := range []bool{false, true} {
		t.Run(fmt.Sprintf("entry gone %v", entryGone), func(t *testing.T) {
			pid := standInContainer(t)
			cleanSandbox(t)
			file := attachLab(t, fmt.Sprintf("{pid: %d}", pid), "eth1")
			before := snapshot(t)
			mustNetlab(t, "apply", file)
			if entryGone {
				sh(t, "umount /run/netns/web && rm /run/netns/web")
			}
			sh(t, fmt.Sprintf("kill -9 %d; while [ -e /proc/%d/ns/net ]; do sleep 0.01; done", pid, pid))
			for i, args := range [][]string{{"destroy", file}, {"destroy"}} {
				res := netlab(t, args...)
				if res.code != 0 {
					t.Fatalf("netlab %s after the container exited: %s", strings.Join(args, " "), res)
				}
				if entryGone && i == 0 && !strings.Contains(res.stderr, "node web") {
					t.Errorf("destroy does not say the namespace of node web is gone: %s", res)
				}
			}
			if after := snapshot(t); after != before {
				t.Errorf("sandbox not restored.\n%s", lineDiff(before, after))
			}
		})
	}
}
