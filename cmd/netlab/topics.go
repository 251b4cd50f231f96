package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/netlab-go/netlab/topology"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// helpTopics are the pages of `netlab help TOPIC` that are not commands.
func helpTopics() []*cobra.Command {
	return []*cobra.Command{
		{
			Use:   "yaml",
			Short: "The topology file, field by field, with the command each stands for",
			Long: `A topology file (YAML) describes one lab:

  name: LAB                 the lab's name; marks everything it makes (alias netlab:LAB)
  nodes:
    host:                   the namespace netlab runs in (optional)
    NODE:                   any other node: a namespace, ip netns add NODE
      netns: {pid: PID}     ... or an existing one: ip netns attach NODE PID ({path:}, {name:})
      interfaces:
        IF: {addresses: [A/LEN, ...], mtu: N, txqueuelen: N}
                            ip -n NODE addr add A/LEN dev IF; ip -n NODE link set IF mtu N
        IF: {macvlan: {parent: P, mode: bridge}}
                            ip link add IF link P netns NODE type macvlan mode bridge
      bridges:
        BR: {addresses: [...], mtu: N}
                            ip -n NODE link add BR type bridge
      routes: [{to: DEST, via: GW, dev: IF, metric: M}]
                            ip -n NODE route add DEST via GW dev IF metric M
      forwarding: true      ip netns exec NODE sysctl -w net.ipv4.ip_forward=1
      sysctls: {NAME: VALUE}
                            ip netns exec NODE sysctl -w NAME=VALUE
      nat: [{masquerade: SRC, out: IF}]
                            iptables -t nat -A POSTROUTING -s SRC -o IF -j MASQUERADE
      dns: [ADDR], search: [DOMAIN]
                            /etc/netns/NODE/resolv.conf
  links:
    - [NODE:IF, NODE:IF]    ip link add IF type veth peer name IF netns NODE
    - endpoints: [NODE:IF, NODE:IF]
      impair: {rate: 10mbit, burst: 32kb, delay: 20ms, jitter: 2ms, loss: 0.1%, limit: 1000}
                            tc qdisc replace dev IF root handle 4e4c: netem ... (+ tbf)
      (impair: {NODE:IF: {...}} impairs what that end sends only)
  expect:
    - {from: NODE, reach: [NODE|ADDR, ...], unreachable: [...]}
                            what netlab check proves

Every error in a file is reported as FILE:LINE:COL with what to write instead. The
README has the whole reference, and examples/ a lab of each kind; netlab schema prints
the JSON Schema that editors use to check and complete the file.`,
		},
		{
			Use:   "exit-codes",
			Short: "What netlab's exit codes mean",
			Long: `  0      success; plan --detailed-exitcode and status: nothing differs
  1      error: bad input, a clash with objects the lab does not own, a file of a
         lab applied from another file, a stale saved plan, a held lock, missing
         privileges, a kernel error, a check that fails. Bad input and clashes
         change nothing.
  2      plan --detailed-exitcode and status: the kernel differs from the lab
  128+N  stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP) at an action
         boundary: the record names every object of the plan, so apply continues and
         destroy cleans up. A second signal exits at once.
  netlab exec exits with the command's own status (127 not found, 126 not
  executable, 128+N killed by signal N).`,
		},
	}
}

// newSchemaCmd prints the JSON Schema of the topology format.
func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the topology format, for editors",
		Long: `Print the JSON Schema (2020-12) of the topology format, made from the loader's own
field tables, as committed in schema/netlab.schema.json. Editors with the YAML language
server check and complete a topology that starts with
  # yaml-language-server: $schema=PATH/netlab.schema.json
The schema says the file's structure; netlab validate checks the rest, with positions.`,
		Example: `  netlab schema > netlab.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(topology.Schema())
			return err
		},
	}
}

// newManCmd writes netlab's man pages (cobra/doc): `make man`.
func newManCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write netlab's man pages into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			header := &doc.GenManHeader{Title: "NETLAB", Section: "1", Source: strings.SplitN(version(), " (", 2)[0]}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return fmt.Errorf("write man pages: %w", err)
			}
			return nil
		},
	}
}
