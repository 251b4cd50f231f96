package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/netlab-go/netlab/export"
	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/reconcile"
	"github.com/spf13/cobra"
)

func newExportCmd(g *globals) *cobra.Command {
	var all bool
	var lab, output string
	cmd := &cobra.Command{
		Use:   "export [NAME ... | --all] [--lab LAB] [-o yaml]",
		Short: "Write a topology that describes namespaces built by hand",
		Long: `Read the named namespaces under /run/netns (--all: every one) and the host's side of
their links, and print a netlab topology that describes them: the namespaces, their
veth pairs (each peer found from the kernel's IFLA_LINK and link-netnsid), bridges and
their ports, macvlans, addresses, routes, MTU and txqueuelen, forwarding and the other
net.ipv4/net.ipv6 sysctls that differ from a fresh namespace's, MASQUERADE rules,
impairments netlab made, and resolv.conf. What a topology cannot express is named on
standard error and left out; nothing is guessed. Nothing is changed.`,
		Example: `  netlab export --all > lab.yaml
  netlab export testns1 testns2 --lab twons`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "yaml" && output != "json" {
				return fmt.Errorf("unknown output format %q: use yaml or json", output)
			}
			if len(args) > 0 == all {
				return errors.New("name the namespaces to export, or give --all")
			}
			if problem := plan.LabNameProblem(lab); problem != "" {
				return fmt.Errorf("--lab %q %s", lab, problem)
			}
			k, err := openKernel()
			if err != nil {
				return err
			}
			defer k.Close()
			nss, err := exportNamespaces(cmd.Context(), k, args, all)
			if err != nil {
				return err
			}
			sv, err := k.Survey(cmd.Context(), nss)
			if err != nil {
				return err
			}
			yaml, unsaid, err := export.Build(export.Input{Lab: lab, Namespaces: nss, State: sv.State, Sysctls: sv.Sysctls,
				NAT: sv.NAT, Files: sv.Files, Unexpressed: sv.Unexpressed})
			for _, u := range unsaid {
				fmt.Fprintln(cmd.ErrOrStderr(), "netlab: left out: "+u)
			}
			if err != nil {
				return err
			}
			if output == "json" {
				if yaml, err = export.JSON(yaml); err != nil {
					return err
				}
			}
			_, err = cmd.OutOrStdout().Write(yaml)
			return err
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "export every namespace under /run/netns")
	cmd.Flags().StringVar(&lab, "lab", "exported", "the name of the lab written")
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml, or json (the same topology, which netlab reads too)")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// openKernel opens the kernel for a command that reads it without the run lock
// (capture, export), once the privileges are there.
func openKernel() (*reconcile.Linux, error) {
	if err := reconcile.CheckPrivileges(); err != nil {
		return nil, err
	}
	return reconcile.NewLinux(reconcile.DefaultNetnsDir)
}

// exportNamespaces are the namespaces named, each a live namespace and a usable node
// name, or with all every one under /run/netns.
func exportNamespaces(ctx context.Context, k *reconcile.Linux, names []string, all bool) ([]plan.NS, error) {
	var nss []plan.NS
	if all {
		found, err := k.Namespaces(ctx)
		if err != nil {
			return nil, err
		}
		for _, ns := range found {
			if k.HasNamespace(ns) {
				nss = append(nss, ns)
			}
		}
		if len(nss) == 0 {
			return nil, fmt.Errorf("no namespace under %s to export", reconcile.DefaultNetnsDir)
		}
		return nss, nil
	}
	for _, n := range names {
		if problem, hint := plan.NodeNameProblem(n); problem != "" || n == "host" {
			return nil, fmt.Errorf("%q cannot be a node %s; %s", n, problem, hint)
		}
		if !k.HasNamespace(plan.NS(n)) {
			return nil, fmt.Errorf("%s/%s is not a network namespace", reconcile.DefaultNetnsDir, n)
		}
		if !slices.Contains(nss, plan.NS(n)) {
			nss = append(nss, plan.NS(n))
		}
	}
	return nss, nil
}
