package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/netlab-go/netlab/capture"
	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/reconcile"
	"github.com/netlab-go/netlab/record"
	"github.com/netlab-go/netlab/topology"
	"github.com/spf13/cobra"
)

func newCaptureCmd(g *globals) *cobra.Command {
	var file, name, out string
	var all bool
	var count, snaplen int
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "capture [-f FILE | --name LAB] (NODE:IF ... | --all) -w OUT.pcapng|- [--count N] [--duration D] [--snaplen N]",
		Short: "Capture the packets of lab interfaces into one pcapng file",
		Long: `Capture every frame that the named lab interfaces send and receive, all at once,
into one pcapng file: one interface per NODE:IF (named so), the packets in the order of
their timestamps across interfaces. '-w -' streams it to standard output, flushed per
packet, for a live Wireshark. It ends at Ctrl-C, after --count packets or after
--duration, with a valid file and the count of packets per interface on standard
error. The lab comes from FILE, or from netlab's records (--name picks one when several
are applied); an interface that is not the lab's is refused before anything is opened.`,
		Example: `  netlab capture testns1:s1 host:m1 -w lab.pcapng --count 100
  netlab capture -f examples/bridge.yaml --all -w - | wireshark -k -i -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case out == "":
				return errors.New("give -w OUT.pcapng, or -w - to stream to a pipe (| wireshark -k -i -)")
			case len(args) == 0 && !all:
				return errors.New("name the interfaces to capture on (NODE:IF ...), or give --all")
			case len(args) > 0 && all:
				return errors.New("give NODE:IF ... or --all, not both")
			case snaplen < 1 || snaplen > 262144:
				return fmt.Errorf("--snaplen %d: give 1 to 262144 bytes", snaplen)
			case count < 0:
				return fmt.Errorf("--count %d: give a number of packets, or 0 for no limit", count)
			}
			keys, err := captureInterfaces(g, file, name, args, all)
			if err != nil {
				return err
			}
			w, closeOut, err := captureOutput(out)
			if err != nil {
				return err
			}
			defer closeOut()
			k, err := openKernel()
			if err != nil {
				return err
			}
			defer k.Close()
			ctx := cmd.Context()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			return runCapture(ctx, k, keys, w, count, snaplen)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the lab's topology file (default: the applied lab, from netlab's records)")
	cmd.Flags().StringVar(&name, "name", "", "the applied lab, when several are")
	cmd.Flags().BoolVar(&all, "all", false, "capture on every interface of the lab")
	cmd.Flags().StringVarP(&out, "write", "w", "", "the pcapng file to write, or - for standard output")
	cmd.Flags().IntVarP(&count, "count", "c", 0, "stop after this many packets (0: no limit)")
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this long, like 10s (0: no limit)")
	cmd.Flags().IntVarP(&snaplen, "snaplen", "s", 262144, "the most bytes kept of each frame")
	cmd.RegisterFlagCompletionFunc("name", g.completeLabs)
	cmd.ValidArgsFunction = func(_ *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		keys, err := labInterfaces(g, file, name)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, k := range keys {
			names = append(names, k.String())
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
	return cmd
}

// runCapture captures on the interfaces keys of the kernel k into w, saying on
// standard error when it starts and what it captured.
func runCapture(ctx context.Context, k *reconcile.Linux, keys []plan.LinkKey, w io.Writer, count, snaplen int) error {
	names := make([]string, len(keys))
	for i, key := range keys {
		names[i] = key.String()
	}
	open := func(i int) (capture.Source, error) { return k.OpenPacketSocket(keys[i].NS, keys[i].Name, snaplen) }
	started := func() {
		fmt.Fprintf(os.Stderr, "netlab: capturing on %s (Ctrl-C to stop)\n", strings.Join(names, ", "))
	}
	counts, err := capture.Capture(ctx, names, open, w, count, snaplen, started)
	if counts != nil {
		parts, total := make([]string, len(names)), 0
		for i, c := range counts {
			parts[i], total = fmt.Sprintf("%s %d", names[i], c), total+c
		}
		fmt.Fprintf(os.Stderr, "netlab: %d packet(s) captured: %s\n", total, strings.Join(parts, ", "))
	}
	return err
}

// captureOutput opens the file the capture writes: standard output for "-" (refused
// when it is a terminal), or the named file, created or truncated, never through a
// symbolic link.
func captureOutput(out string) (io.Writer, func(), error) {
	if out == "-" {
		if st, err := os.Stdout.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return nil, nil, errors.New("-w - writes pcapng, not text: pipe it (| wireshark -k -i -) or give -w FILE.pcapng")
		}
		return os.Stdout, func() {}, nil
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", out, err)
	}
	return f, func() { f.Close() }, nil
}

// captureInterfaces returns the interfaces to capture on: those named, each checked to
// be the lab's, or with all every interface of the lab.
func captureInterfaces(g *globals, file, name string, args []string, all bool) ([]plan.LinkKey, error) {
	keys, err := labInterfaces(g, file, name)
	if err != nil {
		return nil, err
	}
	if all {
		return keys, nil
	}
	var picked []plan.LinkKey
	for _, a := range args {
		var k plan.LinkKey
		if err := k.UnmarshalText([]byte(a)); err != nil || k.NS == "" || k.Name == "" {
			return nil, fmt.Errorf("%q: name an interface as NODE:IF, like testns1:s1", a)
		}
		if g.on != "" && k.NS == plan.NS(topology.HostNode+"@"+g.on) {
			k.NS = plan.Host // this machine's root namespace
		}
		if !slices.Contains(keys, k) {
			names := make([]string, len(keys))
			for i, k := range keys {
				names[i] = k.String()
			}
			return nil, fmt.Errorf("%s is not an interface of the lab; its interfaces: %s", a, strings.Join(names, ", "))
		}
		if !slices.Contains(picked, k) {
			picked = append(picked, k)
		}
	}
	return picked, nil
}

// labInterfaces returns the interfaces of a lab (plan.State.Interfaces): from FILE,
// or from the record of the applied lab.
func labInterfaces(g *globals, file, name string) ([]plan.LinkKey, error) {
	if file != "" {
		t, _, err := g.load(file, topology.Options{})
		if err != nil {
			return nil, err
		}
		if name != "" && name != t.Name {
			return nil, fmt.Errorf("--name %s does not match the lab %s of %s", name, t.Name, file)
		}
		desired, err := g.desired(t)
		if err != nil {
			return nil, err
		}
		return desired.Interfaces(), nil
	}
	store := record.Store{Dir: g.stateDir}
	lab, err := pickLab(store, name)
	if err != nil {
		return nil, err
	}
	if lab == "" {
		return nil, fmt.Errorf("no lab is applied (none is recorded in %s); give the topology with -f FILE", store.Dir)
	}
	r, err := store.Load(lab)
	if err != nil {
		return nil, err
	}
	return r.Owned.Interfaces(), nil
}
