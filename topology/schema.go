package topology

import (
	"encoding/json"

	"github.com/netlab-go/netlab/plan"
)

// field is one field of a mapping of the topology format: its key, what it means (the
// YAML reference's words) and the JSON Schema of its value. The loader reads each
// mapping's keys from these tables, and Schema is made of them, so the two cannot
// drift apart.
type field struct {
	key    string
	doc    string
	schema map[string]any
}

func keys(fields []field) []string {
	ks := make([]string, len(fields))
	for i, f := range fields {
		ks[i] = f.key
	}
	return ks
}

// The JSON Schema of values used in several places.
var (
	cidrSchema     = map[string]any{"type": "string", "pattern": `^[0-9A-Fa-f.:]+/[0-9]{1,3}$`}
	addrSchema     = map[string]any{"type": "string", "pattern": `^[0-9A-Fa-f.:]+$`}
	ifaceSchema    = map[string]any{"type": "string", "pattern": `^[^/: \t\n]{1,15}$`}
	endpointSchema = map[string]any{"type": "string", "pattern": `^(host@)?[A-Za-z0-9_][A-Za-z0-9_.-]*:[^/: \t\n]{1,15}$`}
	nameSchema     = map[string]any{"type": "string", "pattern": `^[A-Za-z0-9_][A-Za-z0-9_.-]*$`, "maxLength": 64}
	// nodeSchema is a node's name: a name, or host@MACHINE, a machine's root namespace.
	nodeSchema     = map[string]any{"type": "string", "pattern": `^(host@)?[A-Za-z0-9_][A-Za-z0-9_.-]*$`, "maxLength": 69}
	durationSchema = map[string]any{"type": "string", "pattern": `^[0-9]+(\.[0-9]+)?(us|µs|ms|s)$`}
)

func ref(def string) map[string]any { return map[string]any{"$ref": "#/$defs/" + def} }
func listOf(item map[string]any) map[string]any {
	return map[string]any{"type": "array", "items": item}
}
func described(doc string, s map[string]any) map[string]any {
	c := map[string]any{"description": doc}
	for k, v := range s {
		c[k] = v
	}
	return c
}

var topologyFields = []field{
	{"name", "The lab's name: letters, digits and -_., at most 64. It marks everything the lab creates (alias netlab:LAB) and names its record.", nameSchema},
	{"nodes", "Map of node name to node. host is the namespace netlab runs in; any other node is a network namespace, /run/netns/NAME.",
		map[string]any{"type": "object", "propertyNames": nodeSchema, "additionalProperties": ref("node")}},
	{"links", "The links: a pair of endpoints [N1:IF1, N2:IF2] is a veth pair; the long form {endpoints, impair} impairs it.",
		listOf(map[string]any{"oneOf": []any{ref("pair"), ref("link")}})},
	{"expect", "What netlab check proves: from a node, the targets that must answer a ping (reach) and those that must not (unreachable).",
		listOf(ref("expectation"))},
	{"hosts", "The machines of a lab across several: how to reach each (ssh) and its underlay address, which VXLAN links between machines use.",
		map[string]any{"type": "object", "propertyNames": nameSchema, "additionalProperties": ref("machine")}},
	{"placement", "Where nodes without on: go: on the first machine (by default), or spread round-robin over the machines.",
		map[string]any{"enum": []any{"first", "spread"}}},
}

var machineFields = []field{
	{"ssh", "How to reach the machine: [user@]host, as ssh takes it.", map[string]any{"type": "string", "minLength": 1}},
	{"underlay", "The machine's address on the network that joins the machines: the VXLAN links' local and remote address.", addrSchema},
}

var nodeFields = []field{
	{"netns", "The node is an existing namespace (a container's): {pid: PID}, {path: FILE} or {name: NAME}. netlab makes its /run/netns entry, never the namespace.", ref("netns")},
	{"forwarding", "IPv4 forwarding in the node (net.ipv4.ip_forward); unset: left alone. Restored on destroy.", map[string]any{"type": "boolean"}},
	{"sysctls", "Any net.* sysctl of the node, NAME: VALUE; the value found is restored on destroy.",
		map[string]any{"type": "object", "propertyNames": map[string]any{"pattern": `^net(\.[A-Za-z0-9_-]+)+$`},
			"additionalProperties": map[string]any{"type": []any{"string", "integer"}}}},
	{"nat", "MASQUERADE rules: packets from masquerade (a network) leaving the node, through out when given.", listOf(ref("nat"))},
	{"interfaces", "The node's interfaces: each the end of one link, or a macvlan.",
		map[string]any{"type": "object", "propertyNames": ifaceSchema, "additionalProperties": ref("interface")}},
	{"bridges", "Linux bridges in the node; a link to NODE:BRIDGE makes a port of it.",
		map[string]any{"type": "object", "propertyNames": ifaceSchema, "additionalProperties": ref("bridge")}},
	{"routes", "Routes of the node's main table.", listOf(ref("route"))},
	{"dns", "Name servers of the node, written to /etc/netns/NODE/resolv.conf.", listOf(addrSchema)},
	{"search", "Search domains of the node, written to /etc/netns/NODE/resolv.conf.", listOf(map[string]any{"type": "string"})},
	{"on", "The machine (of hosts:) the node is on.", nameSchema},
}

var addressesField = field{"addresses", "Addresses with their prefix length, IPv4 or IPv6, like 10.0.0.1/24.", listOf(cidrSchema)}

// interfaceFields are the fields of an interface, and bridgeFields of a bridge: the
// addresses, the link attributes a topology sets (plan.LinkAttrs), and for an
// interface its macvlan.
func interfaceFields(bridge bool) []field {
	fields := []field{addressesField}
	for _, at := range plan.LinkAttrs {
		if at.Parse != nil {
			fields = append(fields, field{at.Name, at.Doc, at.Schema})
		}
	}
	if !bridge {
		fields = append(fields, field{"macvlan", "The interface is a macvlan on the host interface parent, in mode (bridge by default); it is in no link.", ref("macvlan")})
	}
	return fields
}

var macvlanFields = []field{
	{"parent", "The host interface the macvlan sits on, such as eth0.", ifaceSchema},
	{"mode", "The macvlan's mode.", map[string]any{"enum": anySlice(MacvlanModes)}},
}

var routeFields = []field{
	{"to", "The destination: default, or a network of either family (10.1.0.0/16, fd00:9::/64).",
		map[string]any{"anyOf": []any{map[string]any{"const": "default"}, cidrSchema}}},
	{"via", "The gateway, in a connected subnet of the node.", addrSchema},
	{"dev", "The interface or bridge of the node the route goes through.", ifaceSchema},
	{"metric", "The route's metric, as the kernel counts it (IPv6 routes without one get 1024).",
		map[string]any{"type": "integer", "minimum": 0, "maximum": maxMetric}},
}

var natFields = []field{
	{"masquerade", "The network whose packets are masqueraded.", cidrSchema},
	{"out", "The interface they leave through (any, when unset).", ifaceSchema},
}

var linkFields = []field{
	{"endpoints", "The two ends of the link, NODE:IF.", map[string]any{"$ref": "#/$defs/pair"}},
	{"vni", "The VXLAN id of a link between two machines (default: derived from the lab and the link).",
		map[string]any{"type": "integer", "minimum": 1, "maximum": 1<<24 - 1}},
	{"port", "The UDP port of a link between two machines (default 4789).", map[string]any{"type": "integer", "minimum": 1, "maximum": 65535}},
	{"impair", "What the link does to the packets each end sends: one impairment for both ends, or one per end keyed NODE:IF.",
		map[string]any{"anyOf": []any{ref("impairment"),
			map[string]any{"type": "object", "propertyNames": endpointSchema, "additionalProperties": ref("impairment"), "minProperties": 1}}}},
}

var impairFieldTable = []field{
	{"rate", "The most the end sends, in bits per second: bit, kbit, mbit, gbit (a tbf).", map[string]any{"type": "string", "pattern": `^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit)$`}},
	{"burst", "The tbf's bucket, in bytes: b, kb, mb (1024-based); at least one frame.", map[string]any{"type": []any{"string", "integer"}, "pattern": `^[0-9]+(b|kb|mb)?$`}},
	{"delay", "Added to every packet: us, ms, s (a netem).", durationSchema},
	{"jitter", "Varies the delay by up to this much; needs delay.", durationSchema},
	{"loss", "The share of packets dropped at random, 0.0001% to 100%.", map[string]any{"type": "string", "pattern": `^[0-9]+(\.[0-9]+)?%$`}},
	{"limit", "The queue, in packets.", map[string]any{"type": "integer", "minimum": 1, "maximum": 1 << 24}},
}

var impairFields = keys(impairFieldTable)

var expectationFields = []field{
	{"from", "The node the pings start from.", nodeSchema},
	{"reach", "Targets that must answer: lab nodes (each of their addresses) or lab addresses.", listOf(map[string]any{"type": "string"})},
	{"unreachable", "Targets that must not answer.", listOf(map[string]any{"type": "string"})},
}

var netnsFields = []field{
	{"pid", "A process whose network namespace the node is (/proc/PID/ns/net).", map[string]any{"type": "integer", "minimum": 1}},
	{"path", "A namespace file, such as /proc/PID/ns/net or a bind mount.", map[string]any{"type": "string", "pattern": "^/"}},
	{"name", "An entry under /run/netns.", nameSchema},
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// object is the JSON Schema of a mapping with the given fields and no others.
func object(doc string, fields []field, required ...string) map[string]any {
	props := map[string]any{}
	for _, f := range fields {
		props[f.key] = described(f.doc, f.schema)
	}
	s := map[string]any{"type": "object", "description": doc, "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = anySlice(required)
	}
	return s
}

// SchemaID is the $id of the JSON Schema of the topology format.
const SchemaID = "https://github.com/netlab-go/netlab/schema/netlab.schema.json"

// Schema returns the JSON Schema (2020-12) of the topology format, as indented JSON.
// It says what the file's structure may be; the loader checks more (that a link's ends
// are declared interfaces, that addresses do not collide, ...), with positions.
func Schema() []byte {
	route := object("A route of the node's main table; at least one of via and dev.", routeFields, "to")
	route["anyOf"] = []any{map[string]any{"required": []any{"via"}}, map[string]any{"required": []any{"dev"}}}
	netns := object("An existing namespace, named one way.", netnsFields)
	netns["minProperties"], netns["maxProperties"] = 1, 1
	impairment := object("An impairment: a tbf for rate and burst, a netem for delay, jitter, loss and limit.", impairFieldTable)
	impairment["minProperties"] = 1
	s := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  SchemaID,
		"title":                "netlab topology",
		"description":          "A lab of network namespaces, links and what is in them, for netlab plan and apply.",
		"type":                 "object",
		"properties":           object("", topologyFields)["properties"],
		"additionalProperties": false,
		"required":             []any{"name", "nodes"},
		"$defs": map[string]any{
			"node":        object("A node: a namespace netlab makes, an existing one (netns), or the host.", nodeFields),
			"interface":   object("An interface of a node.", interfaceFields(false)),
			"bridge":      object("A Linux bridge of a node.", interfaceFields(true)),
			"macvlan":     object("A macvlan on a host interface.", macvlanFields, "parent"),
			"route":       route,
			"nat":         object("A MASQUERADE rule.", natFields, "masquerade"),
			"pair":        map[string]any{"type": "array", "items": endpointSchema, "minItems": 2, "maxItems": 2},
			"link":        object("The long form of a link.", linkFields, "endpoints"),
			"impairment":  impairment,
			"expectation": object("What netlab check proves from one node.", expectationFields, "from"),
			"netns":       netns,
			"machine":     object("A machine of the lab.", machineFields, "ssh", "underlay"),
		},
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic(err) // only maps, slices and scalars
	}
	return append(b, '\n')
}
