package topology

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/plan"
)

// valid is a small topology that the error cases below break one piece at a time.
const valid = `name: lab
nodes:
  host:
    forwarding: true
    nat:
      - masquerade: 10.1.0.0/24
    interfaces:
      m1: {addresses: [10.1.0.1/24]}
  ns1:
    interfaces:
      e0: {addresses: [10.1.0.2/24, "fd00::2/64"]}
    routes:
      - {to: default, via: 10.1.0.1}
      - {to: "fd00:9::/64", via: "fd00::1"}
links:
  - [host:m1, ns1:e0]
`

func TestValid(t *testing.T) {
	topo, err := Parse("lab.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if topo.Name != "lab" || len(topo.Nodes) != 2 || topo.Nodes[0].Name != "host" || len(topo.Links) != 1 {
		t.Fatalf("parsed %+v", topo)
	}
	s := topo.Desired()
	wantLink := plan.Link{Kind: plan.Veth, Peer: plan.LinkKey{NS: "ns1", Name: "e0"}, Alias: "netlab:lab", Up: true}
	if got := s.Links[plan.LinkKey{NS: plan.Host, Name: "m1"}]; !reflect.DeepEqual(got, wantLink) {
		t.Errorf("host:m1 = %+v, want %+v", got, wantLink)
	}
	if !s.Namespaces["ns1"] || s.Namespaces["host"] {
		t.Errorf("namespaces = %v", s.Namespaces)
	}
	if !reflect.DeepEqual(s.Links[plan.LinkKey{NS: "ns1", Name: "lo"}], plan.Link{Kind: plan.Loopback, Up: true}) {
		t.Error("ns1's lo is not brought up")
	}
	if r := s.Routes[plan.RouteKey{NS: "ns1", To: netip.MustParsePrefix("0.0.0.0/0")}]; r.Via != netip.MustParseAddr("10.1.0.1") {
		t.Errorf("default route = %+v", r)
	}
	if !s.Addrs[plan.AddrKey{Link: plan.LinkKey{NS: "ns1", Name: "e0"}, Prefix: netip.MustParsePrefix("fd00::2/64")}] {
		t.Error("IPv6 address missing")
	}
	if s.Sysctls[plan.SysctlKey{NS: plan.Host, Name: "net.ipv4.ip_forward"}] != "1" {
		t.Error("forwarding is not net.ipv4.ip_forward=1")
	}
	if !s.NAT[plan.NATRule{NS: plan.Host, Source: netip.MustParsePrefix("10.1.0.0/24")}] {
		t.Error("nat rule missing")
	}
}

func TestExamplesAreValid(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestErrors breaks the valid topology one way at a time and checks the exact message,
// position and hint.
func TestErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string // the whole file, or a replacement of valid: "OLD=>NEW"
		want string // one diagnostic, or several joined by newlines
	}{
		{"empty file", "", "lab.yaml:1:1: the file is empty; write a topology: name:, nodes: and links: (see examples/)"},
		{"comments only", "# nothing\n", "lab.yaml:1:1: the file is empty; write a topology: name:, nodes: and links: (see examples/)"},
		{"not YAML", "name: lab\nnodes: [\n  host:\n", "lab.yaml:4:1: not valid YAML: did not find expected node content; fix the YAML syntax (indent with spaces, `key: value`, lists with `- `)"},
		{"unclosed brace", "name: lab\nnodes:\n  ns1: {interfaces: {}\nlinks: []\n",
			"lab.yaml:3:8: not valid YAML: did not find expected ',' or '}' (while parsing a flow mapping that starts here; the parser stopped at line 4, column 1); fix the YAML syntax (indent with spaces, `key: value`, lists with `- `)"},
		{"tab indentation", "name: lab\nnodes:\n\tns1: {}\n",
			"lab.yaml:3:1: not valid YAML: found character that cannot start any token; fix the YAML syntax (indent with spaces, `key: value`, lists with `- `)"},
		{"not a mapping", "- a\n- b\n", "lab.yaml:1:1: the file is not a topology; a topology is a mapping with the fields name, nodes and links"},
		{"unknown top field", "  - [host:m1, ns1:e0]\n=>  - [host:m1, ns1:e0]\nlinkz: []\n",
			`lab.yaml:17:1: unknown field "linkz" in the topology; did you mean "links"? the fields of the topology are name, nodes, links, expect, hosts, placement`},
		{"unknown interface field", "m1: {addresses:=>m1: {adresses:",
			`lab.yaml:8:12: unknown field "adresses" in interface host:m1; did you mean "addresses"? the fields of interface host:m1 are addresses, mtu, txqueuelen, macvlan`},
		{"unknown node field", "    forwarding: true=>    forwarding: true\n    fowarding: true",
			`lab.yaml:5:5: unknown field "fowarding" in node host; did you mean "forwarding"? the fields of node host are netns, forwarding, sysctls, nat, interfaces, bridges, routes, dns, search, on`},
		{"bad CIDR", "10.1.0.1/24]=>10.1.0.300/24]",
			`lab.yaml:8:24: bad address "10.1.0.300/24": IPv4 field has value >255; write an address and prefix length, like 10.0.0.1/24`},
		{"no prefix length", "10.1.0.1/24]=>10.1.0.1]",
			`lab.yaml:8:24: address "10.1.0.1" has no prefix length; write it with its prefix length, like 10.1.0.1/24`},
		{"route host bits", `{to: "fd00:9::/64"=>{to: "fd00:9::1/64"`,
			`lab.yaml:14:14: route destination "fd00:9::1/64" has host bits set; write fd00:9::/64`},
		{"gateway in no connected subnet", "via: 10.1.0.1}=>via: 10.2.0.1}",
			"lab.yaml:13:9: gateway 10.2.0.1 of the route to default is in no connected subnet of node ns1; use a gateway in a connected subnet of node ns1: 10.1.0.0/24"},
		{"gateway of another family", `via: "fd00::1"}=>via: 10.1.0.1}`,
			"lab.yaml:14:34: gateway 10.1.0.1 and destination fd00:9::/64 are of different IP families; use a gateway of the destination's family"},
		{"gateway is own address", "via: 10.1.0.1}=>via: 10.1.0.2}",
			"lab.yaml:13:9: gateway 10.1.0.2 of the route to default is node ns1's own address; the gateway is the next hop: write the address of the node at the other end of the link"},
		{"duplicate address", `"fd00::2/64"]=>"fd00::2/64", 10.1.0.2/16]`,
			"lab.yaml:11:51: address 10.1.0.2 is already in node ns1; an address appears once per namespace; the first is on e0 at line 11"},
		{"interface name too long", strings.ReplaceAll(valid, "m1", "averyveryverylongname"),
			`lab.yaml:8:7: interface name "averyveryverylongname" is 21 bytes long; the kernel allows at most 15; use a short name like eth0 or veth-a (at most 15 bytes, no '/', ':' or spaces)`},
		{"interface name with slash", strings.NewReplacer("m1: {", `"a/b": {`, "host:m1", "host:a/b").Replace(valid),
			`lab.yaml:8:7: interface name "a/b" contains '/' or ':', which the kernel does not allow; use a short name like eth0 or veth-a (at most 15 bytes, no '/', ':' or spaces)`},
		{"interface name with space", "      e0: {=>      \"e 0\": {",
			`lab.yaml:11:7: interface name "e 0" contains whitespace or a control character, which the kernel does not allow; use a short name like eth0 or veth-a (at most 15 bytes, no '/', ':' or spaces)
lab.yaml:16:15: link endpoint "ns1:e0" names interface "e0", which node ns1 does not declare; did you mean ns1:e 0? or declare it under nodes.ns1.interfaces (` + "`e0: {}`" + ` for no address)`},
		{"node name with slash", "  ns1:=>  \"a/b\":",
			`lab.yaml:9:3: node name "a/b" cannot be a file name under /run/netns: it contains '/'; use letters, digits, '-', '_' and '.'
lab.yaml:16:15: link endpoint "ns1:e0" names unknown node "ns1"; nodes are host, a/b`},
		{"node name dot-dot", "  ns1:=>  \"..\": {}\n  ns1:",
			`lab.yaml:9:3: node name ".." cannot be a file name under /run/netns; use letters, digits, '-', '_' and '.'`},
		{"unknown node in link", "[host:m1, ns1:e0]=>[host:m1, nsl:e0]",
			`lab.yaml:11:7: interface ns1:e0 is in no link; add a link like [ns1:e0, OTHER:IFACE] or remove the interface
lab.yaml:16:15: link endpoint "nsl:e0" names unknown node "nsl"; did you mean "ns1"? nodes are host, ns1`},
		{"interface used by two links", "  - [host:m1, ns1:e0]=>  - [host:m1, ns1:e0]\n  - [host:m1, ns1:e0]",
			`lab.yaml:17:6: interface host:m1 is used by two links; an interface is one end of one link; its other link is at line 16; declare another interface
lab.yaml:17:15: interface ns1:e0 is used by two links; an interface is one end of one link; its other link is at line 16; declare another interface`},
		{"second host-like name", "  ns1:=>  Host:\n    interfaces: {}\n  ns1:",
			"lab.yaml:9:3: node \"Host\" looks like the reserved node host; the one reserved node is `host` (lowercase), the namespace netlab runs in; name this one otherwise"},
		{"duplicate node", "  ns1:=>  host:\n    interfaces: {}\n  ns1:",
			`lab.yaml:9:3: "host" appears twice in nodes; keep one; the first is at line 3`},
		{"forwarding not bool", "forwarding: true=>forwarding: yes",
			`lab.yaml:4:17: forwarding must be true or false, not "yes"; write ` + "`forwarding: true` or `forwarding: false`"},
		{"link not a pair", "  - [host:m1, ns1:e0]=>  - [host:m1]",
			`lab.yaml:8:7: interface host:m1 is in no link; add a link like [host:m1, OTHER:IFACE] or remove the interface
lab.yaml:11:7: interface ns1:e0 is in no link; add a link like [ns1:e0, OTHER:IFACE] or remove the interface
lab.yaml:16:5: a link must list exactly two endpoints; write a link as a pair of endpoints, like [host:m1, testns1:s1]`},
		{"no name", "name: lab\n=>", "lab.yaml:1:1: the topology has no name; add a line `name: mylab`: the lab's name marks everything it creates"},
		{"bad lab name", "name: lab=>name: my lab", `lab.yaml:1:7: lab name "my lab" is not usable: it marks interfaces (alias netlab:NAME) and names the state file; use at most 64 letters, digits, '-', '_' and '.', starting with a letter or digit`},
		{"nat host bits", "masquerade: 10.1.0.0/24=>masquerade: 10.1.0.1/24", `lab.yaml:6:21: masquerade source "10.1.0.1/24" has host bits set; write 10.1.0.0/24`},
		{"expect from unknown node", "  - [host:m1, ns1:e0]\n=>  - [host:m1, ns1:e0]\nexpect:\n  - {from: ns2, reach: [ns1]}\n",
			`lab.yaml:18:5: expectation names unknown node "ns2"; did you mean "ns1"? nodes are host, ns1`},
		{"expect external address", "  - [host:m1, ns1:e0]\n=>  - [host:m1, ns1:e0]\nexpect:\n  - {from: ns1, reach: [10.1.0.1, 8.8.8.8], unreachable: [nsx]}\n",
			"lab.yaml:18:35: target 8.8.8.8 is not an address of the lab; name a lab node or one of its addresses; `netlab check --external` allows other addresses\n" +
				`lab.yaml:18:59: target names unknown node "nsx"; did you mean "ns1"? nodes are host, ns1`},
		{"netns named two ways", "  ns1:\n=>  ns1:\n    netns: {pid: 12, name: box}\n",
			"lab.yaml:10:12: netns of node ns1 must name the namespace one way; write one of `{pid: 1234}`, `{path: /proc/1234/ns/net}` or `{name: existing}`"},
		{"netns of host", "  host:\n=>  host:\n    netns: {pid: 12}\n",
			"lab.yaml:4:5: node host cannot have netns; host is the namespace netlab runs in; make the existing namespace a node of its own"},
		{"sysctl not net", "    forwarding: true\n=>    forwarding: true\n    sysctls: {kernel.panic: 1}\n",
			"lab.yaml:5:15: sysctl \"kernel.panic\" is not a net.* sysctl name; only net.* sysctls belong to a network namespace: write a dotted name like net.ipv6.conf.all.forwarding"},
		{"sysctl ip_forward", "    forwarding: true\n=>    forwarding: true\n    sysctls: {net.ipv4.ip_forward: 1}\n",
			"lab.yaml:5:15: net.ipv4.ip_forward is set with forwarding; use `forwarding: true|false` for it"},
		{"route dev unknown", "- {to: default, via: 10.1.0.1}=>- {to: 10.9.0.0/16, dev: e9}",
			"lab.yaml:13:32: route device e9 is not an interface of node ns1; name an interface or bridge of node ns1: e0"},
		{"default without via", "- {to: default, via: 10.1.0.1}=>- {to: default, dev: e0}",
			"lab.yaml:13:14: `to: default` without via has no IP family; write 0.0.0.0/0 or ::/0 for a default route through a device"},
		// What the kernel would refuse, refused by the file alone.
		{"IPv4-mapped address", `"fd00::2/64"]=>"fd00::2/64", "::ffff:10.1.0.2/120"]`,
			`lab.yaml:11:51: address "::ffff:10.1.0.2/120" is an IPv4-mapped IPv6 address, which the kernel does not take here; write the IPv4 address itself, like 10.1.0.2`},
		{"metric over 32 bits", "- {to: default, via: 10.1.0.1}=>- {to: default, via: 10.1.0.1, metric: 4294967296}",
			"lab.yaml:13:46: bad metric \"4294967296\"; write a number from 0 to 4294967295, like `metric: 100`"},
		{"interface named all", strings.ReplaceAll(valid, "e0", "all"),
			`lab.yaml:11:7: interface name "all" is taken by the sysctls of every interface (/proc/sys/net/ipv4/conf/all); use a short name like eth0 or veth-a (at most 15 bytes, no '/', ':' or spaces)`},
		{"interface named default", strings.ReplaceAll(valid, "m1", "default"),
			`lab.yaml:8:7: interface name "default" is taken by the sysctls of every interface (/proc/sys/net/ipv4/conf/default); use a short name like eth0 or veth-a (at most 15 bytes, no '/', ':' or spaces)`},
		{"impair: bad rate", "  - [host:m1, ns1:e0]=>  - {endpoints: [host:m1, ns1:e0], impair: {rate: 10mb}}",
			`lab.yaml:16:51: bad rate "10mb"; write a rate in bits per second, like ` + "`rate: 10mbit`" + ` (bit, kbit, mbit, gbit)`},
		{"impair: jitter without delay", "  - [host:m1, ns1:e0]=>  - {endpoints: [host:m1, ns1:e0], impair: {jitter: 5ms}}",
			"lab.yaml:16:44: impair of link host:m1 <-> ns1:e0 has jitter but no delay; add `delay:`: jitter varies the delay"},
		{"impair: not an end", "  - [host:m1, ns1:e0]=>  - {endpoints: [host:m1, ns1:e0], impair: {ns1:e1: {loss: 1%}}}",
			`lab.yaml:16:45: "ns1:e1" is not an end of this link; key each end's impairment by its endpoint, host:m1 or ns1:e0, or give the fields (rate, burst, delay, jitter, loss, limit) for both ends`},
		{"impair: loss without %", "  - [host:m1, ns1:e0]=>  - {endpoints: [host:m1, ns1:e0], impair: {loss: 1}}",
			`lab.yaml:16:51: bad loss "1"; write a percentage like ` + "`loss: 1%`" + ` (0.0001% to 100%)`},
		{"impair: burst below a frame", "  - [host:m1, ns1:e0]=>  - {endpoints: [host:m1, ns1:e0], impair: {rate: 1mbit, burst: 1000}}",
			"lab.yaml:16:44: a burst of 1000 bytes is less than one frame: the tbf would drop every full-size packet; give a burst of at least 1514 bytes (a frame at the link's MTU), or leave it to netlab"},
		{"link without endpoints", "  - [host:m1, ns1:e0]=>  - [host:m1, ns1:e0]\n  - {impair: {rate: 1mbit}}",
			"lab.yaml:17:5: link has no endpoints; add `endpoints: [NODE:IF, NODE:IF]`"},
		{"bad txqueuelen", "      e0: {addresses:=>      e0: {txqueuelen: 0, addresses:",
			`lab.yaml:11:24: bad txqueuelen "0"; write a number from 1 to 1048576, like ` + "`txqueuelen: 500`"},
		{"IPv6 below MTU 1280", "      e0: {addresses:=>      e0: {mtu: 1279, addresses:",
			"lab.yaml:11:48: IPv6 address fd00::2/64 on ns1:e0, whose MTU is 1279: the kernel refuses IPv6 below 1280; give the link an MTU of at least 1280 (IPv6's least), or drop the IPv6 address"},
		{"IPv6 below MTU 1280 from the other end", "      m1: {addresses:=>      m1: {mtu: 68, addresses:",
			"lab.yaml:11:37: IPv6 address fd00::2/64 on ns1:e0, whose MTU is 68: the kernel refuses IPv6 below 1280; give the link an MTU of at least 1280 (IPv6's least), or drop the IPv6 address"},
		{"unspecified address", "10.1.0.2/24, =>10.1.0.2/24, 0.0.0.0/24, ",
			`lab.yaml:11:37: address "0.0.0.0/24" is the unspecified address, which the kernel does not take here; write an address of the interface's own subnet`},
		{"unspecified IPv6 address", `"fd00::2/64"]=>"fd00::2/64", "::/64"]`,
			`lab.yaml:11:51: address "::/64" is the unspecified address, which the kernel does not take here; write an address of the interface's own subnet`},
		{"loopback address", `"fd00::2/64"]=>"fd00::2/64", "::1/128"]`,
			`lab.yaml:11:51: address "::1/128" is a loopback address, which the kernel does not take here; every namespace has lo already; write another address`},
		{"multicast address", `"fd00::2/64"]=>"fd00::2/64", "ff02::5/64"]`,
			`lab.yaml:11:51: address "ff02::5/64" is a multicast address, which the kernel does not take here; write a unicast address`},
		{"multicast gateway", "via: 10.1.0.1}=>via: 224.0.0.1}",
			`lab.yaml:13:28: gateway "224.0.0.1" is a multicast address, which the kernel does not take here; write a unicast address`},
		{"zone in an address", `"fd00::2/64"]=>"fd00::2/64", "fe80::2%e0/64"]`,
			`lab.yaml:11:51: address "fe80::2%e0/64" has an IPv6 zone; write fe80::2/64 without the zone: the interface it is declared on is its zone`},
		{"zone in a gateway", `via: "fd00::1"}=>via: "fe80::1%e0"}`,
			"lab.yaml:14:34: gateway \"fe80::1%e0\" has an IPv6 zone; write `via: fe80::1` and `dev: e0`: the route's device is the zone"},
		{"second document", "  - [host:m1, ns1:e0]\n=>  - [host:m1, ns1:e0]\n---\nname: other\n",
			"lab.yaml:17:1: the file holds a second YAML document; keep one topology in the file: remove the second document (the line `---` starts it)"},
		{"NUL in a node name", "  ns1:=>  \"n\\0s\": {}\n  ns1:",
			`lab.yaml:9:3: node name "n\x00s" contains a NUL byte; use letters, digits, '-', '_' and '.'`},
		{"sysctl value on two lines", "    forwarding: true\n=>    forwarding: true\n    sysctls: {net.ipv4.conf.all.rp_filter: \"1\\n2\"}\n",
			"lab.yaml:5:44: the value of sysctl net.ipv4.conf.all.rp_filter is not one short line; write the value on one line, like `1` or `4096 87380 6291456`"},
		{"sysctl of an interface the node lacks", "  ns1:\n=>  ns1:\n    sysctls: {net.ipv4.conf.eth9.rp_filter: 2}\n",
			"lab.yaml:10:15: sysctl net.ipv4.conf.eth9.rp_filter names interface eth9, which node ns1 does not have; name one of the node's interfaces, or all or default"},
		{"expect without targets", "  - [host:m1, ns1:e0]\n=>  - [host:m1, ns1:e0]\nexpect:\n  - from: ns1\n",
			"lab.yaml:18:5: expectation has no targets; add `reach: [...]` and/or `unreachable: [...]`"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			if old, repl, ok := strings.Cut(c.src, "=>"); ok {
				if !strings.Contains(valid, old) {
					t.Fatalf("%q is not in the valid topology", old)
				}
				src = strings.Replace(valid, old, repl, 1)
			}
			_, err := Parse("lab.yaml", []byte(src))
			if err == nil {
				t.Fatalf("no error for:\n%s", src)
			}
			if _, ok := err.(Diagnostics); !ok {
				t.Fatalf("error is a %T, not Diagnostics", err)
			}
			if err.Error() != c.want {
				t.Errorf("got:\n%s\nwant:\n%s", err, c.want)
			}
		})
	}
}

func TestExternalTargets(t *testing.T) {
	src := valid + "expect:\n  - {from: ns1, reach: [host, 10.1.0.1], unreachable: [192.0.2.1]}\n"
	if _, err := Parse("lab.yaml", []byte(src)); err == nil {
		t.Fatal("an address outside the lab is accepted without ExternalTargets")
	}
	topo, err := ParseWith("lab.yaml", []byte(src), Options{ExternalTargets: true})
	if err != nil {
		t.Fatal(err)
	}
	e := topo.Expect[0]
	if e.From != "ns1" || e.Reach[0].Node != "host" || e.Reach[1].Addr != netip.MustParseAddr("10.1.0.1") || e.Unreachable[0].String() != "192.0.2.1" {
		t.Errorf("parsed %+v", e)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("want a not-exist error, got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
