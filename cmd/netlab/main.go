// Command netlab builds Linux network labs (namespaces, veth pairs, addresses, routes,
// forwarding and NAT) from a YAML file: validate, plan, apply, destroy.
//
// This file only wires flags to the topology, plan and reconcile packages and maps
// errors to exit codes: 0 success (or no changes), 1 error, 2 changes pending with
// `plan --detailed-exitcode`.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/netlab-go/netlab/internal/gcbudget"
	"github.com/netlab-go/netlab/reconcile"
	"github.com/netlab-go/netlab/topology"
)

// exitError carries an exit code out of a command, and a message to print when it has
// one.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("exit %d", e.code)
}

// heapBudget is the heap netlab aims to stay within while its live heap allows.
const heapBudget = 16 << 20

func main() {
	if reconcile.IsExecChild() {
		reconcile.RunExecChild() // `netlab exec` re-executed in the node: it never returns
	}
	// netlab is short-lived: collecting rarely saves a tenth of a large plan's time,
	// and a budget keeps a lab of a thousand namespaces within 40 MiB (see gcbudget).
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		gcbudget.Start(heapBudget)
	}
	ctx := signalContext()
	out := &pipeWriter{w: os.Stdout}
	root := newRootCmd()
	root.SetOut(out)
	err := stoppedExit(ctx, root.ExecuteContext(ctx), "")
	if out.Closed() {
		fmt.Fprintln(os.Stderr, "netlab: standard output was closed; the run went on to its end regardless")
	}
	var ee exitError
	var diags topology.Diagnostics
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "netlab: "+ee.msg)
		}
		os.Exit(ee.code)
	case errors.As(err, &diags):
		// FILE:LINE:COL: lines, as compilers print them, for editors to jump to.
		fmt.Fprintln(os.Stderr, diags.Error())
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "netlab: "+err.Error())
		os.Exit(1)
	}
}
