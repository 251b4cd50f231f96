package plan

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

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

// Attach names the entry /run/netns/NODE that makes an existing namespace (a
// container's, say) visible as a lab node. netlab makes and removes the entry, a bind
// mount of the namespace, never the namespace.
type Attach NS

// AttachedElsewhere is what Observe reports for an entry that exists but holds another
// namespace than the one desired.
const AttachedElsewhere = "(another namespace)"

// AttachedSourceGone is what Observe reports for an entry that holds a namespace whose
// source file no longer exists (the process of /proc/PID/ns/net has exited).
const AttachedSourceGone = "(source gone)"

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
)

// LinkKey identifies an interface: its namespace and its name.
type LinkKey struct {
	NS   NS
	Name string
}

// String renders the key as the topology writes a link endpoint: "node:iface".
func (k LinkKey) String() string { return string(k.NS) + ":" + k.Name }

func compareLinkKey(a, b LinkKey) int {
	return cmp.Or(compareNS(a.NS, b.NS), cmp.Compare(a.Name, b.Name))
}

// Link is the state of one interface. Peer, PeerMaster and Parent are known in a
// desired State and left zero by observation.
type Link struct {
	Kind LinkKind
	// Peer is the other end of a veth, and PeerMaster the bridge that end is a port of.
	Peer       LinkKey
	PeerMaster string
	// Parent is the host interface a macvlan sits on, Mode its macvlan mode.
	Parent LinkKey
	Mode   string
	Alias  string
	Up     bool
	// MTU is the link's MTU; 0 in a desired State leaves it to the kernel.
	MTU int
	// Master is the bridge (in the same namespace) the link is a port of, or "".
	Master string
	// MAC is the link's address, observed only: a link whose MAC is LinkMAC of the lab
	// is the lab's, as one with the lab's alias is (see LinkMAC).
	MAC MAC
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

// Differs reports whether the observed link have differs from the desired link want in
// what netlab manages: alias, up, master, and MTU where want sets one.
func (want Link) Differs(have Link) bool {
	return have.Alias != want.Alias || have.Up != want.Up || have.Master != want.Master ||
		want.MTU != 0 && have.MTU != want.MTU
}

// AddrKey identifies an interface address: the interface and the address with its
// prefix length (host bits kept, as `ip addr add` takes it).
type AddrKey struct {
	Link   LinkKey
	Prefix netip.Prefix
}

func (k AddrKey) String() string { return k.Prefix.String() + " on " + k.Link.String() }

func compareAddrKey(a, b AddrKey) int {
	return cmp.Or(compareLinkKey(a.Link, b.Link), comparePrefix(a.Prefix, b.Prefix))
}

// RouteKey identifies a route in the main table, as the kernel does: its namespace,
// destination and metric. A default route has the destination 0.0.0.0/0 or ::/0. The
// metric is the kernel's: an IPv6 route added without one has 1024.
type RouteKey struct {
	NS     NS
	To     netip.Prefix
	Metric int
}

func (k RouteKey) String() string {
	s := string(k.NS) + ": " + RouteDest(k.To)
	if k.Metric != DefaultMetric(k.To) {
		s += " metric " + strconv.Itoa(k.Metric)
	}
	return s
}

func compareRouteKey(a, b RouteKey) int {
	return cmp.Or(compareNS(a.NS, b.NS), comparePrefix(a.To, b.To), cmp.Compare(a.Metric, b.Metric))
}

// DefaultMetric is the metric the kernel gives a route to a destination of this family
// added without one: 0 for IPv4, 1024 for IPv6.
func DefaultMetric(to netip.Prefix) int {
	if to.Addr().Is6() {
		return 1024
	}
	return 0
}

// Route is the state of one route: its gateway and its device. A desired route may
// leave either unset ("" Dev: wherever the gateway is); an observed one has its device.
type Route struct {
	Via netip.Addr
	Dev string
}

// Differs reports whether the observed route have differs from the desired want.
func (want Route) Differs(have Route) bool {
	return have.Via != want.Via || want.Dev != "" && have.Dev != want.Dev
}

// String renders the route's next hop as ip does: "via GW dev IF".
func (r Route) String() string {
	var parts []string
	if r.Via.IsValid() {
		parts = append(parts, "via "+r.Via.String())
	}
	if r.Dev != "" {
		parts = append(parts, "dev "+r.Dev)
	}
	return strings.Join(parts, " ")
}

// SysctlKey identifies a sysctl in a namespace, by its dotted name (net.ipv4.ip_forward).
type SysctlKey struct {
	NS   NS
	Name string
}

func (k SysctlKey) String() string { return string(k.NS) + ": " + k.Name }

func compareSysctlKey(a, b SysctlKey) int {
	return cmp.Or(compareNS(a.NS, b.NS), cmp.Compare(a.Name, b.Name))
}

// NATRule is a MASQUERADE rule in the nat table's POSTROUTING chain of a namespace, for
// packets from Source, leaving through Out when Out is set. It is its own key.
type NATRule struct {
	NS     NS
	Source netip.Prefix
	Out    string
}

func (r NATRule) String() string {
	s := string(r.NS) + ": masquerade " + r.Source.String()
	if r.Out != "" {
		s += " out " + r.Out
	}
	return s
}

func compareNATRule(a, b NATRule) int {
	return cmp.Or(compareNS(a.NS, b.NS), comparePrefix(a.Source, b.Source), cmp.Compare(a.Out, b.Out))
}

// NetnsDir is where `ip netns` keeps the files of named namespaces: a lab's nodes, and
// the entries it makes for existing namespaces, are NetnsDir/NODE.
const NetnsDir = "/run/netns"

// EtcNetnsDir is where `ip netns exec NODE` finds the files it binds over /etc, one
// directory per namespace: /etc/netns/NODE/hosts, /etc/netns/NODE/resolv.conf.
const EtcNetnsDir = "/etc/netns"

// FileKey identifies a file a lab writes under EtcNetnsDir: for a namespace, Name is
// "hosts" or "resolv.conf", or "" for the directory /etc/netns/NS itself; with no NS,
// the file of the lab's own in EtcNetnsDir that every namespace's hosts file is a hard
// link to (SharedHosts).
type FileKey struct {
	NS   NS
	Name string
}

// SharedHosts is the file that holds the hosts content of every namespace of the lab,
// once: /etc/netns/.netlab-LAB.hosts, on the file system of the namespaces' own
// directories so that each /etc/netns/NODE/hosts is a hard link to it. A lab of N
// namespaces then writes N lines once, where N files of N lines each took 55 MB at
// N=1000. `ip netns exec` binds /etc/netns/NODE/hosts, a link as good as a copy.
func SharedHosts(lab string) FileKey { return FileKey{Name: ".netlab-" + lab + ".hosts"} }

// HardLink is the value a desired or observed State gives a file that is a hard link to
// the file target (the same inode), instead of its content or digest.
func HardLink(target FileKey) string { return hardLinkPrefix + target.Path() + ")" }

const hardLinkPrefix = "(hard link to "

// IsHardLink reports whether v is a HardLink value.
func IsHardLink(v string) bool { return strings.HasPrefix(v, hardLinkPrefix) }

// LinkTarget returns the path a HardLink value links to, if v is one.
func LinkTarget(v string) (string, bool) {
	if rest, ok := strings.CutPrefix(v, hardLinkPrefix); ok {
		return strings.TrimSuffix(rest, ")"), true
	}
	return "", false
}

// Path is the file's path: /etc/netns/NS/NAME, /etc/netns/NS for the directory, and
// /etc/netns/NAME for the lab's shared file.
func (k FileKey) Path() string {
	switch {
	case k.NS == "":
		return EtcNetnsDir + "/" + k.Name
	case k.Name == "":
		return EtcNetnsDir + "/" + string(k.NS)
	}
	return EtcNetnsDir + "/" + string(k.NS) + "/" + k.Name
}

// IsDir reports whether the key names the directory of the namespace's files.
func (k FileKey) IsDir() bool { return k.Name == "" }

// Shared reports whether the key names a lab's shared file in EtcNetnsDir itself.
func (k FileKey) Shared() bool { return k.NS == "" }

func (k FileKey) String() string { return k.Path() }

func compareFileKey(a, b FileKey) int {
	return cmp.Or(compareNS(a.NS, b.NS), cmp.Compare(a.Name, b.Name))
}

// State is a set of kernel objects: what a topology wants, what the kernel has (in the
// namespaces a lab concerns), or what a lab has recorded as its own. The zero State is
// empty and ready to use through its Add methods.
type State struct {
	Namespaces map[NS]bool
	Links      map[LinkKey]Link
	Addrs      map[AddrKey]bool
	Routes     map[RouteKey]Route
	// Sysctls maps a sysctl to its value. In an ownership record it maps to the value
	// found before the lab first changed it, which destroy restores.
	Sysctls map[SysctlKey]string
	NAT     map[NATRule]bool
	// Files maps each file under EtcNetnsDir to its content in a desired State, and to
	// the Digest of its content when observed or recorded (a lab of a thousand
	// namespaces has a thousand hosts files of two thousand lines). A directory maps to
	// "" when desired or owned, and to the names of the files in it, space-separated,
	// when observed.
	Files map[FileKey]string
	// Attached maps each node that is an existing namespace to the namespace file its
	// /run/netns entry binds (/proc/PID/ns/net, ...). Observed, it maps to that file
	// when the entry holds that namespace, to AttachedElsewhere when it holds another,
	// and to AttachedSourceGone when the entry holds one but the file is gone.
	Attached map[NS]string
	// Entries is observed only: what is at NetnsDir/NS, for a namespace of the scope,
	// when it is not a live namespace (see Entry).
	Entries map[NS]Entry
	// SourceGone is observed only: the existing namespaces of the scope whose source
	// file is gone and that have no /run/netns entry either (the container exited).
	SourceGone map[NS]bool
}

// Entry is what Observe found at NetnsDir/NS that is not a live namespace: EntryEmpty,
// or what a foreign file is ("a symbolic link", "a directory", "a regular file", ...).
type Entry string

// EntryEmpty is an empty file of mode 0: the mount point netlab makes before it mounts
// a namespace on it, left by a run killed in between.
const EntryEmpty Entry = "an empty file"

// NewState returns an empty State with every map made.
func NewState() State {
	return State{
		Namespaces: map[NS]bool{},
		Links:      map[LinkKey]Link{},
		Addrs:      map[AddrKey]bool{},
		Routes:     map[RouteKey]Route{},
		Sysctls:    map[SysctlKey]string{},
		NAT:        map[NATRule]bool{},
		Files:      map[FileKey]string{},
		Attached:   map[NS]string{},
		Entries:    map[NS]Entry{},
		SourceGone: map[NS]bool{},
	}
}

// Clone returns a deep copy of s (its keys and values are plain values).
func (s State) Clone() State {
	c := NewState()
	maps.Copy(c.Namespaces, s.Namespaces)
	maps.Copy(c.Links, s.Links)
	maps.Copy(c.Addrs, s.Addrs)
	maps.Copy(c.Routes, s.Routes)
	maps.Copy(c.Sysctls, s.Sysctls)
	maps.Copy(c.NAT, s.NAT)
	maps.Copy(c.Files, s.Files)
	maps.Copy(c.Attached, s.Attached)
	maps.Copy(c.Entries, s.Entries)
	maps.Copy(c.SourceGone, s.SourceGone)
	return c
}

// Empty reports whether s holds no object.
func (s State) Empty() bool {
	return len(s.Namespaces)+len(s.Links)+len(s.Addrs)+len(s.Routes)+len(s.Sysctls)+len(s.NAT)+len(s.Files)+len(s.Attached) == 0
}

// Scope says which parts of the kernel matter to a lab: the namespaces to look into, and
// in them the sysctls to read and whether to list NAT rules. Observing only the scope
// keeps plan fast on a host with many other namespaces.
type Scope struct {
	Lab        string
	Namespaces []NS // sorted, Host first when present
	// ExistenceOnly lists namespaces whose contents Diff never needs (the lab owns
	// them and no longer wants them: they are deleted whole); Observe only checks that
	// they exist.
	ExistenceOnly map[NS]bool
	Sysctls       []SysctlKey
	// NAT lists the nat tables to read; empty when the lab has no rule, so a lab without
	// NAT needs no iptables.
	NAT []NATTable
	// Files lists the files (and directories) under EtcNetnsDir to read. They are read
	// whether or not their namespace exists: they outlive it.
	Files []FileKey
	// UnreadFiles lists files the lab owns and no longer wants: Diff deletes them
	// whatever they hold, so Observe only checks that they exist (value FileUnread).
	UnreadFiles map[FileKey]bool
	// Attached lists the /run/netns entries of existing namespaces to check, each with
	// the namespace file it must hold ("" when only its existence matters).
	Attached map[NS]string
}

// NATTable names the nat table of one IP family in a namespace.
type NATTable struct {
	NS   NS
	IPv6 bool
}

func compareNATTable(a, b NATTable) int {
	if c := compareNS(a.NS, b.NS); c != 0 {
		return c
	}
	switch {
	case a.IPv6 == b.IPv6:
		return 0
	case b.IPv6:
		return -1
	}
	return 1
}

// ScopeOf returns the Scope covering every object of the given states.
func ScopeOf(lab string, states ...State) Scope {
	nss := map[NS]bool{}
	nat := map[NATTable]bool{}
	sysctls := map[SysctlKey]bool{}
	files := map[FileKey]bool{}
	attached := map[NS]string{}
	for _, s := range states {
		for k := range s.Files {
			files[k] = true
		}
		for ns, src := range s.Attached {
			nss[ns] = true
			if attached[ns] == "" {
				attached[ns] = src
			}
		}
		for ns := range s.Namespaces {
			nss[ns] = true
		}
		for k, l := range s.Links {
			nss[k.NS] = true
			if l.Peer.NS != "" {
				nss[l.Peer.NS] = true
			}
			if l.Parent.NS != "" {
				nss[l.Parent.NS] = true
			}
		}
		for k := range s.Addrs {
			nss[k.Link.NS] = true
		}
		for k := range s.Routes {
			nss[k.NS] = true
		}
		for k := range s.Sysctls {
			nss[k.NS] = true
			sysctls[k] = true
		}
		for r := range s.NAT {
			nss[r.NS] = true
			nat[NATTable{NS: r.NS, IPv6: r.Source.Addr().Is6()}] = true
		}
	}
	return Scope{
		Lab:        lab,
		Namespaces: sortedKeys(nss, compareNS),
		Sysctls:    sortedKeys(sysctls, compareSysctlKey),
		NAT:        sortedKeys(nat, compareNATTable),
		Files:      sortedKeys(files, compareFileKey),
		Attached:   attached,
	}
}

// WithoutContentsOf marks in the scope the namespaces and files that owned has and
// desired does not: Diff deletes them whole, so their contents need not be read.
func (sc Scope) WithoutContentsOf(desired, owned State) Scope {
	sc.ExistenceOnly = map[NS]bool{}
	for ns := range owned.Namespaces {
		if !desired.Namespaces[ns] {
			sc.ExistenceOnly[ns] = true
		}
	}
	sc.UnreadFiles = map[FileKey]bool{}
	for k := range owned.Files {
		if _, want := desired.Files[k]; !want && !k.IsDir() {
			sc.UnreadFiles[k] = true
		}
	}
	return sc
}

// FileUnread is what Observe reports for a file of Scope.UnreadFiles that exists and
// starts with the lab's FileMark.
const FileUnread = "(not read)"

// FileForeign is what Observe reports for a file or directory under EtcNetnsDir that is
// not the lab's whatever the record says: a symbolic link, not a regular file (or not a
// directory), or a file of Scope.UnreadFiles without the lab's FileMark.
const FileForeign = "(not the lab's)"

// FileMark is how every file a lab writes under EtcNetnsDir begins; the rest of its
// first line follows a ';' or a space.
func FileMark(lab string) string { return "# Written by netlab for lab " + lab }

// TempName is the name of the temporary file beside the file of k that a write goes
// through before it is renamed over k: one fixed name, so that what an interrupted run
// left is known to be the lab's and is cleaned up.
func (k FileKey) TempName() string { return "." + k.Name + ".netlab-new" }

// Digest is how observed and recorded states hold a file's content: "sha256:" and its
// hex SHA-256.
func Digest(content string) string {
	sum := sha256.Sum256([]byte(content))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// DigestReader is the Digest of everything r yields, read in small pieces: observing the
// hosts files of a large lab then costs no copy of each.
func DigestReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Recorded returns the state as an ownership record keeps it: file contents replaced by
// their Digest.
func (s State) Recorded() State {
	r := s.Clone()
	var d digester
	for k, v := range r.Files {
		if !k.IsDir() && !IsHardLink(v) {
			r.Files[k] = d.of(v)
		}
	}
	return r
}

// digester is Digest remembering its last answer: the namespaces of a lab share one
// hosts content (one string, so comparing it with the last one is cheap).
type digester struct{ content, digest string }

func (d *digester) of(content string) string {
	if content != d.content || d.digest == "" {
		d.content, d.digest = content, Digest(content)
	}
	return d.digest
}

// Alias is the mark netlab sets as the interface alias of every link a lab creates, and
// as the comment of every iptables rule it adds.
func Alias(lab string) string { return "netlab:" + lab }

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// RouteDest writes a route destination as `ip route` does: "default" for the default
// route of either family.
func RouteDest(p netip.Prefix) string {
	if p.Bits() == 0 {
		return "default"
	}
	return p.String()
}

// DefaultRoute returns the default destination of the family of a.
func DefaultRoute(a netip.Addr) netip.Prefix {
	if a.Is4() {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
}

func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}
