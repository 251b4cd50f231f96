package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/netlab-go/netlab/fanout"
	"github.com/netlab-go/netlab/topology"
	"github.com/spf13/cobra"
)

// spans reports whether the command runs on every machine of t over ssh: t is a lab
// across machines and --on names none.
func (g *globals) spans(t *topology.Topology) bool { return len(t.Machines) > 0 && g.on == "" }

// fanOut runs `netlab ARGS --on M -` on each machine of t over ssh with the topology
// data, prints each machine's output under its name, and returns the results.
func (g *globals) fanOut(ctx context.Context, cmd *cobra.Command, t *topology.Topology, data []byte, args []string, print bool) []fanout.Result {
	g.dropAhead() // this machine's part runs in a netlab of its own
	machines := make([]fanout.Machine, len(t.Machines))
	for i, m := range t.Machines {
		machines[i] = fanout.Machine{Name: m.Name, SSH: m.SSH}
	}
	cfg := fanout.Config{Netlab: g.remoteNetlab, ControlDir: g.stateDir, SSHConfig: g.sshConfig}
	results := fanout.Run(ctx, cfg, machines, args, data)
	if print {
		printResults(cmd.OutOrStdout(), cmd.ErrOrStderr(), results)
	}
	return results
}

// printResults writes each machine's output under its name.
func printResults(w, errw io.Writer, results []fanout.Result) {
	for _, r := range results {
		fmt.Fprintf(w, "== %s ==\n%s", r.Machine, r.Stdout)
		for _, l := range strings.SplitAfter(r.Stderr, "\n") {
			if l != "" {
				fmt.Fprintf(errw, "[%s] %s", r.Machine, l)
			}
		}
	}
}

// fanOutExit is the exit of a command run on every machine: 1 naming the machines
// that failed, else 2 when detailed and one has changes, else 0.
func fanOutExit(results []fanout.Result, detailed bool, what string) error {
	if failed := fanout.Failed(results); len(failed) > 0 {
		return exitError{code: 1, msg: what + " failed on " + strings.Join(failed, ", ")}
	}
	for _, r := range results {
		if detailed && r.Code == 2 {
			return exitError{code: 2}
		}
	}
	return nil
}

// fanOutPlanJSON prints one plan per machine: {"format_version": "1", "machines":
// [{"machine": M, "plan": PLAN}]}.
func fanOutPlanJSON(w io.Writer, results []fanout.Result) error {
	type machinePlan struct {
		Machine string          `json:"machine"`
		Plan    json.RawMessage `json:"plan"`
	}
	out := struct {
		FormatVersion string        `json:"format_version"`
		Machines      []machinePlan `json:"machines"`
	}{FormatVersion: "1"}
	for _, r := range results {
		if !json.Valid([]byte(r.Stdout)) {
			return fmt.Errorf("machine %s gave no JSON plan: %s", r.Machine, strings.TrimSpace(r.Stderr))
		}
		out.Machines = append(out.Machines, machinePlan{Machine: r.Machine, Plan: json.RawMessage(r.Stdout)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
