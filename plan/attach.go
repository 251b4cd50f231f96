package plan

import "strings"

// AttachedElsewhere is what Observe reports for an entry that exists but holds another
// namespace than the one desired.
const AttachedElsewhere = "(another namespace)"

// AttachedSourceGone is what Observe reports for an entry that holds a namespace whose
// source file no longer exists (the process of /proc/PID/ns/net has exited).
const AttachedSourceGone = "(source gone)"

// AttachObject is the entry /run/netns/NODE that makes an existing namespace (a
// container's, say) visible as a lab node: a bind mount of the namespace file Before
// (what the entry held) or After (what it is to hold), as `ip netns attach` makes it.
// netlab makes and removes the entry, never the namespace.
type AttachObject struct {
	NS            NS
	Before, After string
}

// Type is TypeAttach.
func (AttachObject) Type() ObjectType { return TypeAttach }

func (o AttachObject) name() string         { return string(o.NS) }
func (o AttachObject) namespaces(Kind) []NS { return []NS{o.NS} }
func (AttachObject) change() string         { return "rebound" }
func (AttachObject) input(Kind) string      { return "" }
func (AttachObject) phase(Kind) int         { return phaseNetns }
func (o AttachObject) jsonKey() any         { return jsonNS{NS: o.NS} }
func (o AttachObject) jsonValues() (any, any) {
	return jsonString(o.Before), jsonString(o.After)
}
func (o AttachObject) apply(k Applier, a Action) error { return k.ApplyAttach(a, o) }

func (o AttachObject) describe(k Kind) string {
	src := o.After
	if k == Delete {
		src = o.Before
	}
	return "netns entry " + string(o.NS) + " for " + src
}

func (o AttachObject) commands(k Kind, _ string) [][]string {
	path := NetnsDir + "/" + string(o.NS)
	pid, inProc := strings.CutPrefix(o.After, "/proc/")
	pid, isNetns := strings.CutSuffix(pid, "/ns/net")
	switch {
	case k == Delete:
		return [][]string{{"umount", path}, {"rm", path}}
	case k == Update:
		return [][]string{{"umount", path}, {"mount", "--bind", o.After, path}}
	case inProc && isNetns:
		return [][]string{{"ip", "netns", "attach", string(o.NS), pid}} // the same bind mount
	}
	return [][]string{{"touch", path}, {"mount", "--bind", o.After, path}}
}

// compare orders the entries with the namespaces, by name.
func (o AttachObject) compare(other Object) int {
	if n, ok := other.(NetnsObject); ok {
		return compareNS(o.NS, n.NS)
	}
	return compareAs(o, other, func(a, b AttachObject) int { return compareNS(a.NS, b.NS) })
}

// dependOn: anything in an existing namespace waits for its entry, which is removed
// after everything else in it.
func (o AttachObject) dependOn(x *depIndex, i int, k Kind) []int {
	if k == Delete {
		return x.touching[o.NS]
	}
	x.nsCreate[o.NS] = i
	return nil
}

func (o AttachObject) own(owned, _ State, _ Kind) { owned.Attached[o.NS] = o.After }

// jsonString is a string value as the JSON plan gives it: absent when empty.
func jsonString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
