// Package fanout runs netlab on every machine of a lab across machines, over OpenSSH:
// the system ssh client, in batch mode (no password prompt, host keys checked), one
// multiplexed connection per machine (ControlMaster), the topology on standard input
// of `netlab ... --on MACHINE -` there. It runs processes only; it never touches a
// kernel itself.
package fanout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/netlab-go/netlab/plan"
)

// Machine is where a part of the lab runs: its name and how ssh reaches it.
type Machine struct {
	Name string
	SSH  string
}

// Config says how to reach the machines.
type Config struct {
	// Netlab is the netlab program on the machines ("netlab": found in their PATH).
	Netlab string
	// ControlDir holds the ssh control sockets (netlab's state directory).
	ControlDir string
	// SSHConfig, when set, is the ssh client configuration file to use (ssh -F).
	SSHConfig string
}

// Result is what netlab printed on one machine, and how it exited (-1: ssh failed).
type Result struct {
	Machine        string
	Stdout, Stderr string
	Code           int
}

// Run runs `netlab ARGS --on MACHINE -` on every machine at once, with topology on
// its standard input, and returns the results in the order of machines.
func Run(ctx context.Context, cfg Config, machines []Machine, args []string, topology []byte) []Result {
	results := make([]Result, len(machines))
	var wg sync.WaitGroup
	for i, m := range machines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run(ctx, cfg, m, args, topology)
		}()
	}
	wg.Wait()
	return results
}

// sshOptions are the options of every ssh netlab runs: batch mode (no password
// prompt), strict host keys, the control socket of the machine's connection.
func sshOptions(cfg Config) []string {
	a := []string{"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ControlPath=" + filepath.Join(cfg.ControlDir, "ssh-%C")}
	if cfg.SSHConfig != "" {
		a = append(a, "-F", cfg.SSHConfig)
	}
	return a
}

// sshArgs are ssh's arguments to run argv on m through its control connection.
func sshArgs(cfg Config, m Machine, argv []string) []string {
	quoted := make([]string, len(argv))
	for i, s := range argv {
		quoted[i] = plan.ShellQuote(s) // ssh joins the words into one command line
	}
	return append(append(sshOptions(cfg), "-o", "ControlMaster=no", "--", m.SSH), strings.Join(quoted, " "))
}

// connect opens (or finds open) the control connection to m, kept a minute after its
// last use: one TCP connection and authentication per machine for every command. It is
// started on its own, with no standard streams of ours, so that the commands' output
// ends with them.
func connect(ctx context.Context, cfg Config, m Machine) error {
	args := append(sshOptions(cfg), "-o", "ControlMaster=auto", "-o", "ControlPersist=60", "-f", "-N", "--", m.SSH)
	// Its messages go to a file: a pipe would stay open in the connection it leaves
	// behind, and reading it would wait for that to end.
	log, err := os.CreateTemp(cfg.ControlDir, "ssh-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(log.Name())
	defer log.Close()
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		said, _ := os.ReadFile(log.Name())
		return fmt.Errorf("ssh %s: %v: %s", m.SSH, err, strings.TrimSpace(string(said)))
	}
	return nil
}

func run(ctx context.Context, cfg Config, m Machine, args []string, topology []byte) Result {
	if err := connect(ctx, cfg, m); err != nil {
		return Result{Machine: m.Name, Stderr: err.Error() + "\n", Code: -1}
	}
	argv := append(append([]string{cfg.Netlab}, args...), "--on", m.Name, "-")
	cmd := exec.CommandContext(ctx, "ssh", sshArgs(cfg, m, argv)...)
	cmd.Stdin = bytes.NewReader(topology)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Machine: m.Name, Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() != 255:
		r.Code = ee.ExitCode()
	default: // 255: ssh itself failed
		r.Code = -1
		if r.Stderr == "" {
			r.Stderr = fmt.Sprintf("ssh %s: %v\n", m.SSH, err)
		}
	}
	return r
}

// Failed returns the machines whose run failed (exit 1 or worse, or ssh failing).
func Failed(results []Result) []string {
	var names []string
	for _, r := range results {
		if r.Code != 0 && r.Code != 2 {
			names = append(names, r.Machine)
		}
	}
	return names
}
