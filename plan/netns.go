package plan

import "cmp"

// NS names a network namespace as a lab node does: Host is the namespace netlab runs in,
// any other value is the file name under /run/netns.
type NS string

// Host is the namespace netlab itself runs in (the node named host).
const Host NS = "host"

// compareNS orders namespaces with Host first, then by name, so that rendered plans list
// the host's objects before those of the namespaces.
func compareNS(a, b NS) int {
	switch {
	case a == b:
		return 0
	case a == Host:
		return -1
	case b == Host:
		return 1
	}
	return cmp.Compare(a, b)
}

// NetnsDir is where `ip netns` keeps the files of named namespaces: a lab's nodes, and
// the entries it makes for existing namespaces, are NetnsDir/NODE.
const NetnsDir = "/run/netns"

// NetnsObject is a namespace the lab makes: `ip netns add NS`, with its lo up.
type NetnsObject struct{ NS NS }

// Type is TypeNetns.
func (NetnsObject) Type() ObjectType { return TypeNetns }

func (NetnsObject) marks(string) [][]string { return nil } // recorded only when adopted

func (o NetnsObject) name() string                    { return string(o.NS) }
func (o NetnsObject) describe(Kind) string            { return "netns " + string(o.NS) }
func (o NetnsObject) namespaces(Kind) []NS            { return []NS{o.NS} }
func (NetnsObject) change() string                    { return "" }
func (NetnsObject) input(Kind) string                 { return "" }
func (NetnsObject) phase(Kind) int                    { return phaseNetns }
func (o NetnsObject) jsonKey() any                    { return jsonNS(o) }
func (NetnsObject) jsonValues() (any, any)            { return nil, nil }
func (o NetnsObject) apply(k Applier, a Action) error { return k.ApplyNetns(a, o) }

func (o NetnsObject) commands(k Kind, _ string) [][]string {
	if k == Delete {
		return [][]string{{"ip", "netns", "del", string(o.NS)}}
	}
	return [][]string{{"ip", "netns", "add", string(o.NS)}, ipIn(o.NS, "link", "set", "lo", "up")}
}

// compare orders namespaces and the entries of existing ones together, by name.
func (o NetnsObject) compare(other Object) int {
	if e, ok := other.(AttachObject); ok {
		return compareNS(o.NS, e.NS)
	}
	return compareAs(o, other, func(a, b NetnsObject) int { return compareNS(a.NS, b.NS) })
}

// dependOn: a namespace's deletion waits for everything else in it; its creation is
// what everything in it waits for.
func (o NetnsObject) dependOn(x *depIndex, i int, k Kind) []int {
	if k == Delete {
		return x.touching[o.NS]
	}
	x.nsCreate[o.NS] = i
	return nil
}

// own records the namespace, and its lo as desired: making a namespace brings its lo up.
func (o NetnsObject) own(owned, desired State, _ Kind) {
	owned.Namespaces[o.NS] = true
	lo := LinkKey{NS: o.NS, Name: "lo"}
	if l, ok := desired.Links[lo]; ok {
		owned.Links[lo] = l
	}
}

// jsonNS is the JSON key of an object named by its namespace alone.
type jsonNS struct {
	NS NS `json:"ns"`
}

func (d *differ) namespaces() {
	for _, ns := range sortedKeys(d.desired.Namespaces, compareNS) {
		entry, stray := d.actual.Entries[ns]
		switch {
		case d.actual.Namespaces[ns] && !d.owned.Namespaces[ns] && d.adopt:
			d.adopted(NetnsObject{ns})
		case d.actual.Namespaces[ns] && !d.owned.Namespaces[ns]:
			d.clash("netns "+string(ns), NetnsDir+"/"+string(ns)+" exists and was not made by this lab",
				"delete it (ip netns del "+string(ns)+") or rename the node")
		case d.actual.Namespaces[ns]:
		case stray && !(entry == EntryEmpty && d.owned.Namespaces[ns]):
			d.clashEntry("netns "+string(ns), ns, entry)
		default:
			// Absent, or the empty mount point a killed run of this lab left: made anew.
			d.nsCreated[ns] = true
			d.add(Action{Kind: Create, Target: NetnsObject{ns}, Reason: missingReason(d.owned.Namespaces[ns])})
		}
	}
	for _, ns := range sortedKeysBut(d.owned.Namespaces, compareNS, hasKey(d.desired.Namespaces)) {
		switch entry, stray := d.actual.Entries[ns]; {
		case d.actual.Namespaces[ns]:
			d.nsDeleted[ns] = true
			d.add(Action{Kind: Delete, Target: NetnsObject{ns}, Reason: Reason{Code: ReasonGone}})
		case stray && entry == EntryEmpty:
			d.add(Action{Kind: Delete, Target: NetnsObject{ns}, Reason: Reason{Code: ReasonEmptyMountPoint}})
		case stray:
			d.warn("%s/%s is %s now, not the lab's namespace: left as it is", NetnsDir, ns, entry)
		}
	}
}

// clashEntry reports a file at NetnsDir/ns that is not a namespace and not the lab's.
func (d *differ) clashEntry(object string, ns NS, entry Entry) {
	path := NetnsDir + "/" + string(ns)
	d.clash(object, path+" exists and is "+string(entry)+", not a namespace this lab made",
		"remove it (rm "+path+") or rename the node")
}

// noteTakenLinks adds to each namespace deletion's reason the links in other
// namespaces that go with it, so the plan still shows them.
func (d *differ) noteTakenLinks() {
	for i, a := range d.actions {
		if n, ok := a.Target.(NetnsObject); ok && a.Kind == Delete {
			d.actions[i].Reason.Takes = d.nsTakes[n.NS]
		}
	}
}
