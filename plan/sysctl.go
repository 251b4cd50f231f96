package plan

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
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

func (SysctlObject) marks(string) [][]string { return nil } // recorded only when adopted

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
		_, recorded := d.owned.Sysctls[k]
		if ok && have == want && d.adopt && !recorded {
			d.add(Action{Kind: Adopt, Target: SysctlObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonAdoptedSysctl}})
		}
		if !ok || have != want {
			d.add(Action{Kind: Update, Target: SysctlObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
		}
	}
	for _, k := range sortedKeysBut(d.owned.Sysctls, compareSysctlKey, hasKey(d.desired.Sysctls)) {
		if d.nsDeleted[k.NS] || d.ownedNS(k.NS) && !d.actual.Namespaces[k.NS] {
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
