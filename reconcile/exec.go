package reconcile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
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

// execArg0 is the argv[0] of the re-executed child. It is not the mark of the child on
// its own: the child also needs the namespace open as file descriptor 3 (execNSFD),
// which the environment of a normal run cannot forge.
const (
	execArg0 = "netlab-exec"
	execNSFD = 3
)

// Exec runs argv in the network namespace at nsPath as `ip netns exec NODE` would, or
// right here when nsPath is "" (the host node), and returns the command's exit status
// (128+N when a signal N ended it).
//
// The command starts with the default disposition of every signal. SIGTERM and SIGHUP
// that reach netlab are passed on to it, and so is SIGINT unless netlab runs in the
// foreground of a terminal: then the terminal's Ctrl-C reaches the command directly,
// once. netlab itself waits for the command to end, whatever signal comes.
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
	nsFile, err := os.Open(nsPath)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", node, err)
	}
	defer nsFile.Close()
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("exec in %s: find netlab itself: %w", node, err)
	}
	cmd := exec.Command(self, append([]string{node, "--"}, argv...)...)
	cmd.Args[0] = execArg0
	cmd.ExtraFiles = []*os.File{nsFile} // descriptor 3 in the child
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	return run(cmd, node)
}

// run runs cmd with netlab's standard streams, passing signals on as Exec says, and
// returns its exit status.
func run(cmd *exec.Cmd, node string) (int, error) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Notify, not Ignore: an ignored signal stays ignored across execve, a caught one
	// goes back to its default in the command.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return execFailure(err), nil
	}
	fromTerminal := inTerminalForeground()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				if (sig == os.Interrupt || sig == syscall.SIGQUIT) && fromTerminal {
					continue // the terminal sent it to the command too
				}
				cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
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

// inTerminalForeground reports whether netlab's process group is the foreground group
// of the terminal on its standard input: then Ctrl-C signals the command as well.
func inTerminalForeground() bool {
	pgrp, err := unix.IoctlGetInt(int(os.Stdin.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// execFailure is the exit status of a command that could not be started, as a shell
// gives it: 127 when it is not found, 126 when it cannot be executed; and says why.
func execFailure(err error) int {
	fmt.Fprintf(os.Stderr, "netlab exec: %v\n", err)
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return 127
	}
	return 126
}

// IsExecChild reports whether this process is netlab re-executed by Exec: its argv[0]
// says so and it holds a network namespace as descriptor 3.
func IsExecChild() bool {
	if len(os.Args) < 3 || os.Args[0] != execArg0 || os.Args[2] != "--" {
		return false
	}
	var st unix.Statfs_t
	return unix.Fstatfs(execNSFD, &st) == nil && st.Type == nsfsMagic
}

// RunExecChild finishes entering the node and execs the command. It never returns:
// when the command cannot be run it exits 127 if it is not found, 126 if it cannot be
// executed, as a shell does, and 125 if netlab could not enter the node.
func RunExecChild() {
	node, argv := os.Args[1], os.Args[3:]
	err := enterNode(node, argv)
	var ee *execError
	if errors.As(err, &ee) {
		os.Exit(execFailure(ee.err))
	}
	fmt.Fprintf(os.Stderr, "netlab exec %s: %v\n", node, err)
	os.Exit(125)
}

// execError is the failure to find or start the command itself, once in the node.
type execError struct{ err error }

func (e *execError) Error() string { return e.err.Error() }

func enterNode(node string, argv []string) error {
	if len(argv) == 0 {
		return errors.New("no command given")
	}
	// Stay on this thread to the end: it alone joins the namespace, and execve from it
	// takes its namespaces into the command.
	runtime.LockOSThread()
	if err := unix.Setns(execNSFD, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("join the namespace of %s: %w", node, err)
	}
	unix.Close(execNSFD)
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
		return &execError{err}
	}
	if err := unix.Exec(path, argv, os.Environ()); err != nil {
		return &execError{fmt.Errorf("%s: %w", argv[0], err)}
	}
	return nil
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
