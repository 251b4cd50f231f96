package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Clash is an object in the kernel that the lab wants to create but does not own: a
// namespace, interface, address or route made by someone else.
type Clash struct {
	Object string // what the lab wants, as Action.Object renders it
	Found  string // what is in the kernel instead
	Fix    string // what to do about it
	// Refused is set when the kernel would refuse what the lab asks for (a value it
	// does not take, a namespace that is gone), rather than an object being in the way.
	Refused bool
}

// ClashError lists every clash found by Diff, sorted. Nothing may be applied while it
// stands: netlab never takes over or removes what it does not own.
type ClashError struct {
	Lab     string
	Clashes []Clash
}

func (e *ClashError) Error() string {
	var b strings.Builder
	refused := slices.ContainsFunc(e.Clashes, func(c Clash) bool { return c.Refused })
	if refused {
		fmt.Fprintf(&b, "lab %s: %d problem(s) found before any change; nothing was changed:", e.Lab, len(e.Clashes))
	} else {
		fmt.Fprintf(&b, "lab %s clashes with %d object(s) it does not own; nothing was changed:", e.Lab, len(e.Clashes))
	}
	for _, c := range e.Clashes {
		fmt.Fprintf(&b, "\n  %s: %s; %s", c.Object, c.Found, c.Fix)
	}
	return b.String()
}

// Diff returns the plan that takes the kernel from actual to desired for the lab.
//
// owned is what the lab has recorded as its own (the Sysctls of owned hold the values to
// restore). Diff creates what desired has and actual lacks, updates what differs, and
// deletes only what the lab owns and desired no longer has: an object is the lab's when
// it is in owned or, for a link, when it carries the lab's alias. Anything desired that
// exists but is not the lab's is a clash: Diff then returns a *ClashError and no plan.
func Diff(lab string, desired, actual, owned State) (Plan, error) {
	d := differ{lab: lab, desired: desired, actual: actual, owned: owned,
		nsCreated: map[NS]bool{}, nsDeleted: map[NS]bool{}, linkCreated: map[LinkKey]bool{},
		addrDeleted: map[AddrKey]bool{}, nsTakes: map[NS][]LinkKey{}}
	d.namespaces()
	d.attachments()
	d.links()
	d.mergeReplacements()
	d.noteTakenLinks()
	d.addrs()
	d.routes()
	d.sysctls()
	d.nat()
	d.files()
	if len(d.clashes) > 0 {
		slices.SortFunc(d.clashes, func(a, b Clash) int { return strings.Compare(a.Object, b.Object) })
		return Plan{}, &ClashError{Lab: lab, Clashes: d.clashes}
	}
	return Plan{Lab: lab, Actions: order(d.actions), Warnings: d.warnings}, nil
}

type differ struct {
	lab                    string
	desired, actual, owned State
	actions                []Action
	clashes                []Clash
	warnings               []string
	nsCreated, nsDeleted   map[NS]bool
	linkCreated            map[LinkKey]bool
	addrDeleted            map[AddrKey]bool
	nsTakes                map[NS][]LinkKey      // links elsewhere that go with a deleted namespace
	kept                   map[NS][]netip.Prefix // subnets that stay connected; see survives
	digests                digester              // of desired files
}

func (d *differ) add(a Action) {
	a.Lab = d.lab
	if a.Reason.Code == ReasonGone && d.desired.Empty() {
		a.Reason.Code = ReasonDestroy
	}
	d.actions = append(d.actions, a)
}

func (d *differ) clash(object, found, fix string) {
	d.clashes = append(d.clashes, Clash{Object: object, Found: found, Fix: fix})
}

// refuse reports what the lab asks for that the kernel would refuse.
func (d *differ) refuse(object, found, fix string) {
	d.clashes = append(d.clashes, Clash{Object: object, Found: found, Fix: fix, Refused: true})
}

// warn notes something the plan leaves alone that a person should know of.
func (d *differ) warn(format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf(format, args...))
}

// ownedNS reports whether ns is a namespace the lab made (and so may hold only the
// lab's objects).
func (d *differ) ownedNS(ns NS) bool { return ns != Host && d.owned.Namespaces[ns] }

func (d *differ) namespaces() {
	for _, ns := range sortedKeys(d.desired.Namespaces, compareNS) {
		entry, stray := d.actual.Entries[ns]
		switch {
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
	for _, ns := range sortedKeys(d.owned.Namespaces, compareNS) {
		if d.desired.Namespaces[ns] {
			continue
		}
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

// ownsLink reports whether the link in the kernel is the lab's: marked with its alias,
// or with the address the lab gives it at creation (LinkMAC: a run killed before it set
// the alias leaves that mark). A recorded link without either is not the lab's, whatever
// the record says: someone else's link of that name was made since.
func (d *differ) ownsLink(k LinkKey, have Link) bool {
	return have.Alias == Alias(d.lab) || have.MAC == LinkMAC(d.lab, k)
}

// primary returns the end of a veth pair from which the pair is created and deleted:
// the host's end when there is one, else the lesser key.
func primary(a, b LinkKey) LinkKey {
	if compareLinkKey(a, b) <= 0 {
		return a
	}
	return b
}

func (d *differ) links() {
	deleted := d.recreatedLinks()
	for _, k := range sortedKeys(d.desired.Links, compareLinkKey) {
		want := d.desired.Links[k]
		have, ok := d.actual.Links[k]
		ok = ok && !deleted[k]
		if want.Kind == Loopback {
			if ok && !d.nsCreated[k.NS] && have.Up != want.Up {
				d.add(Action{Kind: Update, Target: LinkObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
			}
			continue
		}
		if ok && !d.ownsLink(k, have) {
			d.clash("link "+k.String(), fmt.Sprintf("an interface %s (%s) that is not this lab's is already in %s", k.Name, have.Kind, k.NS),
				"rename or delete that interface, or rename it in the topology")
			continue
		}
		if ok {
			if want.Kind == Veth && k == primary(k, want.Peer) {
				if _, peerOK := d.actual.Links[want.Peer]; !peerOK || deleted[want.Peer] {
					// Half a pair: the peer was deleted or moved by hand, or it went with
					// its namespace (which this plan makes anew) while the kernel is still
					// taking this end away. Recreate the pair.
					deleted[k] = true
					d.linkCreated[k] = true
					d.add(Action{Kind: Replace, Target: d.linkObject(k, have), Reason: Reason{Code: ReasonPeerMissing, Detail: want.Peer.String()}})
					continue
				}
			}
			if want.Differs(have) {
				d.add(Action{Kind: Update, Target: LinkObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
			}
			continue
		}
		if d.linkCreated[k] || d.linkCreated[want.Peer] {
			d.linkCreated[k] = true
			continue
		}
		if want.Kind == Veth && k != primary(k, want.Peer) {
			if _, peerOK := d.actual.Links[want.Peer]; peerOK && !deleted[want.Peer] {
				// This end is missing but the primary end exists: the primary end's
				// turn deletes and recreates the pair.
				d.linkCreated[k] = true
				continue
			}
		}
		if _, parentOK := d.actual.Links[want.Parent]; want.Kind == Macvlan && !parentOK {
			d.clash("macvlan "+k.String(), "its parent "+want.Parent.String()+" is not in the kernel",
				"create "+want.Parent.Name+" in the host first, or name another parent")
			continue
		}
		p := k
		if want.Kind == Veth {
			p = primary(k, want.Peer)
		}
		d.linkCreated[k], d.linkCreated[p] = true, true
		_, recorded := d.owned.Links[k]
		reason := missingReason(recorded && !d.nsCreated[k.NS])
		if deleted[k] || want.Kind == Veth && deleted[want.Peer] {
			reason = Reason{Code: ReasonRecreated}
		}
		d.add(Action{Kind: Create, Target: d.linkObject(p, Link{}), Reason: reason})
	}
	// Links the lab owns and no longer wants. Deleting one end of a veth deletes the
	// other, and deleting a namespace deletes its links and their peers elsewhere. The
	// kernel does the latter asynchronously but in one batch, far faster than deleting
	// each end (each LinkDel waits for an RCU grace period); the reconciler waits for
	// those peers to be gone before it reports success.
	for _, k := range sortedKeys(d.actual.Links, compareLinkKey) {
		have := d.actual.Links[k]
		if _, want := d.desired.Links[k]; want || have.Kind == Loopback || !d.ownsLink(k, have) {
			continue
		}
		if d.nsDeleted[k.NS] || deleted[k] {
			continue
		}
		peer := d.owned.Links[k].Peer
		if d.nsDeleted[peer.NS] {
			d.nsTakes[peer.NS] = append(d.nsTakes[peer.NS], k)
			continue
		}
		if deleted[peer] {
			continue
		}
		deleted[k] = true
		have.Peer = peer
		d.add(Action{Kind: Delete, Target: LinkObject{Key: k, Before: have}, Reason: Reason{Code: ReasonGone}})
	}
}

// linkObject is the link k as desired, with before its state in the kernel (zero for a
// creation) and, for a veth, its peer's desired state.
func (d *differ) linkObject(k LinkKey, before Link) LinkObject {
	o := LinkObject{Key: k, Before: before, After: d.desired.Links[k]}
	if o.After.Kind == Veth {
		o.PeerEnd = d.desired.Links[o.After.Peer]
	}
	return o
}

// mergeReplacements makes one Replace of the deletion of a link that cannot be changed
// in place (recreatedLinks) and the creation of its new self under the same key. They
// stay two actions when the old link's peer is made anew by another action of the
// plan: that one must wait for the deletion, which all come first.
func (d *differ) mergeReplacements() {
	type creation struct {
		i int
		o LinkObject
	}
	creates := map[LinkKey]creation{}
	made := map[LinkKey]int{} // the ends each creation makes
	for i, a := range d.actions {
		if o, ok := a.Target.(LinkObject); ok && a.Kind == Create {
			creates[o.Key] = creation{i, o}
			for _, e := range o.ends(Create) {
				made[e] = i
			}
		}
	}
	merged := map[int]bool{}
	for i, a := range d.actions {
		del, ok := a.Target.(LinkObject)
		if !ok || a.Kind != Delete || a.Reason.Code != ReasonReplace {
			continue
		}
		c, ok := creates[del.Key]
		if !ok {
			continue
		}
		if peer := del.Before.Peer; peer.NS != "" {
			if m, ok := made[peer]; ok && m != c.i {
				continue
			}
		}
		c.o.Before = del.Before
		d.actions[i] = Action{Kind: Replace, Target: c.o, Reason: a.Reason, Lab: a.Lab}
		merged[c.i] = true
	}
	kept := d.actions[:0]
	for i, a := range d.actions {
		if !merged[i] {
			kept = append(kept, a)
		}
	}
	d.actions = kept
}

// recreatedLinks deletes the links of the lab that must be made anew rather than
// changed: another kind under the same name (a veth end that becomes a bridge), a
// macvlan in another mode, a veth end paired with another end than before. Deleting a
// veth end deletes its old peer with it. It returns every link so deleted, for links()
// to treat as absent.
func (d *differ) recreatedLinks() map[LinkKey]bool {
	deleted := map[LinkKey]bool{}
	for _, k := range sortedKeys(d.desired.Links, compareLinkKey) {
		want := d.desired.Links[k]
		have, ok := d.actual.Links[k]
		if !ok || deleted[k] || want.Kind == Loopback || !d.ownsLink(k, have) {
			continue
		}
		old := d.owned.Links[k]
		var why string
		switch {
		case have.Kind != want.Kind:
			why = fmt.Sprintf("it is a %s and must be a %s", have.Kind, want.Kind)
		case want.Kind == Macvlan && have.Mode != "" && have.Mode != want.Mode:
			why = fmt.Sprintf("its macvlan mode is %s and must be %s", have.Mode, want.Mode)
		case want.Kind == Veth && old.Kind == Veth && old.Peer != (LinkKey{}) && old.Peer != want.Peer:
			why = fmt.Sprintf("its peer is %s and must be %s", old.Peer, want.Peer)
		default:
			continue
		}
		deleted[k] = true
		if have.Kind == Veth && old.Kind == Veth {
			have.Peer = old.Peer
			deleted[old.Peer] = true // the kernel deletes it with k
		}
		d.add(Action{Kind: Delete, Target: LinkObject{Key: k, Before: have}, Reason: Reason{Code: ReasonReplace, Detail: why}})
	}
	return deleted
}

// linkFresh reports whether the link is created by this plan (so has no address yet).
func (d *differ) linkFresh(k LinkKey) bool { return d.linkCreated[k] || d.nsCreated[k.NS] }

func (d *differ) addrs() {
	// Addresses in the kernel by namespace and IP, to find one that sits on another
	// interface already.
	type nsIP struct {
		ns NS
		ip netip.Addr
	}
	where := make(map[nsIP]AddrKey, len(d.actual.Addrs))
	for k := range d.actual.Addrs {
		// Two interfaces with one IP: keep the lesser, so the clash names one for sure.
		if other, ok := where[nsIP{k.Link.NS, k.Prefix.Addr()}]; !ok || compareAddrKey(k, other) < 0 {
			where[nsIP{k.Link.NS, k.Prefix.Addr()}] = k
		}
	}
	for _, k := range sortedKeys(d.desired.Addrs, compareAddrKey) {
		if d.actual.Addrs[k] && !d.linkFresh(k.Link) {
			continue
		}
		if other, ok := where[nsIP{k.Link.NS, k.Prefix.Addr()}]; ok && other != k && !d.nsCreated[k.Link.NS] {
			leaving := d.owned.Addrs[other] && !d.desired.Addrs[other]
			if !leaving {
				d.clash("address "+k.String(), "the address is already on "+other.Link.String()+" as "+other.Prefix.String(),
					"remove it there (ip addr del "+other.Prefix.String()+" dev "+other.Link.Name+") or choose another address")
				continue
			}
		}
		d.add(Action{Kind: Create, Target: AddrObject{k}, Reason: missingReason(d.owned.Addrs[k] && !d.linkFresh(k.Link))})
	}
	for _, k := range sortedKeys(d.owned.Addrs, compareAddrKey) {
		if d.desired.Addrs[k] || !d.actual.Addrs[k] || d.nsDeleted[k.Link.NS] {
			continue
		}
		if l, ok := d.actual.Links[k.Link]; ok && d.ownsLink(k.Link, l) {
			if _, want := d.desired.Links[k.Link]; !want {
				continue // goes with its link
			}
		}
		d.addrDeleted[k] = true
		d.add(Action{Kind: Delete, Target: AddrObject{k}, Reason: Reason{Code: ReasonGone}})
	}
}

// survives reports whether the gateway stays reachable through an address that this
// plan neither deletes nor moves to a recreated link. The kernel drops a route when the
// last address whose subnet holds its gateway goes, so such a route must be added again.
func (d *differ) survives(ns NS, via netip.Addr) bool {
	if d.kept == nil {
		d.kept = map[NS][]netip.Prefix{}
		for k := range d.actual.Addrs {
			if d.linkCreated[k.Link] || d.addrDeleted[k] {
				continue
			}
			if _, linkKept := d.desired.Links[k.Link]; linkKept || !d.ownsLink(k.Link, d.actual.Links[k.Link]) {
				d.kept[k.Link.NS] = append(d.kept[k.Link.NS], k.Prefix.Masked())
			}
		}
	}
	for _, p := range d.kept[ns] {
		if p.Contains(via) {
			return true
		}
	}
	return false
}

func (d *differ) routes() {
	for _, k := range sortedKeys(d.desired.Routes, compareRouteKey) {
		want := d.desired.Routes[k]
		have, ok := d.actual.Routes[k]
		_, owned := d.owned.Routes[k]
		switch {
		case !ok || d.nsCreated[k.NS]:
			d.add(Action{Kind: Create, Target: RouteObject{Key: k, After: want}, Reason: missingReason(owned && !d.nsCreated[k.NS])})
		case !want.Differs(have) && want.Via.IsValid() && !d.survives(k.NS, have.Via):
			d.add(Action{Kind: Create, Target: RouteObject{Key: k, After: want}, Reason: Reason{Code: ReasonGatewayDropped}})
		case !owned && !d.ownedNS(k.NS):
			d.clash("route "+k.String(), "a route to "+RouteDest(k.To)+" "+have.String()+" that is not this lab's is already there",
				"delete it (ip route del "+RouteDest(k.To)+") or route another destination")
		case want.Differs(have):
			d.add(Action{Kind: Update, Target: RouteObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
		}
	}
	for _, k := range sortedKeys(d.owned.Routes, compareRouteKey) {
		if _, want := d.desired.Routes[k]; want || d.nsDeleted[k.NS] {
			continue
		}
		if have, ok := d.actual.Routes[k]; ok {
			d.add(Action{Kind: Delete, Target: RouteObject{Key: k, Before: have}, Reason: Reason{Code: ReasonGone}})
		}
	}
}

func (d *differ) sysctls() {
	for _, k := range sortedKeys(d.desired.Sysctls, compareSysctlKey) {
		want := d.desired.Sysctls[k]
		have, ok := d.actual.Sysctls[k]
		if problem := d.sysctlProblem(k, want, have, ok); problem != "" {
			d.refuse("sysctl "+k.String(), problem, "correct it in the topology")
			continue
		}
		if d.nsCreated[k.NS] {
			have, ok = "", false
		}
		if !ok || have != want {
			d.add(Action{Kind: Update, Target: SysctlObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
		}
	}
	for _, k := range sortedKeys(d.owned.Sysctls, compareSysctlKey) {
		if _, want := d.desired.Sysctls[k]; want || d.nsDeleted[k.NS] || d.ownedNS(k.NS) && !d.actual.Namespaces[k.NS] {
			continue
		}
		orig := d.owned.Sysctls[k]
		if have, ok := d.actual.Sysctls[k]; ok && have != orig {
			d.add(Action{Kind: Update, Target: SysctlObject{Key: k, Before: have, After: orig}, Reason: Reason{Code: ReasonRestore}})
		}
	}
}

// sysctlProblem says why the kernel would refuse to set the sysctl k to want, or "":
// it is of an interface that is neither in the kernel nor made by the lab, or the value
// is not of the shape of the one the kernel has (have, when seen): as many whole numbers
// as it has, each within 64 bits.
func (d *differ) sysctlProblem(k SysctlKey, want, have string, seen bool) string {
	if iface, ok := SysctlInterface(k.Name); ok && iface != "all" && iface != "default" && iface != "lo" {
		key := LinkKey{NS: k.NS, Name: iface}
		_, desired := d.desired.Links[key]
		if _, there := d.actual.Links[key]; !desired && !there && !d.nsCreated[k.NS] {
			return "it is of interface " + iface + ", which node " + string(k.NS) + " neither has nor gets from the lab"
		}
	}
	if !seen {
		return ""
	}
	haveFields, wantFields := strings.Fields(have), strings.Fields(want)
	if len(haveFields) == 0 || !allIntegers(haveFields) {
		return "" // a word, such as a congestion control algorithm: the kernel judges it
	}
	if len(wantFields) != len(haveFields) || !allIntegers(wantFields) {
		return fmt.Sprintf("the kernel takes %d whole number(s) there (it has %q), not %q", len(haveFields), have, want)
	}
	return ""
}

func allIntegers(fields []string) bool {
	for _, f := range fields {
		if _, err := strconv.ParseInt(f, 10, 64); err != nil {
			return false
		}
	}
	return true
}

func (d *differ) nat() {
	for _, r := range sortedKeys(d.desired.NAT, compareNATRule) {
		if !d.actual.NAT[r] || d.nsCreated[r.NS] {
			d.add(Action{Kind: Create, Target: NATObject{r}, Reason: missingReason(d.owned.NAT[r] && !d.nsCreated[r.NS])})
		}
	}
	// Every rule observed carries the lab's comment, so every one is the lab's.
	for _, r := range sortedKeys(d.actual.NAT, compareNATRule) {
		if !d.desired.NAT[r] && !d.nsDeleted[r.NS] {
			d.add(Action{Kind: Delete, Target: NATObject{r}, Reason: Reason{Code: ReasonGone}})
		}
	}
}

// files writes the lab's files under /etc/netns. They are not in the namespace, so they
// are dealt with even when the namespace is created or deleted whole. A directory that
// exists is used as it is and removed only when the lab made it and it holds nothing but
// files this plan removes.
func (d *differ) files() {
	// The lab's shared files come first (they have no namespace, and compareFileKey puts
	// "" first): a node's hosts file that is a link to one is relinked when this plan
	// writes the shared file anew (a new file: links keep the old one).
	written := map[string]bool{}
	for _, k := range sortedKeys(d.desired.Files, compareFileKey) {
		want := d.desired.Files[k]
		have, ok := d.actual.Files[k]
		_, owned := d.owned.Files[k]
		if target, link := LinkTarget(want); link && ok && have != FileForeign {
			switch {
			case have == want && !written[target]:
				continue
			case have == want || owned: // a link to the old shared file, or the lab's file replaced
				d.add(Action{Kind: Update, Target: FileObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
				continue
			} // someone else's file: a clash, below
		}
		if k.Shared() && (!ok || have != d.digests.of(want)) {
			written[k.Path()] = true
		}
		switch {
		case !ok:
			d.add(Action{Kind: Create, Target: FileObject{Key: k, After: want}, Reason: missingReason(owned)})
		case have == FileForeign:
			d.clash("file "+k.Path(), k.Path()+" exists and is not a plain "+map[bool]string{true: "directory", false: "file"}[k.IsDir()]+
				" (a symbolic link?)", "remove it (rm "+k.Path()+") or rename the node")
		case k.IsDir():
		case !owned:
			d.clash("file "+k.Path(), k.Path()+" exists and was not written by this lab",
				"remove it (rm "+k.Path()+") or rename the node")
		case have != d.digests.of(want):
			d.add(Action{Kind: Update, Target: FileObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
		}
	}
	for _, k := range sortedKeys(d.owned.Files, compareFileKey) {
		_, want := d.desired.Files[k]
		have, ok := d.actual.Files[k]
		switch {
		case want || !ok:
		case have == FileForeign:
			d.warn("%s is no longer the lab's (a symbolic link, or not written by netlab): left as it is", k.Path())
		case !k.IsDir() || d.onlyLeavingFiles(k.NS, have):
			d.add(Action{Kind: Delete, Target: FileObject{Key: k, Before: have}, Reason: Reason{Code: ReasonGone}})
		}
	}
}

// onlyLeavingFiles reports whether every name in the directory listing is a file of the
// lab's in ns that it no longer wants, or the temporary file of one (see TempName).
func (d *differ) onlyLeavingFiles(ns NS, listing string) bool {
	for _, name := range strings.Fields(listing) {
		k := FileKey{NS: ns, Name: name}
		if base, ok := strings.CutSuffix(name, ".netlab-new"); ok && strings.HasPrefix(base, ".") {
			k.Name = base[1:] // the temporary file of base (TempName)
		}
		if _, owned := d.owned.Files[k]; !owned {
			return false
		}
		if _, want := d.desired.Files[k]; want {
			return false
		}
	}
	return true
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
