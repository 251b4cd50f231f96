package plan

import (
	"cmp"
	"net/netip"
)

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

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// AddrObject is an address on an interface: `ip addr add PREFIX dev IF`.
type AddrObject struct{ Key AddrKey }

// Type is TypeAddress.
func (AddrObject) Type() ObjectType { return TypeAddress }

func (AddrObject) marks(string) [][]string { return nil } // recorded only when adopted

func (o AddrObject) name() string                    { return o.Key.String() }
func (o AddrObject) describe(Kind) string            { return "address " + o.Key.String() }
func (o AddrObject) namespaces(Kind) []NS            { return []NS{o.Key.Link.NS} }
func (AddrObject) change() string                    { return "" }
func (AddrObject) input(Kind) string                 { return "" }
func (AddrObject) phase(Kind) int                    { return phaseAddress }
func (AddrObject) jsonValues() (any, any)            { return nil, nil }
func (o AddrObject) own(owned, _ State, _ Kind)      { owned.Addrs[o.Key] = true }
func (o AddrObject) apply(k Applier, a Action) error { return k.ApplyAddr(a, o) }

func (o AddrObject) jsonKey() any {
	return struct {
		NS     NS           `json:"ns"`
		Link   string       `json:"link"`
		Prefix netip.Prefix `json:"prefix"`
	}{o.Key.Link.NS, o.Key.Link.Name, o.Key.Prefix}
}

func (o AddrObject) commands(k Kind, _ string) [][]string {
	verb := "add"
	if k == Delete {
		verb = "del"
	}
	cmd := ipIn(o.Key.Link.NS, "addr", verb, o.Key.Prefix.String(), "dev", o.Key.Link.Name)
	if verb == "add" && o.Key.Prefix.Addr().Is6() {
		cmd = append(cmd, "nodad")
	}
	return [][]string{cmd}
}

func (o AddrObject) compare(other Object) int {
	return compareAs(o, other, func(a, b AddrObject) int { return compareAddrKey(a.Key, b.Key) })
}

// dependOn: an address waits for its link's creation and for the address deletions of
// its namespace (an address may move between interfaces).
func (o AddrObject) dependOn(x *depIndex, i int, k Kind) []int {
	ns := o.Key.Link.NS
	if k == Delete {
		x.addrDeletes[ns] = append(x.addrDeletes[ns], i)
		return nil
	}
	deps := need(x.linkCreate, o.Key.Link) // which waited for the namespace
	if deps == nil {
		deps = x.needNS(ns)
	}
	deps = append(deps, x.addrDeletes[ns]...)
	x.addrCreates[ns] = append(x.addrCreates[ns], addrCreate{i, o.Key})
	return deps
}

func (d *differ) addrs() {
	// Addresses in the kernel by namespace and IP, to find one that sits on another
	// interface already.
	type nsIP struct {
		ns NS
		ip netip.Addr
	}
	// Only the addresses that may need an action are sorted and looked at: one in the
	// kernel on a link the plan keeps needs none (a no-op plan has thousands).
	missing := sortedKeysBut(d.desired.Addrs, compareAddrKey, func(k AddrKey) bool { return d.actual.Addrs[k] && !d.linkFresh(k.Link) })
	var where map[nsIP]AddrKey
	if len(missing) > 0 {
		where = make(map[nsIP]AddrKey, len(d.actual.Addrs))
		for k := range d.actual.Addrs {
			// Two interfaces with one IP: keep the lesser, so the clash names one for sure.
			if other, ok := where[nsIP{k.Link.NS, k.Prefix.Addr()}]; !ok || compareAddrKey(k, other) < 0 {
				where[nsIP{k.Link.NS, k.Prefix.Addr()}] = k
			}
		}
	}
	for _, k := range missing {
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
	for _, k := range sortedKeysBut(d.owned.Addrs, compareAddrKey, func(k AddrKey) bool { return d.desired.Addrs[k] }) {
		if !d.actual.Addrs[k] || d.nsDeleted[k.Link.NS] {
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
