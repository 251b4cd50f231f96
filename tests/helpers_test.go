package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/internal/sandbox"
	"github.com/netlab-go/netlab/topology"
)

// The end-to-end tests run the netlab binary against the real kernel, inside the
// sandbox that TestMain sets up (see package sandbox). They run one at a time: each
// starts from a clean sandbox and leaves one.

func TestMain(m *testing.M) {
	sandbox.Main(m, func() ([]string, func(), error) {
		dir, err := os.MkdirTemp("", "netlab-e2e-")
		if err != nil {
			return nil, nil, err
		}
		cleanup := func() { os.RemoveAll(dir) }
		bin := filepath.Join(dir, "netlab")
		build := exec.Command("go", "build", "-o", bin, "../cmd/netlab")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("build netlab: %w", err)
		}
		// Readable by an unprivileged user, for the privilege test.
		os.Chmod(dir, 0o755)
		return []string{"NETLAB_TEST_BIN=" + bin}, cleanup, nil
	})
}

func netlabBin() string { return os.Getenv("NETLAB_TEST_BIN") }

// eachExample runs f as a subtest for every example, with its topology loaded.
func eachExample(t *testing.T, f func(t *testing.T, file string, topo *topology.Topology)) {
	t.Helper()
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			topo, err := topology.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			f(t, file, topo)
		})
	}
}

// result is what a command printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// netlab runs the netlab binary with args.
func netlab(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, exec.Command(netlabBin(), args...))
}

// mustNetlab runs netlab and fails the test unless it exits 0.
func mustNetlab(t *testing.T, args ...string) string {
	t.Helper()
	r := netlab(t, args...)
	if r.code != 0 {
		t.Fatalf("netlab %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return r
}

// sh runs a shell command line in the sandbox (ip, iptables, ping: the independent
// eyes) and returns its output; it fails the test when the command fails.
func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// shOK runs a shell command and reports whether it succeeded.
func shOK(script string) bool {
	return exec.Command("bash", "-c", script).Run() == nil
}

// resetSandbox puts the sandbox back to its clean state: no namespaces, no links but
// lo, empty nat tables, forwarding off, no netlab state. It only ever runs inside the
// sandbox, where it cannot touch the machine.
func resetSandbox(t *testing.T) {
	t.Helper()
	sh(t, `
for ns in $(ls /run/netns); do ip netns del "$ns" 2>/dev/null || rm -rf "/run/netns/$ns"; done
for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do [ "$l" = lo ] || ip link del "$l" 2>/dev/null || true; done
iptables -t nat -F; ip6tables -t nat -F 2>/dev/null || true
echo 0 > /proc/sys/net/ipv4/ip_forward
rm -rf /run/netlab/* /etc/netns/* /etc/netns/.[!.]*
`)
}

// cleanSandbox resets the sandbox now and again when the test ends, pass or fail.
func cleanSandbox(t *testing.T) {
	t.Helper()
	resetSandbox(t)
	t.Cleanup(func() { resetSandbox(t) })
}

// snapshot describes everything a lab could change in the sandbox's own namespace,
// through iproute2, iptables and /proc: compare two to see that nothing changed. The
// lines of each section are sorted: the order in which the kernel lists addresses and
// routes is not part of its state (an address added again may be listed elsewhere).
func snapshot(t *testing.T) string {
	t.Helper()
	return sh(t, `
echo "## netns"; ls /run/netns
echo "## links"; ip -o link show | sed 's/^[0-9]*: //' | sort
echo "## addrs"; ip -o addr show | sort
echo "## routes"; (ip route show table all; ip -6 route show table all) | sort
echo "## nat"; iptables -t nat -S; ip6tables -t nat -S 2>/dev/null
echo "## sysctl"; cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding
echo "## etc/netns"; ls -RA /etc/netns
echo "## state"; ls /run/netlab | grep -v '^lock$' || true
`)
}

// writeFile writes a topology into the test's temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ping reports whether from (a namespace, or "" for the sandbox itself) gets an answer
// from addr. Only addresses of namespaces the test made are ever pinged.
func ping(from, addr string) bool {
	cmd := "ping -c1 -W1 " + addr
	if from != "" {
		cmd = "ip netns exec " + from + " " + cmd
	}
	return shOK(cmd)
}

// squeeze collapses the runs of spaces in each line of s (tables pad their columns).
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// lineDiff shows the lines only before has (-) and only after has (+), under the
// section heading (## ...) they are in.
func lineDiff(before, after string) string {
	count := func(s string) map[string]int {
		m := map[string]int{}
		section := ""
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "## ") {
				section = l
			}
			m[section+" | "+l]++
		}
		return m
	}
	b, a := count(before), count(after)
	var out []string
	for l, n := range b {
		if a[l] < n {
			out = append(out, "- "+l)
		}
	}
	for l, n := range a {
		if b[l] < n {
			out = append(out, "+ "+l)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
