package plan

import (
	"cmp"
	"net/netip"
)

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

// IPTablesCommand names the iptables program for the family of a: iptables or
// ip6tables.
func IPTablesCommand(a netip.Addr) string {
	if a.Is6() {
		return "ip6tables"
	}
	return "iptables"
}

// RuleSpec returns the rule's iptables arguments after the table and operation, marked
// with the lab's comment: POSTROUTING -s SRC [-o OUT] -m comment --comment netlab:LAB
// -j MASQUERADE.
func (r NATRule) RuleSpec(lab string) []string {
	spec := []string{"POSTROUTING", "-s", r.Source.String()}
	if r.Out != "" {
		spec = append(spec, "-o", r.Out)
	}
	return append(spec, "-m", "comment", "--comment", Alias(lab), "-j", "MASQUERADE")
}

// NATObject is a MASQUERADE rule: `iptables -t nat -A POSTROUTING -s SRC -j MASQUERADE`.
type NATObject struct{ Rule NATRule }

// Type is TypeNAT.
func (NATObject) Type() ObjectType { return TypeNAT }

// marks replace a rule made by hand with the same rule carrying the lab's comment.
func (o NATObject) marks(lab string) [][]string {
	plain := []string{"POSTROUTING", "-s", o.Rule.Source.String()}
	if o.Rule.Out != "" {
		plain = append(plain, "-o", o.Rule.Out)
	}
	ipt := IPTablesCommand(o.Rule.Source.Addr())
	return [][]string{execIn(o.Rule.NS, append(append([]string{ipt, "-t", "nat", "-D"}, plain...), "-j", "MASQUERADE")...),
		execIn(o.Rule.NS, append([]string{ipt, "-t", "nat", "-A"}, o.Rule.RuleSpec(lab)...)...)}
}

func (o NATObject) name() string                    { return o.Rule.String() }
func (o NATObject) describe(Kind) string            { return "nat " + o.Rule.String() }
func (o NATObject) namespaces(Kind) []NS            { return []NS{o.Rule.NS} }
func (NATObject) change() string                    { return "" }
func (NATObject) input(Kind) string                 { return "" }
func (NATObject) phase(Kind) int                    { return phaseNAT }
func (NATObject) jsonValues() (any, any)            { return nil, nil }
func (o NATObject) own(owned, _ State, _ Kind)      { owned.NAT[o.Rule] = true }
func (o NATObject) apply(k Applier, a Action) error { return k.ApplyNAT(a, o) }

func (o NATObject) jsonKey() any {
	return struct {
		NS     NS           `json:"ns"`
		Source netip.Prefix `json:"source"`
		Out    string       `json:"out,omitempty"`
	}{o.Rule.NS, o.Rule.Source, o.Rule.Out}
}

func (o NATObject) commands(k Kind, lab string) [][]string {
	op := "-A"
	if k == Delete {
		op = "-D"
	}
	return [][]string{execIn(o.Rule.NS, append([]string{IPTablesCommand(o.Rule.Source.Addr()), "-t", "nat", op}, o.Rule.RuleSpec(lab)...)...)}
}

func (o NATObject) compare(other Object) int {
	return compareAs(o, other, func(a, b NATObject) int { return compareNATRule(a.Rule, b.Rule) })
}

// dependOn: a rule waits for its namespace, and the rules of a namespace keep their
// order.
func (o NATObject) dependOn(x *depIndex, i int, _ Kind) []int {
	deps := append(x.needNS(o.Rule.NS), need(x.lastNAT, o.Rule.NS)...)
	x.lastNAT[o.Rule.NS] = i
	return deps
}

func (d *differ) nat() {
	for _, r := range sortedKeys(d.desired.NAT, compareNATRule) {
		if d.adopt && !d.actual.NAT[r] && d.actual.PlainNAT[r] && !d.nsCreated[r.NS] {
			d.adopted(NATObject{r})
			continue
		}
		if !d.actual.NAT[r] || d.nsCreated[r.NS] {
			d.add(Action{Kind: Create, Target: NATObject{r}, Reason: missingReason(d.owned.NAT[r] && !d.nsCreated[r.NS])})
		}
	}
	// Every rule observed carries the lab's comment, so every one is the lab's.
	for _, r := range sortedKeysBut(d.actual.NAT, compareNATRule, hasKey(d.desired.NAT)) {
		if !d.nsDeleted[r.NS] {
			d.add(Action{Kind: Delete, Target: NATObject{r}, Reason: Reason{Code: ReasonGone}})
		}
	}
}
