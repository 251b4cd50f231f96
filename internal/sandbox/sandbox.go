// Package sandbox runs a test binary inside a throwaway network namespace and private
// mount namespace, so that tests can use the real kernel without touching the
// machine's own namespaces, interfaces, routes, sysctls or firewall.
//
// Main re-executes the test binary with CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWUTS (the Go
// form of `unshare --net --mount --uts --propagation private`); the child makes every mount private,
// mounts tmpfs over /run/netns, netlab's state directory and /etc/netns, brings lo up,
// checks that it really is in a network namespace of its own, and only then runs the
// tests. Processes the tests start inherit the sandbox.
//
// Without root the tests are skipped, except when CI=true: there they fail.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// envInside marks the re-executed child; envParentNS gives it the network namespace it
// must not be in.
const (
	envInside   = "NETLAB_TEST_SANDBOX"
	envParentNS = "NETLAB_TEST_PARENT_NETNS"
)

// Dirs are the directories covered with a fresh tmpfs in the sandbox (scripts/demo.sh
// covers the same, and scripts/sandboxed.sh removes again those a sandbox had to make:
// keep the three lists alike).
var Dirs = []string{"/run/netns", "/run/netlab", "/etc/netns"}

// Main runs the tests of m inside a sandbox and exits with their status. prepare, when
// not nil, runs before entering the sandbox (to build binaries while the network and
// the module cache are at hand); it returns environment variables for the child and a
// cleanup to run when the child is done.
func Main(m *testing.M, prepare func() (env []string, cleanup func(), err error)) {
	if Inside() {
		if err := Enter(); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			os.Exit(1)
		}
		os.Exit(m.Run())
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "FAIL: the kernel tests need root (CI=true: they may not be skipped)")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "SKIP: the kernel tests need root; run them with sudo (make test)")
		os.Exit(0)
	}
	var env []string
	cleanup := func() {}
	if prepare != nil {
		var err error
		if env, cleanup, err = prepare(); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox: prepare:", err)
			os.Exit(1)
		}
	}
	code := Reexec(env)
	cleanup()
	os.Exit(code)
}

// Inside reports whether this process is the re-executed child of Reexec.
func Inside() bool { return os.Getenv(envInside) == "1" }

// Reexec runs this program again, with the same arguments and env added, in a new
// network and mount namespace, and returns its exit code. The child must call Enter
// before doing anything else.
func Reexec(env []string) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	parentNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(append(os.Environ(), envInside+"=1", envParentNS+"="+parentNS), env...)
	// A UTS namespace too: a test of a forged record that names kernel.hostname must
	// not be able to rename the machine, even if netlab were wrong.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "sandbox: start in a new namespace:", err)
	return 1
}

// Enter finishes the sandbox in the re-executed child: it checks that the process is in
// a network namespace of its own, makes every mount private, mounts tmpfs over Dirs and
// brings lo up.
func Enter() error {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return err
	}
	if parent := os.Getenv(envParentNS); parent == "" || self == parent {
		return errors.New("refusing to run: not in a network namespace of its own")
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	for _, d := range Dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount("tmpfs", d, "tmpfs", 0, "mode=0755"); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", d, err)
		}
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("bring lo up: %v: %s", err, out)
	}
	return nil
}
