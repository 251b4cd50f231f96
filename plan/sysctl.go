package plan

import (
	"cmp"
	"regexp"
)

// SysctlKey identifies a sysctl in a namespace, by its dotted name (net.ipv4.ip_forward).
type SysctlKey struct {
	NS   NS
	Name string
}

func (k SysctlKey) String() string { return string(k.NS) + ": " + k.Name }

func compareSysctlKey(a, b SysctlKey) int {
	return cmp.Or(compareNS(a.NS, b.NS), cmp.Compare(a.Name, b.Name))
}

// ifaceSysctl matches the per-interface sysctls: net.ipv4.conf.IF.*, net.ipv6.conf.IF.*,
// net.ipv4.neigh.IF.*, net.ipv6.neigh.IF.*; it captures what comes before IF, IF, and
// what comes after.
var ifaceSysctl = regexp.MustCompile(`^(net\.ipv[46]\.(?:conf|neigh))\.([^.]+)\.(.+)$`)

// SysctlInterface returns the interface a per-interface sysctl is of.
func SysctlInterface(name string) (string, bool) {
	if m := ifaceSysctl.FindStringSubmatch(name); m != nil {
		return m[2], true
	}
	return "", false
}

// SysctlOfDefault returns the sysctl that a per-interface sysctl takes its value from
// for an interface that does not exist yet: the same one of the interface "default".
func SysctlOfDefault(name string) (string, bool) {
	if m := ifaceSysctl.FindStringSubmatch(name); m != nil {
		return m[1] + ".default." + m[3], true
	}
	return "", false
}

// SysctlObject is a sysctl of a namespace set to a value: `sysctl -w NAME=VALUE`. It is
// only ever updated: set by the lab, and set back to Before's value when the lab goes.
type SysctlObject struct {
	Key           SysctlKey
	Before, After string
}

// Type is TypeSysctl.
func (SysctlObject) Type() ObjectType { return TypeSysctl }

func (o SysctlObject) name() string                    { return o.Key.String() }
func (o SysctlObject) describe(Kind) string            { return "sysctl " + o.Key.String() }
func (o SysctlObject) namespaces(Kind) []NS            { return []NS{o.Key.NS} }
func (SysctlObject) input(Kind) string                 { return "" }
func (SysctlObject) phase(Kind) int                    { return phaseSysctl }
func (o SysctlObject) jsonKey() any                    { return jsonNSName{NS: o.Key.NS, Name: o.Key.Name} }
func (o SysctlObject) jsonValues() (any, any)          { return jsonString(o.Before), jsonString(o.After) }
func (SysctlObject) own(State, State, Kind)            {} // the value to restore is the record's (see reconcile)
func (o SysctlObject) apply(k Applier, a Action) error { return k.ApplySysctl(a, o) }

func (o SysctlObject) change() string {
	if o.Before == "" {
		return "set to " + o.After
	}
	return o.Before + " -> " + o.After
}

func (o SysctlObject) commands(Kind, string) [][]string {
	return [][]string{execIn(o.Key.NS, "sysctl", "-w", o.Key.Name+"="+o.After)}
}

func (o SysctlObject) compare(other Object) int {
	return compareAs(o, other, func(a, b SysctlObject) int { return compareSysctlKey(a.Key, b.Key) })
}

// dependOn: a sysctl waits for its namespace and, for net.ipv4.conf.IF.*, for IF.
func (o SysctlObject) dependOn(x *depIndex, _ int, _ Kind) []int {
	deps := x.needNS(o.Key.NS)
	if iface, ok := SysctlInterface(o.Key.Name); ok {
		deps = append(deps, need(x.linkCreate, LinkKey{o.Key.NS, iface})...)
	}
	return deps
}
