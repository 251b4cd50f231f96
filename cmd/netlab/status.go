package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/reconcile"
	"github.com/netlab-go/netlab/record"
	"github.com/netlab-go/netlab/status"
	"github.com/spf13/cobra"
)

// labReport observes the applied lab (or the lab of file) and returns its status.
func (g *globals) labReport(ctx context.Context, s *session, lab, file string) (status.Report, error) {
	if file == "" {
		r, err := s.rec.Store.Load(lab)
		if err != nil {
			return status.Report{}, err
		}
		if r.Topology == "" {
			return status.Report{}, fmt.Errorf("lab %s has no topology file on record; give it with -f FILE", lab)
		}
		file = r.Topology
	}
	t, abs, _, err := g.loadTopology(file)
	if err != nil {
		return status.Report{}, fmt.Errorf("lab %s: %w (give the topology with -f FILE)", lab, err)
	}
	if lab != "" && t.Name != lab {
		return status.Report{}, fmt.Errorf("%s is the topology of lab %s, not %s", file, t.Name, lab)
	}
	s.rec.TakeOver = true // status changes nothing: it compares the kernel with the file it is given
	prep, err := s.rec.PrepareComputing(ctx, t.Name, abs, func() (plan.State, error) { return g.desired(t) })
	if err != nil {
		return status.Report{}, err
	}
	return status.Build(t.Name, abs, prep.Desired, prep.Actual, prep.Plan), nil
}

// isFile reports whether path names a regular file (a topology file, where a lab's or a
// node's name was expected).
func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// fileNotLab reports whether arg, given where a lab's name goes, is a topology file
// instead: a regular file, and no applied lab of that name.
func fileNotLab(store record.Store, arg string) bool {
	if !isFile(arg) {
		return false
	}
	labs, err := store.Labs()
	return err != nil || !slices.Contains(labs, arg)
}

func newStatusCmd(g *globals) *cobra.Command {
	var file, output string
	cmd := &cobra.Command{
		Use:   "status [LAB | FILE | -f FILE] [-o text|json]",
		Short: "Show an applied lab as the kernel has it now, marking what differs",
		Long: `Show, node by node, the lab's interfaces (kind, state, MTU, addresses, qdisc), routes,
sysctls and NAT rules as the kernel has them now, one aligned line each, with '!' before
what differs from the lab; then what netlab apply would do about it. The lab is the
applied one (LAB when several), with the topology file of its record, or the lab of
FILE (a file given where LAB goes is taken as -f FILE, unless a lab of that name is
applied). Exit 0 when the kernel is in sync, 2 when it differs, 1 on error (as plan
--detailed-exitcode).`,
		Example: `  netlab status
  netlab status twons -o json
  netlab status examples/two-namespaces.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			write, ok := map[string]func(io.Writer, status.Report) error{"text": status.WriteText, "json": status.WriteJSON}[output]
			if !ok {
				return fmt.Errorf("unknown output format %q: use text or json", output)
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if file == "" && name != "" && fileNotLab(record.Store{Dir: g.stateDir}, name) {
				file, name = name, "" // as plan, apply and destroy take it
			}
			lab := ""
			if file == "" {
				var err error
				if lab, err = pickLab(record.Store{Dir: g.stateDir}, name); err != nil {
					return err
				}
				if lab == "" {
					return errors.New("no lab is applied; give the topology with -f FILE")
				}
			} else {
				lab = name
			}
			var r status.Report
			err := g.withSession(cmd.Context(), func(ctx context.Context, s *session) (err error) {
				r, err = g.labReport(ctx, s, lab, file)
				return err
			})
			if err != nil {
				return err
			}
			if err := write(cmd.OutOrStdout(), r); err != nil {
				return err
			}
			if !r.InSync {
				return exitError{code: 2}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the lab's topology file (default: the one its record names)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return g.completeLabs(nil, nil, "")
	}
	return cmd
}

// lsJSON is the JSON form of `netlab ls`.
type lsJSON struct {
	FormatVersion string    `json:"format_version"`
	Labs          []labJSON `json:"labs"`
}

type labJSON struct {
	Name     string    `json:"name"`
	Topology string    `json:"topology"`
	Nodes    []string  `json:"nodes"`
	Applied  time.Time `json:"applied"`
	// State is "in sync", "drifted" or "unknown" (Error says why).
	State string `json:"state"`
	Drift int    `json:"drift"`
	Error string `json:"error,omitempty"`
}

func newLsCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "ls [-o text|json]",
		Short: "List the applied labs, and whether the kernel still matches each",
		Long: `List every lab netlab's records hold: its name, topology file, nodes, when it was last
applied, and whether the kernel still matches its topology file ("in sync", or how many
actions netlab apply would take).`,
		Example: `  netlab ls
  netlab ls -o json | jq -r '.labs[].name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q: use text or json", output)
			}
			out := lsJSON{FormatVersion: "1", Labs: []labJSON{}}
			err := g.withSession(cmd.Context(), func(ctx context.Context, s *session) error {
				labs, err := s.rec.Store.Labs()
				if err != nil {
					return err
				}
				for _, lab := range labs {
					out.Labs = append(out.Labs, g.labSummary(ctx, s, lab))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			if len(out.Labs) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "No lab is applied.")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "LAB\tTOPOLOGY\tNODES\tAPPLIED\tSTATE")
			for _, l := range out.Labs {
				state := l.State
				switch {
				case l.State == "drifted":
					state = fmt.Sprintf("%d drifted", l.Drift)
				case l.Error != "":
					state = "unknown: " + l.Error
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", l.Name, l.Topology, len(l.Nodes), l.Applied.Format("2006-01-02 15:04:05"), state)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// labSummary is a line of `netlab ls`: what the record says, and the drift of the
// kernel from the lab's topology file, or why it is not known.
func (g *globals) labSummary(ctx context.Context, s *session, lab string) labJSON {
	l := labJSON{Name: lab, Nodes: []string{}, State: "unknown"}
	rec, err := s.rec.Store.Load(lab)
	if err != nil {
		l.Error = err.Error()
		return l
	}
	l.Topology = rec.Topology
	for _, n := range rec.Nodes() {
		l.Nodes = append(l.Nodes, string(n))
	}
	l.Applied, _ = s.rec.Store.Modified(lab)
	r, err := g.labReport(ctx, s, lab, "")
	var stopped *reconcile.StoppedError
	switch {
	case errors.As(err, &stopped) || ctx.Err() != nil:
		l.Error = "stopped"
	case err != nil:
		l.Error = err.Error()
	case r.InSync:
		l.State = "in sync"
	default:
		l.State, l.Drift = "drifted", len(r.Drift)
	}
	return l
}
