package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/netlab-go/netlab/fanout"
	"github.com/netlab-go/netlab/graph"
	"github.com/netlab-go/netlab/internal/phase"
	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/reach"
	"github.com/netlab-go/netlab/reconcile"
	"github.com/netlab-go/netlab/record"
	"github.com/netlab-go/netlab/topology"
	"github.com/spf13/cobra"
)

// globals are the flags every command takes.
type globals struct {
	stateDir    string
	lockTimeout time.Duration
	parallel    int
	maxInput    int64 // the largest topology file read
	// quiet, verbose and noColor are how apply and destroy talk (see output).
	quiet, verbose, noColor bool
	// on is the machine whose part of a lab across machines the command works on;
	// without it, such a lab's commands run on every machine over ssh, with
	// remoteNetlab there and sshConfig (ssh -F) here.
	on, remoteNetlab, sshConfig string
	// early is the kernel opened before the topology was loaded, reading the host
	// ahead (see observeAhead), until a session takes it.
	early *reconcile.Linux
}

// observeAhead opens the kernel before the topology is loaded and starts reading the
// host namespace, on a CPU that parsing leaves idle, for the session that follows
// (reconcile.Linux.ObserveHostAhead). Without a session, dropAhead closes it.
func (g *globals) observeAhead() {
	if k, err := reconcile.NewLinux(reconcile.DefaultNetnsDir); err == nil {
		k.ObserveHostAhead()
		g.early = k
	}
}

// dropAhead closes the kernel observeAhead opened, when no session took it.
func (g *globals) dropAhead() {
	if g.early != nil {
		g.early.Close()
		g.early = nil
	}
}

// desired is the state the lab t wants of this machine: all of it, or for a lab across
// machines (hosts:), the part --on names.
func (g *globals) desired(t *topology.Topology) (plan.State, error) {
	if len(t.Machines) > 0 && g.on == "" {
		names := make([]string, len(t.Machines))
		for i, m := range t.Machines {
			names[i] = m.Name
		}
		return plan.State{}, fmt.Errorf("lab %s spans the machines %s: give --on MACHINE for the part of this one", t.Name, strings.Join(names, ", "))
	}
	defer phase.Begin("desired state")()
	mtu := 0
	if m := t.Machine(g.on); m != nil {
		mtu = reconcile.UnderlayMTU(m.Underlay)
	}
	return t.DesiredOn(g.on, mtu)
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "netlab",
		Short: "Build Linux network labs (namespaces, veth, routes, NAT) from a YAML file",
		Long: `netlab builds Linux network labs from a YAML file: network namespaces, veth pairs,
addresses, routes, forwarding and NAT, through netlink, with no container runtime.
'netlab plan' shows what it would change, 'netlab apply' does it, 'netlab destroy'
puts the host back exactly as it was.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defaultDir := record.DefaultDir
	if d := os.Getenv("NETLAB_STATE_DIR"); d != "" {
		defaultDir = d
	}
	root.PersistentFlags().StringVar(&g.stateDir, "state-dir", defaultDir, "directory of lab records and the run lock (env NETLAB_STATE_DIR)")
	root.PersistentFlags().DurationVar(&g.lockTimeout, "lock-timeout", 10*time.Second, "how long to wait for another netlab run to finish")
	root.PersistentFlags().IntVar(&g.parallel, "parallel", 0, "how many actions may run at once (0: one per CPU); the result is the same")
	root.PersistentFlags().Int64Var(&g.maxInput, "max-input", topology.DefaultMaxInput, "the largest topology file read, in bytes")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "apply and destroy: print only errors and the final line")
	root.PersistentFlags().BoolVar(&g.verbose, "verbose", false, "apply and destroy: print the whole plan on a terminal, however long")
	root.PersistentFlags().BoolVar(&g.noColor, "no-color", false, "no colour on a terminal (as NO_COLOR=1 does)")
	root.PersistentFlags().StringVar(&g.on, "on", "", "for a lab across machines (hosts:): the machine whose part to work on, this one (default: every machine, over ssh)")
	root.PersistentFlags().StringVar(&g.remoteNetlab, "remote-netlab", "netlab", "for a lab across machines: the netlab program on the machines")
	root.PersistentFlags().StringVar(&g.sshConfig, "ssh-config", "", "for a lab across machines: the ssh client configuration file (ssh -F)")
	var cpuProfile string
	var profileFile *os.File
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (for `go tool pprof`)")
	root.PersistentFlags().MarkHidden("cpuprofile")
	var memProfile string
	root.PersistentFlags().StringVar(&memProfile, "memprofile", "", "write a profile of the run's allocations to this file (for `go tool pprof -sample_index=alloc_space`)")
	root.PersistentFlags().MarkHidden("memprofile")
	var timings bool
	root.PersistentFlags().BoolVar(&timings, "timings", false, "write the time of each phase of the run to standard error (for the benchmark's breakdown)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if timings {
			phase.Enable()
		}
		if memProfile != "" {
			runtime.MemProfileRate = 64 << 10 // more samples than the default's 512 KiB
		}
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		profileFile = f
		return pprof.StartCPUProfile(f)
	}
	root.PersistentPostRun = func(*cobra.Command, []string) {
		phase.Report(os.Stderr)
		if profileFile != nil {
			pprof.StopCPUProfile()
			profileFile.Close()
		}
		if memProfile != "" {
			writeAllocs(memProfile)
		}
	}
	root.AddCommand(newValidateCmd(g), newPlanCmd(g), newApplyCmd(g), newDestroyCmd(g), newExecCmd(g), newCheckCmd(g), newCaptureCmd(g), newStatusCmd(g), newLsCmd(g), newExportCmd(g), newGraphCmd(g), newSchemaCmd(),
		newVersionCmd())
	root.AddCommand(helpTopics()...)
	root.AddCommand(newManCmd(root))
	root.Version = version()
	root.SetVersionTemplate("{{.Version}}\n")
	// An argument or flag error says how the command is used, as the shell's tools do.
	withUsage := func(c *cobra.Command, err error) error { return fmt.Errorf("%w\nUsage: %s", err, c.UseLine()) }
	root.SetFlagErrorFunc(withUsage)
	for _, c := range root.Commands() {
		if args := c.Args; args != nil {
			c.Args = func(c *cobra.Command, a []string) error {
				if err := args(c, a); err != nil {
					return withUsage(c, err)
				}
				return nil
			}
		}
	}
	return root
}

func newValidateCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a topology file; needs no privileges and touches nothing",
		Long: `Check a topology file. Every problem is printed as FILE:LINE:COL: what is wrong; what
to write instead, all of them at once, sorted by position. FILE - reads standard input.`,
		Example: `  netlab validate examples/two-namespaces.yaml
  netlab validate -o json lab.yaml | jq '.diagnostics[].message'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q: use text or json", output)
			}
			t, _, err := g.load(args[0], topology.Options{})
			if output == "json" {
				return writeValidation(cmd.OutOrStdout(), args[0], t, err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: lab %s is valid: %d node(s), %d link(s).\n", args[0], t.Name, len(t.Nodes), len(t.Links))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// validationJSON is what validate -o json prints; see the README.
type validationJSON struct {
	FormatVersion string           `json:"format_version"`
	File          string           `json:"file"`
	Valid         bool             `json:"valid"`
	Lab           string           `json:"lab,omitempty"`
	Diagnostics   []diagnosticJSON `json:"diagnostics"`
}

type diagnosticJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// writeValidation prints the result of validating file as JSON, and returns exit 1
// when it is not valid (an error that is not about the file itself is returned as it is).
func writeValidation(w io.Writer, file string, t *topology.Topology, err error) error {
	v := validationJSON{FormatVersion: "1", File: file, Valid: err == nil, Diagnostics: []diagnosticJSON{}}
	var diags topology.Diagnostics
	switch {
	case err == nil:
		v.Lab = t.Name
	case errors.As(err, &diags):
		for _, d := range diags {
			v.Diagnostics = append(v.Diagnostics, diagnosticJSON{File: d.File, Line: d.Line, Column: d.Column, Message: d.Msg, Hint: d.Hint})
		}
	default:
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	if !v.Valid {
		return exitError{code: 1}
	}
	return nil
}

// session is what a kernel-touching command holds: the kernel, the reconciler and the
// run lock. close releases them.
type session struct {
	rec    *reconcile.Reconciler
	kernel *reconcile.Linux
	lock   *record.Lock
}

func (g *globals) open() (*session, error) {
	if err := reconcile.CheckPrivileges(); err != nil {
		return nil, err
	}
	store := record.Store{Dir: g.stateDir}
	lock, err := store.Lock(g.lockTimeout)
	if err != nil {
		return nil, err
	}
	k := g.early
	g.early = nil
	if k == nil {
		if k, err = reconcile.NewLinux(reconcile.DefaultNetnsDir); err != nil {
			lock.Unlock()
			return nil, err
		}
	}
	return &session{rec: &reconcile.Reconciler{Kernel: k, Store: store, Parallel: g.parallel}, kernel: k, lock: lock}, nil
}

func (s *session) close() {
	defer phase.Begin("close")()
	s.kernel.Close()
	s.lock.Unlock()
}

// withSession opens a session (privileges, lock, kernel), calls f with it under the
// run's context (which SIGINT, SIGTERM and SIGHUP cancel: an apply then stops between
// actions), and closes the session.
func (g *globals) withSession(ctx context.Context, f func(ctx context.Context, s *session) error) error {
	end := phase.Begin("open, lock")
	s, err := g.open()
	end()
	if err != nil {
		return err
	}
	defer s.close()
	return f(ctx, s)
}

// load reads and checks a topology file ("-": standard input); a saved plan given
// instead is named as one.
func (g *globals) load(path string, opts topology.Options) (*topology.Topology, []byte, error) {
	data, err := topology.ReadFile(path, g.maxInput)
	if err != nil {
		return nil, nil, err
	}
	t, err := g.parse(path, data, opts)
	return t, data, err
}

// parse checks the topology in data, read from path.
func (g *globals) parse(path string, data []byte, opts topology.Options) (*topology.Topology, error) {
	defer phase.Begin("load topology")()
	if saved, err := reconcile.ReadSavedPlan(data); err != nil || saved != nil {
		return nil, fmt.Errorf("%s is a saved plan, not a topology: carry it out with netlab apply %s, or show it with netlab apply --dry-run %s", path, path, path)
	}
	opts.MaxInput = g.maxInput
	return topology.ParseWith(path, data, opts)
}

// absPath is the topology's path as the record and a saved plan keep it.
func absPath(path string) (string, error) {
	if path == "-" {
		return path, nil // standard input has no path
	}
	return filepath.Abs(path)
}

func (g *globals) loadTopology(path string) (*topology.Topology, string, []byte, error) {
	t, data, err := g.load(path, topology.Options{})
	if err != nil {
		return nil, "", nil, err
	}
	abs, err := absPath(path)
	return t, abs, data, err
}

// planWriters renders a plan in each format of `plan -o`.
var planWriters = map[string]func(io.Writer, plan.Plan) error{
	"text": plan.WriteText,
	"json": plan.WriteJSON,
	"sh":   plan.WriteShell,
}

// planFormats are the formats of `-o` for a plan, in the order help and completion give.
var planFormats = []string{"text", "json", "sh"}

// planWriter returns the writer of a plan format, or an error naming the formats.
func planWriter(format string) (func(io.Writer, plan.Plan) error, error) {
	if w, ok := planWriters[format]; ok {
		return w, nil
	}
	return nil, fmt.Errorf("unknown output format %q: use %s", format, strings.Join(planFormats, ", "))
}

func newPlanCmd(g *globals) *cobra.Command {
	var output, out string
	var detailed, adopt, takeOver bool
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show the ordered actions that would bring the kernel to the topology",
		Example: `  netlab plan examples/two-namespaces.yaml
  netlab plan -o sh examples/two-namespaces.yaml > lab.sh
  netlab plan --out reviewed.plan examples/two-namespaces.yaml && netlab apply reviewed.plan`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			writePlan, err := planWriter(output)
			if err != nil {
				return err
			}
			g.observeAhead()
			defer g.dropAhead()
			t, abs, data, err := g.loadTopology(args[0])
			if err != nil {
				return err
			}
			if g.spans(t) {
				remote := []string{"plan", "--detailed-exitcode", "-o", output}
				if adopt {
					remote = append(remote, "--adopt")
				}
				results := g.fanOut(cmd.Context(), cmd, t, data, remote, output != "json")
				if output == "json" {
					if err := fanOutPlanJSON(cmd.OutOrStdout(), results); err != nil {
						return err
					}
				}
				return fanOutExit(results, detailed, "plan")
			}
			var prep *reconcile.Prepared
			err = g.withSession(cmd.Context(), func(ctx context.Context, s *session) error {
				s.rec.Adopt, s.rec.TakeOver = adopt, takeOver
				s.kernel.ReadOnce()
				prep, err = s.rec.PrepareComputing(ctx, t.Name, abs, func() (plan.State, error) { return g.desired(t) })
				return err
			})
			if err != nil {
				return err
			}
			warn(cmd, prep.Plan)
			if err := writePlan(cmd.OutOrStdout(), prep.Plan); err != nil {
				return err
			}
			if out != "" {
				b, err := json.MarshalIndent(prep.Save(data), "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, append(b, '\n'), 0o600); err != nil {
					return fmt.Errorf("save plan: %w", err)
				}
				if output == "text" {
					fmt.Fprintf(cmd.OutOrStdout(), "Saved the plan to %s; carry it out with: netlab apply %s\n", out, out)
				}
			}
			if detailed && !prep.Plan.Empty() {
				return exitError{code: 2}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or sh")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(planFormats, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().StringVar(&out, "out", "", "save the plan to this file, to carry it out later with netlab apply PLANFILE")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when there is nothing to do, 2 when there are changes, 1 on error")
	cmd.Flags().BoolVar(&adopt, "adopt", false, "plan to take over what the kernel has exactly as the file wants (see apply --adopt)")
	cmd.Flags().BoolVar(&takeOver, "take-over", false, "plan the lab from this file although it was applied from another file that still exists (see apply --take-over)")
	return cmd
}

func newApplyCmd(g *globals) *cobra.Command {
	var dryRun, adopt, takeOver bool
	cmd := &cobra.Command{
		Use: "apply FILE|PLANFILE",
		Example: `  netlab apply examples/two-namespaces.yaml
  netlab apply --dry-run reviewed.plan`,
		Short: "Bring the kernel to the topology (or carry out a saved plan)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			g.observeAhead()
			defer g.dropAhead()
			// Read once: the argument may be standard input. A saved plan of a large lab
			// may be larger than its topology.
			data, err := topology.ReadFile(args[0], 16*g.maxInput)
			if err != nil {
				return err
			}
			saved, err := reconcile.ReadSavedPlan(data)
			if err != nil {
				return err
			}
			var t *topology.Topology
			var abs string
			if saved != nil {
				var topoData []byte
				if t, abs, topoData, err = g.loadTopology(saved.Topology); err != nil {
					return err
				}
				if err := saved.CheckTopology(topoData); err != nil {
					return err
				}
			} else {
				if t, err = g.parse(args[0], data, topology.Options{}); err != nil {
					return err
				}
				if abs, err = absPath(args[0]); err != nil {
					return err
				}
			}
			if saved == nil && g.spans(t) {
				// Every machine's plan first: nothing changes anywhere unless all succeed.
				remote := []string{"plan", "--detailed-exitcode"}
				if adopt {
					remote = append(remote, "--adopt")
				}
				if results := g.fanOut(cmd.Context(), cmd, t, data, remote, false); len(fanout.Failed(results)) > 0 {
					printResults(cmd.OutOrStdout(), cmd.ErrOrStderr(), results)
					return exitError{code: 1, msg: "plan failed on " + strings.Join(fanout.Failed(results), ", ") + "; nothing was changed on any machine"}
				}
				remote = []string{"apply"}
				if adopt {
					remote = append(remote, "--adopt")
				}
				if dryRun {
					remote = append(remote, "--dry-run")
				}
				return fanOutExit(g.fanOut(cmd.Context(), cmd, t, data, remote, true), false, "apply")
			}
			return g.withSession(cmd.Context(), func(ctx context.Context, s *session) error {
				// A saved plan was made with --take-over, or had nothing to take over
				// (and a lab applied since from the other file makes it stale).
				s.rec.Adopt, s.rec.TakeOver = adopt, takeOver || saved != nil
				prep, err := s.rec.PrepareComputing(ctx, t.Name, abs, func() (plan.State, error) { return g.desired(t) })
				if err != nil {
					return err
				}
				warn(cmd, prep.Plan)
				if saved != nil {
					if err := prep.CheckSaved(*saved); err != nil {
						return err
					}
				}
				if prep.Plan.Empty() {
					fmt.Fprintf(w, "No changes. Lab %s is up to date.\n", t.Name)
					return nil
				}
				o := g.outputFor(w)
				if dryRun {
					o.verbose, o.quiet = true, false // a dry run is for the plan
				}
				if err := o.showPlan(prep.Plan); err != nil {
					return err
				}
				if dryRun {
					return nil
				}
				return execute(ctx, o, s, prep, "Apply")
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan only; change nothing")
	cmd.Flags().BoolVar(&adopt, "adopt", false, "take over what the kernel has exactly as the file wants but the lab does not own (built by hand, or by plan -o sh), instead of refusing it")
	cmd.Flags().BoolVar(&takeOver, "take-over", false, "make this file the lab's although the lab was applied from another file that still exists (refused without it: both files name one lab)")
	return cmd
}

// warn prints the plan's warnings on standard error.
func warn(cmd *cobra.Command, p plan.Plan) {
	for _, w := range p.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+w)
	}
}

// execute carries out a prepared plan, printing each action as it is done.
func execute(ctx context.Context, o output, s *session, prep *reconcile.Prepared, verb string) error {
	start := time.Now()
	done, finish := o.progress(len(prep.Plan.Actions))
	s.rec.OnAction = func(_ int, a plan.Action) { done(a) }
	err := s.rec.Execute(ctx, prep)
	finish()
	w := o.w
	if err != nil {
		again := `run "netlab destroy" again to finish`
		if verb == "Apply" {
			again = `run "netlab apply ` + prep.Topology + `" to continue, or "netlab destroy" to remove what was made`
		}
		return stoppedExit(ctx, err, again)
	}
	add, change, remove, adopt := prep.Plan.Counts()
	adopted := ""
	if adopt > 0 {
		adopted = fmt.Sprintf(", %d adopted", adopt)
	}
	fmt.Fprintf(w, "\n%s complete: %d added, %d changed, %d removed%s in %s.\n", verb, add, change, remove, adopted, time.Since(start).Round(time.Millisecond))
	return nil
}

func newDestroyCmd(g *globals) *cobra.Command {
	var name, output string
	var dryRun bool
	cmd := &cobra.Command{
		Use: "destroy [FILE]",
		Example: `  netlab destroy
  netlab destroy --name twons --dry-run -o sh
  netlab destroy examples/two-namespaces.yaml`,
		Short: "Remove everything the lab made and restore what it changed",
		Long: `Remove everything the lab owns (namespaces, links, addresses, routes, NAT rules) and
restore every sysctl it changed to the value it found. Without FILE, the lab is taken
from netlab's records (--name picks one when several are applied).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			writePlan, err := planWriter(output)
			if err != nil {
				return err
			}
			g.observeAhead()
			defer g.dropAhead()
			var lab, abs string
			known := func() (plan.State, error) { return plan.NewState(), nil }
			if len(args) == 1 {
				t, p, data, err := g.loadTopology(args[0])
				if err != nil {
					return err
				}
				if g.spans(t) {
					remote := []string{"destroy"}
					if dryRun {
						remote = append(remote, "--dry-run", "-o", output)
					}
					return fanOutExit(g.fanOut(cmd.Context(), cmd, t, data, remote, true), false, "destroy")
				}
				if name != "" && name != t.Name {
					return fmt.Errorf("--name %s does not match the lab %s of %s", name, t.Name, args[0])
				}
				lab, abs = t.Name, p
				known = func() (plan.State, error) { return g.desired(t) }
			}
			return g.withSession(cmd.Context(), func(ctx context.Context, s *session) error {
				// A lab named without its file, whose record is lost or unusable, is
				// found by its marks in every namespace.
				discover := lab == "" && name != ""
				if lab == "" {
					var err error
					var missing *notRecordedError
					if lab, err = pickLab(s.rec.Store, name); errors.As(err, &missing) {
						lab = name
					} else if err != nil {
						return err
					}
					if lab == "" {
						fmt.Fprintf(w, "Nothing to destroy: no lab is recorded in %s.\n", g.stateDir)
						fmt.Fprintln(cmd.ErrOrStderr(), "(A lab whose record was lost is found by its marks: netlab destroy FILE, or netlab destroy --name LAB.)")
						return nil
					}
				}
				prep, err := s.rec.PrepareDestroyComputing(ctx, lab, abs, known, discover)
				if err != nil {
					return err
				}
				warn(cmd, prep.Plan)
				if dryRun {
					return writePlan(w, prep.Plan)
				}
				if prep.Plan.Empty() {
					fmt.Fprintf(w, "No changes. Lab %s has nothing left in the kernel.\n", lab)
					return s.rec.Store.Save(record.Record{Lab: lab, Owned: plan.NewState()})
				}
				o := g.outputFor(w)
				if err := o.showPlan(prep.Plan); err != nil {
					return err
				}
				return execute(ctx, o, s, prep, "Destroy")
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the lab to destroy, when several are applied")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the destroy plan only; change nothing")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "with --dry-run, the plan's format: text, json or sh")
	cmd.RegisterFlagCompletionFunc("name", g.completeLabs)
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(planFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// notRecordedError says that the lab named has no record; labs are those that have.
type notRecordedError struct {
	lab, dir string
	labs     []string
}

func (e *notRecordedError) Error() string {
	if len(e.labs) == 0 {
		return fmt.Sprintf("no lab %s is recorded in %s: no lab is applied", e.lab, e.dir)
	}
	return fmt.Sprintf("no lab %s is recorded in %s; applied labs: %s", e.lab, e.dir, strings.Join(e.labs, ", "))
}

// pickLab returns the lab to destroy from the records: name if given, the only one if
// there is one, "" if there is none.
func pickLab(store record.Store, name string) (string, error) {
	labs, err := store.Labs()
	if err != nil {
		return "", err
	}
	if name != "" {
		for _, l := range labs {
			if l == name {
				return l, nil
			}
		}
		if problem := plan.LabNameProblem(name); problem != "" {
			return "", fmt.Errorf("lab name %q %s", name, problem)
		}
		return "", &notRecordedError{lab: name, dir: store.Dir, labs: labs}
	}
	switch len(labs) {
	case 0:
		return "", nil
	case 1:
		return labs[0], nil
	}
	return "", errors.New("several labs are applied: " + strings.Join(labs, ", ") + "; pick one with --name LAB or give its file")
}

func newExecCmd(g *globals) *cobra.Command {
	var file, name string
	cmd := &cobra.Command{
		Use:   "exec [-f FILE | --name LAB] NODE -- CMD [ARGS...]",
		Short: "Run a command inside a node, as `ip netns exec NODE` does",
		Long: `Run a command inside a lab node exactly as 'ip netns exec NODE' would: in the node's
network namespace, with /sys showing its interfaces and the files of /etc/netns/NODE
(hosts, resolv.conf) over those of /etc. The exit status and standard streams are the
command's own. The lab comes from FILE, or from netlab's records (--name picks one when
several are applied).`,
		Example: `  netlab exec testns1 -- ping -c1 testns2
  netlab exec -f examples/two-namespaces.yaml testns2 -- ip addr`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			// Flags end at NODE (SetInterspersed(false)), so the command's own flags and a
			// "--" after NODE reach us as they were typed.
			node, argv := args[0], args[1:]
			if argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return errors.New("no command given: netlab exec NODE -- CMD [ARGS...]")
			}
			if err := reconcile.CheckPrivileges(); err != nil {
				return err
			}
			nodes, lab, err := labNodes(g, file, name)
			if err != nil {
				return err
			}
			if !slices.Contains(nodes, node) {
				hint := ""
				if isFile(node) {
					hint = fmt.Sprintf(" (a lab is named by its file with -f: netlab exec -f %s NODE -- CMD)", node)
				}
				return fmt.Errorf("lab %s has no node %s; its nodes: %s%s", lab, node, strings.Join(nodes, ", "), hint)
			}
			nsPath := "" // the host node: netlab's own namespaces
			if m, ok := strings.CutPrefix(node, topology.HostNode+"@"); ok && m != g.on {
				return fmt.Errorf("node %s is the root namespace of machine %s: run netlab exec --on %s there", node, m, m)
			}
			if !topology.IsHostNode(node) {
				nsPath = filepath.Join(reconcile.DefaultNetnsDir, node)
			}
			code, err := reconcile.Exec(nsPath, node, argv)
			if err != nil {
				return err
			}
			return exitError{code: code}
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVarP(&file, "file", "f", "", "the lab's topology file (default: the applied lab, from netlab's records)")
	cmd.Flags().StringVar(&name, "name", "", "the applied lab, when several are")
	cmd.RegisterFlagCompletionFunc("name", g.completeLabs)
	cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault // the command: the shell's own completion
		}
		nodes, _, err := labNodes(g, file, name)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return nodes, cobra.ShellCompDirectiveNoFileComp
	}
	return cmd
}

// labNodes returns the node names of the lab in file, or of the applied lab from the
// records (name picks one when several are applied).
func labNodes(g *globals, file, name string) ([]string, string, error) {
	if file != "" {
		t, _, err := g.load(file, topology.Options{})
		if err != nil {
			return nil, "", err
		}
		if name != "" && name != t.Name {
			return nil, "", fmt.Errorf("--name %s does not match the lab %s of %s", name, t.Name, file)
		}
		var nodes []string
		for _, n := range t.Nodes {
			nodes = append(nodes, n.Name)
		}
		return nodes, t.Name, nil
	}
	store := record.Store{Dir: g.stateDir}
	lab, err := pickLab(store, name)
	if err != nil {
		return nil, "", err
	}
	if lab == "" {
		return nil, "", fmt.Errorf("no lab is applied (none is recorded in %s); give the topology with -f FILE", store.Dir)
	}
	r, err := store.Load(lab)
	if err != nil {
		return nil, "", err
	}
	var nodes []string
	for _, ns := range r.Nodes() {
		nodes = append(nodes, string(ns))
	}
	return nodes, lab, nil
}

func newCheckCmd(g *globals) *cobra.Command {
	var all, external bool
	var tries, pings int
	var timeout time.Duration
	var output, junit string
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Ping from the lab's nodes and check the file's expect: section",
		Long: `Ping (ICMP echo, from inside each node) the targets of the file's expect: section and
print the reachability table: OK or NG for each ping, and whether that was expected.
Exit 0 when every expectation holds, 1 otherwise. --all also pings every lab address
from every node. Targets must be lab nodes or addresses unless --external is given.`,
		Example: `  netlab check examples/two-namespaces.yaml
  netlab check --all examples/two-namespaces.yaml
  netlab check -o json --junit check.xml examples/two-namespaces.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q: use text or json", output)
			}
			t, data, err := g.load(args[0], topology.Options{ExternalTargets: external})
			if err != nil {
				return err
			}
			if g.spans(t) {
				remote := []string{"check"}
				if all {
					remote = append(remote, "--all")
				}
				return fanOutExit(g.fanOut(cmd.Context(), cmd, t, data, remote, true), false, "check")
			}
			probes := reach.Probes(t, all)
			if _, err := g.desired(t); err != nil {
				return err
			}
			if g.on != "" { // a lab across machines: the pings from this machine's nodes
				probes = slices.DeleteFunc(probes, func(p reach.Probe) bool { return t.Node(p.From).On != g.on })
			}
			if len(probes) == 0 {
				return fmt.Errorf("%s states no expectations: add an expect: section (see the README), or use --all", args[0])
			}
			if err := reconcile.CheckPingPrivileges(); err != nil {
				return err
			}
			var results []reach.Result
			err = g.withSession(cmd.Context(), func(ctx context.Context, s *session) error {
				for _, n := range t.Nodes {
					if !n.IsHost() && n.On == g.on && !s.kernel.HasNamespace(plan.NS(n.Name)) {
						return fmt.Errorf("node %s is not in the kernel (/run/netns/%s): apply the lab first (netlab apply %s)", n.Name, n.Name, args[0])
					}
				}
				results, err = reach.Run(ctx, probes, func(ctx context.Context, from string, addr netip.Addr) (bool, error) {
					ns := plan.NS(from)
					if topology.IsHostNode(from) {
						ns = plan.Host // host@MACHINE: probes run on their node's machine
					}
					return s.kernel.Ping(ctx, ns, addr, tries, timeout)
				}, pings)
				return err
			})
			if err != nil {
				return err
			}
			if junit != "" {
				f, err := os.Create(junit)
				if err != nil {
					return err
				}
				err = errors.Join(reach.WriteJUnit(f, t.Name, results), f.Close())
				if err != nil {
					return fmt.Errorf("write %s: %w", junit, err)
				}
			}
			var failed int
			if output == "json" {
				err = reach.WriteJSON(cmd.OutOrStdout(), t.Name, results)
				if !reach.ToJSON(t.Name, results).Passed {
					failed = 1
				}
			} else {
				failed, err = reach.WriteTable(cmd.OutOrStdout(), results)
			}
			if err != nil {
				return err
			}
			if failed > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also ping every lab address from every node")
	cmd.Flags().BoolVar(&external, "external", false, "allow expect: targets outside the lab (pings leave the lab)")
	cmd.Flags().IntVar(&tries, "count", 3, "echo requests per target before it counts as NG")
	cmd.Flags().DurationVar(&timeout, "timeout", 500*time.Millisecond, "how long to wait for each reply")
	cmd.Flags().IntVar(&pings, "pings", 32, "how many pings run at once")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().StringVar(&junit, "junit", "", "also write the expectations as JUnit XML to this file, for CI")
	return cmd
}

func newGraphCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Draw the topology as Graphviz DOT or Mermaid; touches nothing",
		Example: `  netlab graph examples/two-namespaces.yaml | dot -Tsvg > lab.svg
  netlab graph -o mermaid examples/bridge.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			write, ok := map[string]func(io.Writer, *topology.Topology) error{"dot": graph.WriteDOT, "mermaid": graph.WriteMermaid}[output]
			if !ok {
				return fmt.Errorf("unknown output format %q: use dot or mermaid", output)
			}
			t, _, err := g.load(args[0], topology.Options{})
			if err != nil {
				return err
			}
			return write(cmd.OutOrStdout(), t)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "dot", "output format: dot or mermaid")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"dot", "mermaid"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print netlab's version, the revision it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), version())
			return nil
		},
	}
}

// version describes the binary from its build info: the module version (or "devel"),
// the VCS revision and whether the tree was modified, and the Go version.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "netlab (no build information)"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	out := "netlab " + v
	if rev != "" {
		out += " (revision " + rev[:min(12, len(rev))] + modified + ")"
	}
	return out + " " + info.GoVersion
}

// completeLabs completes --name with the labs that have a record.
func (g *globals) completeLabs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	labs, err := record.Store{Dir: g.stateDir}.Labs()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return labs, cobra.ShellCompDirectiveNoFileComp
}

// writeAllocs writes the allocations profile of the run to path; a failure is told on
// standard error, as the run itself is done.
func writeAllocs(path string) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netlab: memory profile:", err)
	}
}
