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

func (AttachObject) marks(string) [][]string { return nil } // recorded only when adopted

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

// attachments makes the /run/netns entries of existing namespaces. The namespace is
// never the lab's: only the entry is, and destroy removes just that, after everything
// the lab added inside.
func (d *differ) attachments() {
	for _, ns := range sortedKeys(d.desired.Attached, compareNS) {
		want := d.desired.Attached[ns]
		have, ok := d.actual.Attached[ns]
		_, owned := d.owned.Attached[ns]
		entry := NetnsDir + "/" + string(ns)
		stray, isStray := d.actual.Entries[ns]
		switch {
		case want == entry:
			if !ok {
				d.clash("netns "+string(ns), entry+" does not exist", "create the namespace first, or name it otherwise (netns: {pid: PID})")
			}
		case d.actual.SourceGone[ns] || have == AttachedSourceGone:
			d.refuse("netns "+string(ns), "the namespace "+want+" does not exist (has its process exited?)",
				"start the container again and give its new pid, or correct netns: in the topology")
		case isStray && !(stray == EntryEmpty && owned):
			d.clashEntry("netns entry "+string(ns), ns, stray)
		case !ok:
			d.add(Action{Kind: Create, Target: AttachObject{NS: ns, After: want}, Reason: missingReason(owned)})
		case have == want:
		case !owned:
			d.clash("netns entry "+string(ns), entry+" exists and holds another namespace than "+want,
				"remove that entry (ip netns del "+string(ns)+") or rename the node")
		default:
			d.add(Action{Kind: Update, Target: AttachObject{NS: ns, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
		}
	}
	for _, ns := range sortedKeys(d.owned.Attached, compareNS) {
		if _, want := d.desired.Attached[ns]; want {
			continue
		}
		stray, isStray := d.actual.Entries[ns]
		switch _, ok := d.actual.Attached[ns]; {
		case ok, isStray && stray == EntryEmpty:
			d.add(Action{Kind: Delete, Target: AttachObject{NS: ns, Before: d.owned.Attached[ns]}, Reason: Reason{Code: ReasonGone}})
		case isStray:
			d.warn("%s/%s is %s now, not the lab's entry: left as it is", NetnsDir, ns, stray)
		case d.actual.SourceGone[ns]:
			d.warn("the namespace of node %s (%s) is gone, and with it what the lab had made in it: dropped from the record",
				ns, d.owned.Attached[ns])
		}
	}
}
