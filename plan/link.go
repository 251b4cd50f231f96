package plan

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// LinkKind is the type of a network interface, as the kernel names it.
type LinkKind string

const (
	// Veth is one end of a veth pair.
	Veth LinkKind = "veth"
	// Loopback is a namespace's lo; netlab never creates or deletes it, only brings it up.
	Loopback LinkKind = "loopback"
	// Bridge is a Linux bridge.
	Bridge LinkKind = "bridge"
	// Macvlan is a macvlan on a parent interface of the host.
	Macvlan LinkKind = "macvlan"
	// Vxlan is the end of a link between two machines: made in the host with the
	// other machine as its remote, and moved into the node.
	Vxlan LinkKind = "vxlan"
)

// LinkKey identifies an interface: its namespace and its name.
type LinkKey struct {
	NS   NS
	Name string
}

// String renders the key as the topology writes a link endpoint: "node:iface".
func (k LinkKey) String() string { return string(k.NS) + ":" + k.Name }

// MarshalText writes the key as String does; the zero key as "".
func (k LinkKey) MarshalText() ([]byte, error) {
	if k == (LinkKey{}) {
		return nil, nil
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads a key written by MarshalText.
func (k *LinkKey) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*k = LinkKey{}
		return nil
	}
	ns, name, ok := strings.Cut(string(b), ":")
	if !ok {
		return fmt.Errorf("interface %q is not NODE:NAME", b)
	}
	*k = LinkKey{NS: NS(ns), Name: name}
	return nil
}

func compareLinkKey(a, b LinkKey) int {
	return cmp.Or(compareNS(a.NS, b.NS), cmp.Compare(a.Name, b.Name))
}

// Link is the state of one interface, and its JSON form: in a plan's before and after,
// and, with its key, in a State. Peer, Parent and Mode are known in a desired State and
// left zero by observation; the attributes netlab sets on every link (alias, MTU,
// master, up, ...) are the fields of LinkAttrs.
type Link struct {
	Kind LinkKind `json:"kind"`
	// Peer is the other end of a veth.
	Peer LinkKey `json:"peer,omitzero"`
	// Alias is the interface alias: the lab's mark (Alias).
	Alias string `json:"alias"`
	Up    bool   `json:"up"`
	// MTU is the link's MTU; 0 in a desired State leaves it to the kernel.
	MTU int `json:"mtu,omitempty"`
	// TxQueueLen is the length of the link's transmit queue, in packets; 0 in a desired
	// State leaves it to the kernel (1000 for a veth).
	TxQueueLen int `json:"txqueuelen,omitempty"`
	// Master is the bridge (in the same namespace) the link is a port of, or "".
	Master string `json:"master,omitempty"`
	// Parent is the host interface a macvlan sits on, Mode its macvlan mode.
	Parent LinkKey `json:"parent,omitzero"`
	Mode   string  `json:"mode,omitempty"`
	// VNI, Local, Remote and Port are a VXLAN end's: its id, its machine's and the other
	// machine's underlay addresses, and its UDP port.
	VNI    int        `json:"vni,omitempty"`
	Local  netip.Addr `json:"local,omitzero"`
	Remote netip.Addr `json:"remote,omitzero"`
	Port   int        `json:"port,omitempty"`
	// Flood, for a VXLAN port of a bridge segment across machines (no Remote), is the
	// underlay of every other machine of the segment, sorted: a static all-zeros FDB
	// entry to each (`bridge fdb append 00:00:00:00:00:00 ... dst R`) sends the
	// segment's broadcast and unknown frames to all of them (head-end replication).
	Flood []netip.Addr `json:"flood,omitempty"`
	// MAC is the link's address, observed only: a link whose MAC is LinkMAC of the lab
	// is the lab's, as one with the lab's alias is (see LinkMAC).
	MAC MAC `json:"-"`
}

// LinkAttr is one attribute that netlab sets on a link and compares with the kernel's:
// an entry of LinkAttrs. Everything about an attribute but the kernel calls (in
// reconcile) and its Link field is here.
type LinkAttr struct {
	// Name is the attribute's name in the topology (when Parse is set) and in `ip link`.
	Name string
	// Differs reports whether the kernel's link have differs from the desired want in
	// this attribute. A link the kernel has just made is the zero Link.
	Differs func(want, have Link) bool
	// Words are the `ip link set` words that give a link l's value.
	Words func(l Link) []string
	// Change describes the change for people: "mtu 1500 -> 9000".
	Change func(before, after Link) string
	// Copy sets the attribute of dst to that of src.
	Copy func(dst *Link, src Link)
	// Parse, for an attribute a topology sets on an interface, reads its YAML value into
	// l, or returns a hint of what to write instead; Doc says what it is, and Schema is
	// the JSON Schema of its value, for the topology's schema.
	Parse  func(value string, l *Link) (hint string)
	Doc    string
	Schema map[string]any
}

// LinkAttrs are the attributes netlab manages on every link, in the order `ip link set`
// takes them. A new attribute is one entry here, one field of Link and one entry of
// reconcile's table of how netlink sets and reads it.
var LinkAttrs = []LinkAttr{
	{
		Name:    "alias",
		Differs: func(want, have Link) bool { return have.Alias != want.Alias },
		Words:   func(l Link) []string { return []string{"alias", l.Alias} },
		Change:  func(b, a Link) string { return fmt.Sprintf("alias %q -> %q", b.Alias, a.Alias) },
		Copy:    func(dst *Link, src Link) { dst.Alias = src.Alias },
	},
	intSetting("mtu", "The interface's MTU; on a link end, both ends of the veth get it. Unset: the kernel's (1500).",
		68, 65535, 9000, func(l *Link) *int { return &l.MTU }),
	intSetting("txqueuelen", "The length of the interface's transmit queue, in packets; on a link end, that end only. Unset: the kernel's.",
		1, 1<<20, 500, func(l *Link) *int { return &l.TxQueueLen }),
	{
		Name:    "master",
		Differs: func(want, have Link) bool { return have.Master != want.Master },
		Words: func(l Link) []string {
			if l.Master == "" {
				return []string{"nomaster"}
			}
			return []string{"master", l.Master}
		},
		Change: func(b, a Link) string { return fmt.Sprintf("master %q -> %q", b.Master, a.Master) },
		Copy:   func(dst *Link, src Link) { dst.Master = src.Master },
	},
	{
		Name:    "up",
		Differs: func(want, have Link) bool { return have.Up != want.Up },
		Words:   func(l Link) []string { return []string{upString(l.Up)} },
		Change:  func(b, a Link) string { return upString(b.Up) + " -> " + upString(a.Up) },
		Copy:    func(dst *Link, src Link) { dst.Up = src.Up },
	},
}

// intSetting is a whole-number attribute that a topology sets on an interface, from
// least to most (example is one for the hint), held in the field of a Link that field
// points to; 0 leaves it to the kernel, and so never differs.
func intSetting(name, doc string, least, most, example int, field func(l *Link) *int) LinkAttr {
	get := func(l Link) int { return *field(&l) }
	return LinkAttr{
		Name:    name,
		Differs: func(want, have Link) bool { return get(want) != 0 && get(have) != get(want) },
		Words:   func(l Link) []string { return []string{name, strconv.Itoa(get(l))} },
		Change:  func(b, a Link) string { return fmt.Sprintf("%s %d -> %d", name, get(b), get(a)) },
		Copy:    func(dst *Link, src Link) { *field(dst) = cmp.Or(get(src), *field(dst)) },
		Parse: func(v string, l *Link) string {
			n, err := strconv.Atoi(v)
			if err != nil || n < least || n > most {
				return fmt.Sprintf("write a number from %d to %d, like `%s: %d`", least, most, name, example)
			}
			*field(l) = n
			return ""
		},
		Doc:    doc,
		Schema: map[string]any{"type": "integer", "minimum": least, "maximum": most},
	}
}

// LinkSetting returns the attribute a topology sets on an interface under the YAML key
// name.
func LinkSetting(name string) (LinkAttr, bool) {
	for _, at := range LinkAttrs {
		if at.Name == name && at.Parse != nil {
			return at, true
		}
	}
	return LinkAttr{}, false
}

// WithSettings returns l with the attributes a topology sets (those with a Parse) taken
// from settings where settings sets them.
func (l Link) WithSettings(settings Link) Link {
	for _, at := range LinkAttrs {
		if at.Parse != nil && at.Differs(settings, Link{}) {
			at.Copy(&l, settings)
		}
	}
	return l
}

// Differs reports whether the observed link have differs from the desired link want in
// an attribute netlab manages (LinkAttrs).
func (want Link) Differs(have Link) bool { return len(want.differing(have)) > 0 }

// differing returns the attributes in which have differs from want.
func (want Link) differing(have Link) []LinkAttr {
	var ats []LinkAttr
	for _, at := range LinkAttrs {
		if at.Differs(want, have) {
			ats = append(ats, at)
		}
	}
	return ats
}

// setWords are the `ip link set` words that take have to want.
func (want Link) setWords(have Link) []string {
	var words []string
	for _, at := range want.differing(have) {
		words = append(words, at.Words(want)...)
	}
	return words
}

// MAC is an Ethernet address.
type MAC [6]byte

// String writes the address as ip does: 02:4e:...
func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// LinkMAC is the address netlab gives the link k of the lab when it creates it: a
// locally administered unicast address taken from a hash of the lab and the key. It is
// the lab's mark from the first moment, as the kernel takes it in the message that
// creates the link, where it ignores an alias (set right after): a run killed between
// the two leaves a link the next run still knows as its own. Two machines running one
// lab never bring up the same address either.
func LinkMAC(lab string, k LinkKey) MAC {
	sum := sha256.Sum256([]byte("netlab-mac\x00" + lab + "\x00" + string(k.NS) + "\x00" + k.Name))
	var m MAC
	copy(m[:], sum[:6])
	m[0] = m[0]&^0x01 | 0x02 // unicast, locally administered
	return m
}

// LinkObject is an interface: a veth pair (made from its primary end, Key), a bridge, a
// macvlan, or a namespace's lo (only ever brought up).
type LinkObject struct {
	Key           LinkKey
	Before, After Link
	// PeerEnd is, for the creation of a veth pair, the desired state of the other end.
	PeerEnd Link
}

// Type is TypeLink.
func (LinkObject) Type() ObjectType { return TypeLink }

// marks set the lab's alias on a link adopted: an update of it in place.
func (o LinkObject) marks(lab string) [][]string { return o.commands(Update, lab) }

func (o LinkObject) name() string                    { return o.Key.String() }
func (LinkObject) input(Kind) string                 { return "" }
func (o LinkObject) jsonKey() any                    { return jsonNSName{NS: o.Key.NS, Name: o.Key.Name} }
func (o LinkObject) apply(k Applier, a Action) error { return k.ApplyLink(a, o) }

// jsonValues are the links themselves (see Link), absent when zero.
func (o LinkObject) jsonValues() (any, any) {
	var before, after any
	if o.Before.Kind != "" {
		before = o.Before
	}
	if o.After.Kind != "" {
		after = o.After
	}
	return before, after
}

// value is the link an action of kind k is about: the one it removes for a Delete,
// else the one it makes or changes to.
func (o LinkObject) value(k Kind) Link {
	if k == Delete || o.After.Kind == "" {
		return o.Before
	}
	return o.After
}

func (o LinkObject) describe(k Kind) string {
	if k == Create {
		switch l := o.After; l.Kind {
		case Veth:
			return "veth " + o.Key.String() + " <-> " + l.Peer.String()
		case Bridge:
			return "bridge " + o.Key.String()
		case Macvlan:
			return "macvlan " + o.Key.String() + " on " + l.Parent.String()
		case Vxlan:
			if !l.Remote.IsValid() {
				return fmt.Sprintf("vxlan %s flooding to %s (vni %d)", o.Key, joinAddrs(l.Flood), l.VNI)
			}
			return fmt.Sprintf("vxlan %s to %s (vni %d)", o.Key, l.Remote, l.VNI)
		}
	}
	return "link " + o.Key.String()
}

func (o LinkObject) namespaces(k Kind) []NS {
	l := o.value(k)
	if l.Kind == Veth && l.Peer.NS != "" && l.Peer.NS != o.Key.NS {
		return []NS{o.Key.NS, l.Peer.NS}
	}
	if l.Kind == Macvlan && k == Create && l.Parent.NS != o.Key.NS {
		return []NS{o.Key.NS, l.Parent.NS} // created on the parent, then moved
	}
	if l.Kind == Vxlan && k == Create && o.Key.NS != Host {
		return []NS{o.Key.NS, Host} // created in the host, then moved
	}
	return []NS{o.Key.NS}
}

func (o LinkObject) change() string {
	var parts []string
	for _, at := range o.After.differing(o.Before) {
		parts = append(parts, at.Change(o.Before, o.After))
	}
	return strings.Join(parts, ", ")
}

func (o LinkObject) commands(k Kind, lab string) [][]string {
	key := o.Key
	switch k {
	case Delete:
		return [][]string{ipIn(key.NS, "link", "del", key.Name)}
	case Update:
		return [][]string{ipIn(key.NS, append([]string{"link", "set", key.Name}, o.After.setWords(o.Before)...)...)}
	}
	l := o.After
	mac := LinkMAC(lab, key).String()
	switch l.Kind {
	case Bridge:
		return [][]string{ipIn(key.NS, "link", "add", key.Name, "address", mac, "type", "bridge"), finishWords(key, l)}
	case Macvlan:
		add := ipIn(l.Parent.NS, "link", "add", key.Name, "link", l.Parent.Name, "address", mac)
		if key.NS != l.Parent.NS {
			add = append(add, "netns", string(key.NS)) // before type: what follows it is the type's
		}
		add = append(add, "type", "macvlan", "mode", l.Mode)
		return [][]string{add, finishWords(key, l)}
	case Vxlan:
		add := ipIn(Host, "link", "add", key.Name, "address", mac)
		if key.NS != Host {
			add = append(add, "netns", string(key.NS))
		}
		add = append(add, "type", "vxlan", "id", strconv.Itoa(l.VNI), "local", l.Local.String())
		if l.Remote.IsValid() {
			add = append(add, "remote", l.Remote.String())
		}
		cmds := [][]string{append(add, "dstport", strconv.Itoa(l.Port)), finishWords(key, l)}
		for _, r := range l.Flood {
			cmds = append(cmds, inNS("bridge", key.NS, "fdb", "append", zeroMAC, "dev", key.Name, "dst", r.String()))
		}
		return cmds
	}
	add := ipIn(key.NS, "link", "add", key.Name, "address", mac, "type", "veth", "peer", "name", l.Peer.Name,
		"address", LinkMAC(lab, l.Peer).String())
	if l.Peer.NS != key.NS {
		add = append(add, "netns", string(l.Peer.NS))
	}
	return [][]string{add, finishWords(key, l), finishWords(l.Peer, o.PeerEnd)}
}

// zeroMAC is the FDB entry of a VXLAN port that every broadcast and unknown frame
// follows: one per remote machine is head-end replication.
const zeroMAC = "00:00:00:00:00:00"

// joinAddrs writes addresses as "a, b".
func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// finishWords is the command that finishes a new link: its attributes as want has them
// where they differ from a link the kernel has just made (alias, MTU, master, up).
func finishWords(k LinkKey, want Link) []string {
	return ipIn(k.NS, append([]string{"link", "set", k.Name}, want.setWords(Link{})...)...)
}

// phase: a bridge is made before the ports that join it, and a link brought up or
// changed after the addresses are in place.
func (o LinkObject) phase(k Kind) int {
	switch {
	case k == Update:
		return phaseLinkUpdate
	case k == Create && o.After.Kind == Bridge:
		return phaseBridge
	}
	return phaseLink
}

func (o LinkObject) compare(other Object) int {
	return compareAs(o, other, func(a, b LinkObject) int { return compareLinkKey(a.Key, b.Key) })
}

// ends are the interfaces the action makes or removes: both ends of a veth pair.
func (o LinkObject) ends(k Kind) []LinkKey {
	ends := []LinkKey{o.Key}
	if l := o.value(k); l.Kind == Veth && (k == Create || l.Peer.NS != "") {
		ends = append(ends, l.Peer)
	}
	return ends
}

// dependOn: a veth waits for its namespaces, for the deletion of a link it replaces and
// for the bridges its ends join; a link changed in place waits for a bridge it joins.
func (o LinkObject) dependOn(x *depIndex, i int, k Kind) []int {
	var deps []int
	switch k {
	case Create:
		masters := []LinkKey{{o.Key.NS, o.After.Master}}
		if o.After.Kind == Veth {
			masters = append(masters, LinkKey{o.After.Peer.NS, o.PeerEnd.Master})
		}
		for _, m := range masters {
			if m.Name != "" {
				deps = append(deps, need(x.linkCreate, m)...) // a port waits for its bridge
			}
		}
		for _, e := range o.ends(k) {
			deps = append(deps, x.needNS(e.NS)...)
			deps = append(deps, need(x.linkDelete, e)...)
			x.linkCreate[e] = i
		}
	case Update:
		deps = append(deps, x.needNS(o.Key.NS)...)
		if m := o.After.Master; m != "" {
			deps = append(deps, need(x.linkCreate, LinkKey{o.Key.NS, m})...) // joins a bridge made by this plan
		}
		x.linkUpdates[o.Key.NS] = append(x.linkUpdates[o.Key.NS], i)
	case Delete:
		for _, e := range o.ends(k) {
			x.linkDelete[e] = i
		}
	}
	return deps
}

// own records the link as desired, with its peer.
func (o LinkObject) own(owned, desired State, _ Kind) {
	if l, ok := desired.Links[o.Key]; ok {
		owned.Links[o.Key] = l
		if l.Kind == Veth {
			owned.Links[l.Peer] = desired.Links[l.Peer]
		}
	}
}

// jsonNSName is the JSON key of an object named in a namespace: a link, a sysctl.
type jsonNSName struct {
	NS   NS     `json:"ns"`
	Name string `json:"name"`
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
	wanted := sortedKeys(d.desired.Links, compareLinkKey)
	deleted := d.recreatedLinks(wanted)
	for _, k := range wanted {
		d.link(k, deleted)
	}
	d.unwantedLinks(deleted)
}

// link plans the desired link k: nothing, a clash, an update, or its creation (a veth
// pair from its primary end). deleted holds the links the plan deletes so far.
func (d *differ) link(k LinkKey, deleted map[LinkKey]bool) {
	want := d.desired.Links[k]
	have, ok := d.actual.Links[k]
	ok = ok && !deleted[k]
	switch {
	case want.Kind == Loopback:
		if ok && !d.nsCreated[k.NS] && have.Up != want.Up {
			d.add(Action{Kind: Update, Target: LinkObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
		}
	case ok && !d.ownsLink(k, have) && d.adopt && d.adoptable(k, have):
		d.adopted(LinkObject{Key: k, Before: have, After: want})
	case ok && !d.ownsLink(k, have) && d.adopt && want.Kind == Veth && have.Kind == Veth && d.actual.VethPeers[k] != want.Peer:
		elsewhere := "an interface outside " + string(want.Peer.NS)
		if p := d.actual.VethPeers[k]; p != (LinkKey{}) {
			elsewhere = p.String()
		}
		d.clash("link "+k.String(), fmt.Sprintf("the veth %s that is not this lab's is already in %s, paired with %s, not %s", k.Name, k.NS, elsewhere, want.Peer),
			"delete that pair (ip link del "+k.Name+"), or rename the interface in the topology")
	case ok && !d.ownsLink(k, have):
		d.clash("link "+k.String(), fmt.Sprintf("an interface %s (%s) that is not this lab's is already in %s", k.Name, have.Kind, k.NS),
			"rename or delete that interface, or rename it in the topology")
	case ok:
		d.existingLink(k, have, deleted)
	default:
		d.missingLink(k, deleted)
	}
}

// adoptable reports whether the link have in the kernel is the desired link k in all
// but the lab's mark: of its kind and mode, with its attributes, and for a veth paired
// with the peer the lab wants (State.VethPeers): a pair made by hand whose end is
// paired with another interface, a container's say, is not the lab's to take, as its
// destroy would delete that interface with it.
func (d *differ) adoptable(k LinkKey, have Link) bool {
	want := d.desired.Links[k]
	marked := have
	marked.Alias = want.Alias
	_, peerThere := d.actual.Links[want.Peer]
	return have.Kind == want.Kind && !want.Differs(marked) && (want.Kind != Macvlan || have.Mode == want.Mode) &&
		(want.Kind != Veth || peerThere && d.actual.VethPeers[k] == want.Peer)
}

// existingLink plans a link of the lab's that is in the kernel: updated where it
// differs, or, for the primary end of a veth whose peer is gone, replaced.
func (d *differ) existingLink(k LinkKey, have Link, deleted map[LinkKey]bool) {
	want := d.desired.Links[k]
	if want.Kind == Veth && k == primary(k, want.Peer) {
		if _, peerOK := d.actual.Links[want.Peer]; !peerOK || deleted[want.Peer] {
			// Half a pair: the peer was deleted or moved by hand, or it went with its
			// namespace (which this plan makes anew) while the kernel is still taking
			// this end away. Recreate the pair.
			deleted[k] = true
			d.linkCreated[k] = true
			d.add(Action{Kind: Replace, Target: d.linkObject(k, have), Reason: Reason{Code: ReasonPeerMissing, Detail: want.Peer.String()}})
			return
		}
	}
	if want.Differs(have) {
		d.add(Action{Kind: Update, Target: LinkObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
	}
}

// missingLink plans the creation of a desired link that is not in the kernel (or that
// the plan deletes), once per veth pair, from its primary end.
func (d *differ) missingLink(k LinkKey, deleted map[LinkKey]bool) {
	want := d.desired.Links[k]
	if d.linkCreated[k] || d.linkCreated[want.Peer] {
		d.linkCreated[k] = true
		return
	}
	if want.Kind == Veth && k != primary(k, want.Peer) {
		if _, peerOK := d.actual.Links[want.Peer]; peerOK && !deleted[want.Peer] {
			// This end is missing but the primary end exists: the primary end's turn
			// deletes and recreates the pair.
			d.linkCreated[k] = true
			return
		}
	}
	if want.Kind == Vxlan {
		if problem := d.underlayProblem(want); problem != "" {
			d.refuse("vxlan "+k.String(), problem, "give this machine the underlay address of hosts:, or correct it there")
			return
		}
	}
	if _, parentOK := d.actual.Links[want.Parent]; want.Kind == Macvlan && !parentOK {
		d.clash("macvlan "+k.String(), "its parent "+want.Parent.String()+" is not in the kernel",
			"create "+want.Parent.Name+" in the host first, or name another parent")
		return
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

// VXLANOverhead is what VXLAN adds to a frame on an underlay of local's family: 50
// bytes over IPv4 (outer IPv4, UDP, VXLAN and inner Ethernet headers), 70 over IPv6.
func VXLANOverhead(local netip.Addr) int {
	if local.Is6() && !local.Is4In6() {
		return 70
	}
	return 50
}

// underlayProblem says why the VXLAN end want cannot be made on this machine, or "":
// its local underlay address is not on an interface of the host, or its MTU does not
// fit in that interface's, less VXLAN's 50 bytes.
func (d *differ) underlayProblem(want Link) string {
	for a := range d.actual.Addrs {
		if a.Link.NS != Host || a.Prefix.Addr() != want.Local {
			continue
		}
		if mtu, over := d.actual.Links[a.Link].MTU, VXLANOverhead(want.Local); want.MTU != 0 && mtu != 0 && want.MTU > mtu-over {
			return fmt.Sprintf("its MTU %d does not fit in the underlay's %d (%s) less VXLAN's %d bytes", want.MTU, mtu, a.Link, over)
		}
		return ""
	}
	return "the underlay address " + want.Local.String() + " is on no interface of this machine"
}

// unwantedLinks deletes the links the lab owns and no longer wants. Deleting one end
// of a veth deletes the other, and deleting a namespace deletes its links and their
// peers elsewhere. The kernel does the latter asynchronously but in one batch, far
// faster than deleting each end (each LinkDel waits for an RCU grace period); the
// reconciler waits for those peers to be gone before it reports success.
func (d *differ) unwantedLinks(deleted map[LinkKey]bool) {
	for _, k := range sortedKeysBut(d.actual.Links, compareLinkKey, hasKey(d.desired.Links)) {
		have := d.actual.Links[k]
		if have.Kind == Loopback || !d.ownsLink(k, have) {
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
// to treat as absent; wanted are the desired links' keys, sorted.
func (d *differ) recreatedLinks(wanted []LinkKey) map[LinkKey]bool {
	deleted := map[LinkKey]bool{}
	for _, k := range wanted {
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
		case want.Kind == Vxlan && (have.VNI != want.VNI || have.Local != want.Local || have.Remote != want.Remote || have.Port != want.Port):
			why = fmt.Sprintf("it is vni %d from %s to %s port %d and must be vni %d from %s to %s port %d",
				have.VNI, have.Local, have.Remote, have.Port, want.VNI, want.Local, want.Remote, want.Port)
		case want.Kind == Vxlan && !slices.Equal(have.Flood, want.Flood):
			why = fmt.Sprintf("it floods to [%s] and must flood to [%s]", joinAddrs(have.Flood), joinAddrs(want.Flood))
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
