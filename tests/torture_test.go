package tests

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The torture test interrupts netlab at random moments of an apply and of a destroy of a
// 40-namespace lab, by kill -9 and by SIGINT and SIGTERM, and counts the runs after
// which netlab recovers: the next apply converges (a second plan is empty) and destroy
// leaves the sandbox exactly as it was. make test runs a few moments of each; make
// torture runs 100 (50 for each signal) and prints the figures the README gives.
var (
	tortureKills   = flag.Int("torture.kills", 10, "random moments for each kill -9 row")
	tortureSignals = flag.Int("torture.signals", 10, "random moments for each SIGINT and SIGTERM row")
	tortureSeed    = flag.Uint64("torture.seed", 0, "random seed (0: from the clock; the test prints the one it used)")
)

func tortureLab(t *testing.T) string {
	var b strings.Builder
	b.WriteString("name: torture\nnodes:\n  host:\n    forwarding: true\n    nat: [{masquerade: 10.0.0.0/16}]\n    interfaces:\n")
	for i := range 40 {
		fmt.Fprintf(&b, "      h%d: {addresses: [10.0.%d.1/30]}\n", i, 4*i)
	}
	for i := range 40 {
		fmt.Fprintf(&b, "  n%d:\n    interfaces: {e1: {addresses: [10.0.%d.2/30]}}\n    routes: [{to: default, via: 10.0.%d.1}]\n", i, 4*i, 4*i)
	}
	b.WriteString("links:\n")
	for i := range 40 {
		fmt.Fprintf(&b, "  - [host:h%d, n%d:e1]\n", i, i)
	}
	return writeFile(t, "torture.yaml", b.String())
}

// interrupt runs netlab with args and sends it sig after the delay; it returns the exit
// code (-1 when the signal killed it) once it is gone.
func interrupt(t *testing.T, sig syscall.Signal, after time.Duration, args ...string) int {
	t.Helper()
	cmd := exec.Command(netlabBin(), args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(after, func() { cmd.Process.Signal(sig) })
	err := cmd.Wait()
	timer.Stop()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

func timed(t *testing.T, args ...string) time.Duration {
	t.Helper()
	start := time.Now()
	mustNetlab(t, args...)
	return time.Since(start)
}

// tortureRow is one row of the torture test: an interruption by sig, n times, each at a
// random moment given to run, which reports whether netlab recovered and, if not, why.
type tortureRow struct {
	name string
	sig  syscall.Signal
	n    int
	run  func(sig syscall.Signal, at time.Duration) (bool, string)
}

func TestTorture(t *testing.T) {
	cleanSandbox(t)
	file := tortureLab(t)
	seed := *tortureSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	before := snapshot(t)
	// How long a run takes here sets the range of the random moments (a little beyond
	// the end, so that some runs finish before the signal).
	applyTime, destroyTime := timed(t, "apply", file), timed(t, "destroy")
	moment := func(d time.Duration) time.Duration { return time.Duration(rng.Int64N(int64(d) * 6 / 5)) }
	// recovered reports whether the sandbox comes back to before: with an apply that
	// converges first when converge is set, and a destroy.
	recovered := func(converge bool) (bool, string) {
		if converge {
			if r := netlab(t, "apply", file); r.code != 0 {
				return false, "apply: " + r.String()
			}
			if r := netlab(t, "plan", "--detailed-exitcode", file); r.code != 0 {
				return false, "not converged: " + r.String()
			}
		}
		if r := netlab(t, "destroy"); r.code != 0 {
			return false, "destroy: " + r.String()
		}
		if after := snapshot(t); after != before {
			return false, "left behind:\n" + lineDiff(before, after)
		}
		return true, ""
	}
	// A run ends by itself (0), stops at an action boundary (128+N), or, for a signal
	// that comes in the first milliseconds, before the runtime has set any handler and
	// before any change, dies of it (-1): recovered() checks that nothing was changed.
	okCode := func(sig syscall.Signal, code int) bool {
		return code == 0 || code == -1 || code == 128+int(sig)
	}
	rows := []tortureRow{
		{"kill -9 during apply, then apply and destroy", syscall.SIGKILL, *tortureKills, func(sig syscall.Signal, at time.Duration) (bool, string) {
			interrupt(t, sig, at, "apply", file)
			return recovered(true)
		}},
		{"kill -9 during destroy, then destroy", syscall.SIGKILL, *tortureKills, func(sig syscall.Signal, at time.Duration) (bool, string) {
			mustNetlab(t, "apply", file)
			interrupt(t, sig, at, "destroy")
			return recovered(false)
		}},
		{"kill -9 during destroy, then apply at once", syscall.SIGKILL, *tortureKills, func(sig syscall.Signal, at time.Duration) (bool, string) {
			mustNetlab(t, "apply", file)
			interrupt(t, sig, at, "destroy")
			return recovered(true)
		}},
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		rows = append(rows,
			tortureRow{signalName(sig) + " during apply, then apply and destroy", sig, *tortureSignals, func(sig syscall.Signal, at time.Duration) (bool, string) {
				if code := interrupt(t, sig, at, "apply", file); !okCode(sig, code) {
					return false, fmt.Sprintf("apply exited %d", code)
				}
				return recovered(true)
			}},
			tortureRow{signalName(sig) + " during destroy, then apply and destroy", sig, *tortureSignals, func(sig syscall.Signal, at time.Duration) (bool, string) {
				mustNetlab(t, "apply", file)
				if code := interrupt(t, sig, at, "destroy"); !okCode(sig, code) {
					return false, fmt.Sprintf("destroy exited %d", code)
				}
				return recovered(true)
			}})
	}
	var report []string
	for _, row := range rows {
		d := applyTime
		if strings.Contains(row.name, "during destroy") {
			d = destroyTime
		}
		ok := 0
		for i := range row.n {
			at := moment(d)
			good, why := row.run(row.sig, at)
			if good {
				ok++
				continue
			}
			t.Errorf("%s, at %v (moment %d, seed %d): %s", row.name, at, i, seed, why)
			resetSandbox(t)
		}
		report = append(report, fmt.Sprintf("%s: %d/%d recovered", row.name, ok, row.n))
	}
	t.Logf("torture (seed %d; apply %v, destroy %v):\n  %s", seed, applyTime.Round(time.Millisecond),
		destroyTime.Round(time.Millisecond), strings.Join(report, "\n  "))
}

func signalName(sig syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP", syscall.SIGKILL: "kill -9"}[sig]
}

// TestStoppedRun: a signal stops an apply at an action boundary with exit 128+N and a
// message saying how far it got and how to go on; a closed standard output does not
// stop it at all.
func TestStoppedRun(t *testing.T) {
	cleanSandbox(t)
	file := tortureLab(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		cmd := exec.Command(netlabBin(), "apply", file)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Signal once the first action is done: the run is surely under way.
		buf, seen := make([]byte, 4096), ""
		for !strings.Contains(seen, ": done\n") {
			n, err := out.Read(buf)
			if err != nil {
				t.Fatalf("apply ended before its first action: %q %v", seen, err)
			}
			seen += string(buf[:n])
		}
		cmd.Process.Signal(sig)
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := out.Read(buf); err != nil {
					return
				}
			}
		}()
		err = cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 128+int(sig) || !strings.Contains(stderr.String(), "actions; run \"netlab apply "+file+"\" to continue") {
			t.Errorf("%s: want exit %d and how to go on, got %d: %s", signalName(sig), 128+int(sig), code, stderr.String())
		}
		mustNetlab(t, "apply", file)
		mustNetlab(t, "destroy")
	}
	r := runCmdShell(t, netlabBin()+" apply "+file+" | head -1; echo rc=${PIPESTATUS[0]}")
	if !strings.Contains(r.stdout, "rc=0") || !strings.Contains(r.stderr, "standard output was closed") {
		t.Errorf("apply | head: want the whole apply, and a word on stderr: %s", r)
	}
	if r := netlab(t, "plan", "--detailed-exitcode", file); r.code != 0 {
		t.Errorf("apply | head did not build the whole lab: %s", r)
	}
	mustNetlab(t, "destroy")
}

// TestFewFileDescriptors: netlab's open files do not grow with the lab: 200 namespaces
// apply and destroy under ulimit -n 256; a limit too low to work at all is an error
// before any change.
func TestFewFileDescriptors(t *testing.T) {
	cleanSandbox(t)
	var b strings.Builder
	b.WriteString("name: fds\nnodes:\n  host:\n    interfaces:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "      h%d: {addresses: [10.%d.%d.1/30]}\n", i, 100+i/64, 4*(i%64))
	}
	for i := range 200 {
		fmt.Fprintf(&b, "  n%d:\n    interfaces: {e0: {addresses: [10.%d.%d.2/30]}}\n", i, 100+i/64, 4*(i%64))
	}
	b.WriteString("links:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "  - [host:h%d, n%d:e0]\n", i, i)
	}
	file := writeFile(t, "fds.yaml", b.String())
	before := snapshot(t)
	if r := runCmdShell(t, "ulimit -n 40; "+netlabBin()+" apply "+file); r.code != 1 || !strings.Contains(r.stderr, "raise it with ulimit -n") {
		t.Errorf("want a clear error under ulimit -n 40: %s", r)
	}
	if after := snapshot(t); after != before {
		t.Fatalf("a refused apply changed the sandbox.\n%s", lineDiff(before, after))
	}
	for _, cmd := range []string{"apply " + file, "plan --detailed-exitcode " + file, "destroy"} {
		if r := runCmdShell(t, "ulimit -n 256; "+netlabBin()+" "+cmd); r.code != 0 {
			t.Fatalf("%s under ulimit -n 256: %s", cmd, r)
		}
	}
	if after := snapshot(t); after != before {
		t.Errorf("sandbox not restored.\n%s", lineDiff(before, after))
	}
}
