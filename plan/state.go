package plan

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
)

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
	// Qdiscs maps each impaired interface to its root qdisc (observed: each interface
	// of Scope.Qdiscs whose root qdisc is not the kernel's default).
	Qdiscs map[LinkKey]Qdisc
	// PlainNAT is observed only: the MASQUERADE rules of the scope's nat tables that
	// carry no comment (made by hand), which apply --adopt takes over.
	PlainNAT map[NATRule]bool
	// MissingQdiscs is observed only: the qdisc kinds of Scope.QdiscKinds that the
	// kernel lacks, each with the kernel option it lacks ("CONFIG_NET_SCH_NETEM is not
	// set, and there is no module sch_netem").
	MissingQdiscs map[string]string
	// VethPeers is observed only: for each veth end of Scope.VethPeers in the kernel,
	// the end the kernel pairs it with when that end is in the namespace the scope
	// names for it, else the zero LinkKey (paired elsewhere). apply --adopt takes over
	// a veth pair only when both ends are each other's.
	VethPeers map[LinkKey]LinkKey
	// MarkedFiles is observed only: the files of the scope, read whole, whose first line
	// is the lab's FileMark. Such a file is the lab's whatever its record says: a record
	// is lost, with the namespaces, when the machine restarts (the state directory is
	// on a tmpfs), and /etc/netns keeps the lab's files.
	MarkedFiles map[FileKey]bool
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
		Qdiscs:     map[LinkKey]Qdisc{},
		// Observed only.
		MissingQdiscs: map[string]string{},
		PlainNAT:      map[NATRule]bool{},
		VethPeers:     map[LinkKey]LinkKey{},
		MarkedFiles:   map[FileKey]bool{},
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
	maps.Copy(c.Qdiscs, s.Qdiscs)
	maps.Copy(c.MissingQdiscs, s.MissingQdiscs)
	maps.Copy(c.PlainNAT, s.PlainNAT)
	maps.Copy(c.VethPeers, s.VethPeers)
	maps.Copy(c.MarkedFiles, s.MarkedFiles)
	return c
}

// Empty reports whether s holds no object.
func (s State) Empty() bool {
	return len(s.Namespaces)+len(s.Links)+len(s.Addrs)+len(s.Routes)+len(s.Sysctls)+len(s.NAT)+len(s.Files)+len(s.Attached)+len(s.Qdiscs) == 0
}

// HasIPv6 reports whether an object of s is IPv6: an address, a route or its gateway,
// a NAT rule's source, or a VXLAN end's underlay.
func (s State) HasIPv6() bool {
	is6 := func(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }
	for k := range s.Addrs {
		if is6(k.Prefix.Addr()) {
			return true
		}
	}
	for k, r := range s.Routes {
		if is6(k.To.Addr()) || is6(r.Via) {
			return true
		}
	}
	for r := range s.NAT {
		if is6(r.Source.Addr()) {
			return true
		}
	}
	for _, l := range s.Links {
		if is6(l.Local) || is6(l.Remote) || slices.ContainsFunc(l.Flood, is6) {
			return true
		}
	}
	return false
}

// Interfaces returns the interfaces of the state but the namespaces' lo, sorted as
// "NODE:IF" sorts.
func (s State) Interfaces() []LinkKey {
	var keys []LinkKey
	for k, l := range s.Links {
		if l.Kind != Loopback {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b LinkKey) int { return cmp.Compare(a.String(), b.String()) })
	return keys
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
	// IPv4Only says that Observe needs only the IPv4 addresses and routes: apply's
	// verifying observe sets it for a lab with no IPv6 (State.HasIPv6). An IPv6 object
	// the lab neither wants nor owns changes nothing that verification asks.
	IPv4Only bool
	Sysctls  []SysctlKey
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
	// Qdiscs lists the namespaces whose root qdiscs to read (those with impaired
	// interfaces), and QdiscKinds the qdisc kinds the lab needs of the kernel.
	Qdiscs     map[NS]bool
	QdiscKinds []string
	// VethPeers lists the veth ends whose pairing to read, each with the end the lab
	// wants it paired with (State.VethPeers): the ends apply --adopt may take over.
	VethPeers map[LinkKey]LinkKey
}

// ScopeOf returns the Scope covering every object of the given states.
func ScopeOf(lab string, states ...State) Scope {
	nss := map[NS]bool{}
	nat := map[NATTable]bool{}
	sysctls := map[SysctlKey]bool{}
	files := map[FileKey]bool{}
	attached := map[NS]string{}
	qdiscs, kinds := map[NS]bool{}, map[string]bool{}
	for _, s := range states {
		for k, q := range s.Qdiscs {
			nss[k.NS], qdiscs[k.NS] = true, true
			for _, kind := range q.Kinds() {
				kinds[kind] = true
			}
		}
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
			if l.Kind == Vxlan {
				nss[Host] = true // made there; its underlay address is there
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
		Qdiscs:     qdiscs,
		QdiscKinds: slices.Sorted(maps.Keys(kinds)),
	}
}

// WithVethPeers asks in the scope for the pairing of every veth end that desired has
// and owned does not: the ends DiffAdopting may take over, which it takes only when
// paired as desired (State.VethPeers). A plan that adopts nothing reads no pairing.
func (sc Scope) WithVethPeers(desired, owned State) Scope {
	sc.VethPeers = map[LinkKey]LinkKey{}
	for k, l := range desired.Links {
		if _, mine := owned.Links[k]; l.Kind == Veth && !mine {
			sc.VethPeers[k] = l.Peer
		}
	}
	return sc
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

func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	return sortedKeysBut(m, compare, nil)
}

// hasKey returns the function that tells whether m has a key.
func hasKey[K comparable, V any](m map[K]V) func(K) bool {
	return func(k K) bool { _, ok := m[k]; return ok }
}

// sortedKeysBut returns the keys of m that skip (when not nil) does not skip, sorted.
// Diff's loops over what the lab owns look for what is no longer wanted: taking the
// wanted out before sorting spares sorting thousands of keys only to pass over them.
func sortedKeysBut[K comparable, V any](m map[K]V, compare func(a, b K) int, skip func(K) bool) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		if skip == nil || !skip(k) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compare)
	return keys
}
