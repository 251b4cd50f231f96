// Package labgen writes the benchmark labs: the star of size N (host with hI <-> nI:eI
// veth pairs, a /30 each, a default route in each namespace via the host side, IPv4
// forwarding and one MASQUERADE rule on the host) and the chain of size N (n1 - n2 -
// ... - nN, each a router forwarding to the next), as netlab YAML, as the naive shell
// script a tutorial gives (one ip process per command) and as iproute2 batch input.
package labgen

import (
	"fmt"
	"strings"
)

// Subnet returns the /30 of link i: 10.A.B.C/30, with .1 and .2 the two ends. It
// serves up to 2^20 links.
func Subnet(i int) (left, right string) {
	a, b, c := i>>14&0xff, i>>6&0xff, (i&63)*4
	return fmt.Sprintf("10.%d.%d.%d", a, b, c+1), fmt.Sprintf("10.%d.%d.%d", a, b, c+2)
}

// StarYAML returns the star lab of size n as a netlab topology.
func StarYAML(n int) string {
	var b strings.Builder
	b.WriteString("name: star\nnodes:\n  host:\n    forwarding: true\n    nat: [{masquerade: 10.0.0.0/8}]\n    interfaces:\n")
	for i := range n {
		h, _ := Subnet(i)
		fmt.Fprintf(&b, "      h%d: {addresses: [%s/30]}\n", i, h)
	}
	for i := range n {
		h, e := Subnet(i)
		fmt.Fprintf(&b, "  n%d:\n    interfaces: {e%d: {addresses: [%s/30]}}\n    routes: [{to: default, via: %s}]\n", i, i, e, h)
	}
	b.WriteString("links:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - [host:h%d, n%d:e%d]\n", i, i, i)
	}
	return b.String()
}

// StarChangedYAML returns the star lab of size n with one more route in its middle
// namespace: the one change the bench applies to an applied star.
func StarChangedYAML(n int) string {
	i := n / 2
	h, e := Subnet(i)
	node := fmt.Sprintf("  n%d:\n    interfaces: {e%d: {addresses: [%s/30]}}\n    routes: [{to: default, via: %s}", i, i, e, h)
	return strings.Replace(StarYAML(n), node+"]", node+", {to: 10.255.0.0/16, via: "+h+"}]", 1)
}

// ChainYAML returns the chain lab of size n: n1 - n2 - ... - nN, each node a router
// whose default route points to the next one.
func ChainYAML(n int) string {
	var b strings.Builder
	b.WriteString("name: chain\nnodes:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  n%d:\n    forwarding: true\n    interfaces:\n", i)
		if i > 1 {
			_, r := Subnet(i - 1)
			fmt.Fprintf(&b, "      l: {addresses: [%s/30]}\n", r)
		}
		if i < n {
			l, _ := Subnet(i)
			fmt.Fprintf(&b, "      r: {addresses: [%s/30]}\n", l)
			_, next := Subnet(i)
			fmt.Fprintf(&b, "    routes: [{to: default, via: %s}]\n", next)
		}
	}
	b.WriteString("links:\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  - [n%d:r, n%d:l]\n", i, i+1)
	}
	return b.String()
}

// StarShell returns the star lab as the shell scripts a tutorial gives: one ip process
// per command, to build it and to tear it down.
func StarShell(n int) (build, teardown string) {
	var b, t strings.Builder
	b.WriteString("set -e\n")
	t.WriteString("set -e\n")
	for i := range n {
		h, e := Subnet(i)
		fmt.Fprintf(&b, "ip netns add n%d\n", i)
		fmt.Fprintf(&b, "ip link add h%d type veth peer name e%d netns n%d\n", i, i, i)
		fmt.Fprintf(&b, "ip addr add %s/30 dev h%d\n", h, i)
		fmt.Fprintf(&b, "ip link set h%d up\n", i)
		fmt.Fprintf(&b, "ip -n n%d link set lo up\n", i)
		fmt.Fprintf(&b, "ip -n n%d addr add %s/30 dev e%d\n", i, e, i)
		fmt.Fprintf(&b, "ip -n n%d link set e%d up\n", i, i)
		fmt.Fprintf(&b, "ip -n n%d route add default via %s\n", i, h)
		fmt.Fprintf(&t, "ip netns del n%d\n", i)
	}
	b.WriteString("sysctl -qw net.ipv4.ip_forward=1\niptables -t nat -A POSTROUTING -s 10.0.0.0/8 -j MASQUERADE\n")
	t.WriteString("sysctl -qw net.ipv4.ip_forward=0\niptables -t nat -D POSTROUTING -s 10.0.0.0/8 -j MASQUERADE\n")
	return b.String(), t.String()
}

// StarBatch returns the star lab as the best iproute2 batch script: one `ip -batch -`
// for the host (namespaces, veth pairs, host addresses), then one `ip -n nI -batch -`
// per namespace, then forwarding and NAT; and the teardown.
func StarBatch(n int) (build, teardown string) {
	var b, t strings.Builder
	b.WriteString("set -e\nip -batch - <<'EOF'\n")
	for i := range n {
		fmt.Fprintf(&b, "netns add n%d\n", i)
	}
	for i := range n {
		h, _ := Subnet(i)
		fmt.Fprintf(&b, "link add h%d type veth peer name e%d netns n%d\naddr add %s/30 dev h%d\nlink set h%d up\n", i, i, i, h, i, i)
	}
	b.WriteString("EOF\n")
	for i := range n {
		h, e := Subnet(i)
		fmt.Fprintf(&b, "ip -n n%d -batch - <<'EOF'\nlink set lo up\naddr add %s/30 dev e%d\nlink set e%d up\nroute add default via %s\nEOF\n", i, e, i, i, h)
	}
	b.WriteString("sysctl -qw net.ipv4.ip_forward=1\niptables -t nat -A POSTROUTING -s 10.0.0.0/8 -j MASQUERADE\n")
	t.WriteString("set -e\nip -batch - <<'EOF'\n")
	for i := range n {
		fmt.Fprintf(&t, "netns del n%d\n", i)
	}
	t.WriteString("EOF\nsysctl -qw net.ipv4.ip_forward=0\niptables -t nat -D POSTROUTING -s 10.0.0.0/8 -j MASQUERADE\n")
	return b.String(), t.String()
}
