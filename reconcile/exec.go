package reconcile

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/netlab-go/netlab/plan"
	"golang.org/x/sys/unix"
)

// How `netlab exec` enters a node, as `ip netns exec` does (iproute2's netns_switch):
// join the network namespace, unshare a mount namespace, remount /sys so that
// /sys/class/net lists the namespace's interfaces, bind every file of /etc/netns/NODE
// over the file of that name in /etc, then exec the command.
//
// A Go process cannot do that to itself: unshare(CLONE_NEWNS) fails in a process whose
// threads share their filesystem context, which every Go process's do. So Exec starts
// netlab again (/proc/self/exe) with SysProcAttr.Unshareflags = CLONE_NEWNS: the runtime
// unshares the mount namespace in the forked child before it execs, and makes every
// mount in it private, so nothing the child mounts reaches the host. The re-executed
// netlab (RunExecChild, called before anything else in main) locks its thread, joins the
// network namespace on that thread, mounts sysfs from it (a sysfs mount shows the network
// namespace of the task that mounts it), binds the /etc files, and calls execve from the
// same thread: the command replaces netlab and inherits that thread's namespaces. Its
// stdin, stdout, stderr and exit status are the command's own.

// Environment variables that mark the re-executed child and tell it what to do.
const (
	execEnvNetns = "NETLAB_EXEC_NETNS" // the namespace file to join
	execEnvNode  = "NETLAB_EXEC_NODE"  // the node name: /etc/netns/NODE
)

// Exec runs argv in the network namespace at nsPath as `ip netns exec NODE` would, or
// right here when nsPath is "" (the host node), and returns the command's exit status
// (128+N when a signal N ended it).
func Exec(nsPath, node string, argv []string) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("exec: no command given")
	}
	if nsPath == "" {
		return run(exec.Command(argv[0], argv[1:]...), node)
	}
	if ok, err := isNamespaceFile(nsPath); err != nil || !ok {
		return 0, fmt.Errorf("exec in %s: %s is not a network namespace (is the lab applied?)", node, nsPath)
	}
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("exec in %s: find netlab itself: %w", node, err)
	}
	cmd := exec.Command(self, argv...)
	cmd.Args[0] = "netlab-exec"
	cmd.Env = append(os.Environ(), execEnvNetns+"="+nsPath, execEnvNode+"="+node)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	return run(cmd, node)
}

// run runs cmd with netlab's standard streams and returns its exit status.
func run(cmd *exec.Cmd, node string) (int, error) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The terminal's Ctrl-C and Ctrl-\ reach the command; netlab just waits for it.
	signal.Ignore(os.Interrupt, syscall.SIGQUIT)
	defer signal.Reset(os.Interrupt, syscall.SIGQUIT)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, fmt.Errorf("exec in %s: %w", node, err)
}

// IsExecChild reports whether this process is netlab re-executed by Exec.
func IsExecChild() bool { return os.Getenv(execEnvNetns) != "" }

// RunExecChild finishes entering the node and execs the command in os.Args[1:]. It never
// returns: when the command cannot be run it exits 127 if it is not found, as a shell
// does, and 125 if netlab could not enter the node.
func RunExecChild() {
	nsPath, node := os.Getenv(execEnvNetns), os.Getenv(execEnvNode)
	err := enterNode(nsPath, node, os.Args[1:])
	fmt.Fprintf(os.Stderr, "netlab exec %s: %v\n", node, err)
	if errors.Is(err, exec.ErrNotFound) {
		os.Exit(127) // as a shell reports a command it cannot find
	}
	os.Exit(125)
}

func enterNode(nsPath, node string, argv []string) error {
	// Stay on this thread to the end: it alone joins the namespace, and execve from it
	// takes its namespaces into the command.
	runtime.LockOSThread()
	fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", nsPath, err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("join %s: %w", nsPath, err)
	}
	unix.Close(fd)
	// A mount namespace of our own is what Unshareflags gave; check it, so that a
	// mistake here can never remount the host's /sys.
	if own, parent := nsID("/proc/self/ns/mnt"), nsID(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid())); own == "" || own == parent {
		return errors.New("refusing to remount /sys: not in a mount namespace of its own")
	}
	// Its mounts are already private (the runtime made them so after unsharing), where
	// `ip netns exec` makes them slaves: nothing mounted here reaches the host either way.
	var flags uintptr
	var st unix.Statfs_t
	if unix.Statfs("/sys", &st) == nil && st.Flags&unix.ST_RDONLY != 0 {
		flags = unix.MS_RDONLY
	}
	if err := unix.Unmount("/sys", unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount /sys: %w", err)
	}
	if err := unix.Mount(node, "/sys", "sysfs", flags, ""); err != nil {
		return fmt.Errorf("mount /sys for the namespace: %w", err)
	}
	if err := bindEtc(node); err != nil {
		return err
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, execEnvNetns+"=") && !strings.HasPrefix(e, execEnvNode+"=") {
			env = append(env, e)
		}
	}
	return unix.Exec(path, argv, env)
}

// bindEtc binds every file in /etc/netns/NODE over the file of the same name in /etc,
// skipping those /etc lacks, as `ip netns exec` does.
func bindEtc(node string) error {
	dir := filepath.Join(plan.EtcNetnsDir, node)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		src, dst := filepath.Join(dir, e.Name()), filepath.Join("/etc", e.Name())
		if _, err := os.Stat(dst); err != nil {
			fmt.Fprintf(os.Stderr, "netlab exec %s: not binding %s: %s does not exist\n", node, src, dst)
			continue
		}
		if err := unix.Mount(src, dst, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s over %s: %w", src, dst, err)
		}
	}
	return nil
}

func nsID(path string) string {
	s, _ := os.Readlink(path)
	return s
}
