package plan

import (
	"cmp"
	"net/netip"
	"strconv"
	"strings"
)

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

// Route is the state of one route: its gateway and its device. A desired route may
// leave either unset ("" Dev: wherever the gateway is); an observed one has its device.
type Route struct {
	Via netip.Addr `json:"via,omitzero"`
	Dev string     `json:"dev,omitempty"`
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

// RouteObject is a route of a namespace's main table: `ip route add TO via GW dev IF`.
type RouteObject struct {
	Key           RouteKey
	Before, After Route
}

// Type is TypeRoute.
func (RouteObject) Type() ObjectType { return TypeRoute }

func (RouteObject) marks(string) [][]string { return nil } // recorded only when adopted

func (o RouteObject) name() string                    { return o.Key.String() }
func (o RouteObject) namespaces(Kind) []NS            { return []NS{o.Key.NS} }
func (RouteObject) input(Kind) string                 { return "" }
func (RouteObject) phase(Kind) int                    { return phaseRoute }
func (o RouteObject) change() string                  { return o.Before.String() + " -> " + o.After.String() }
func (o RouteObject) own(owned, _ State, _ Kind)      { owned.Routes[o.Key] = o.After }
func (o RouteObject) apply(k Applier, a Action) error { return k.ApplyRoute(a, o) }

func (o RouteObject) jsonKey() any {
	return struct {
		NS     NS           `json:"ns"`
		To     netip.Prefix `json:"to"`
		Metric int          `json:"metric"`
	}{o.Key.NS, o.Key.To, o.Key.Metric}
}

// jsonValues are the next hops; a route with none (the zero Route) is absent.
func (o RouteObject) jsonValues() (any, any) { return jsonRoute(o.Before), jsonRoute(o.After) }

func jsonRoute(r Route) any {
	if r == (Route{}) {
		return nil
	}
	return r
}

// value is the route an action of kind k is about: the one it removes for a Delete.
func (o RouteObject) value(k Kind) Route {
	if k == Delete {
		return o.Before
	}
	return o.After
}

func (o RouteObject) describe(k Kind) string {
	return "route " + o.Key.String() + " " + o.value(k).String()
}

func (o RouteObject) commands(k Kind, _ string) [][]string {
	verb := map[Kind]string{Create: "add", Update: "replace", Delete: "del"}[k]
	r := o.value(k)
	args := []string{"route", verb, RouteDest(o.Key.To)}
	if r.Via.IsValid() {
		args = append(args, "via", r.Via.String())
	}
	if r.Dev != "" {
		args = append(args, "dev", r.Dev)
	}
	if o.Key.Metric != DefaultMetric(o.Key.To) {
		args = append(args, "metric", strconv.Itoa(o.Key.Metric))
	}
	if o.Key.To.Addr().Is6() {
		args = append([]string{"-6"}, args...)
	}
	return [][]string{ipIn(o.Key.NS, args...)}
}

func (o RouteObject) compare(other Object) int {
	return compareAs(o, other, func(a, b RouteObject) int { return compareRouteKey(a.Key, b.Key) })
}

// dependOn: a route waits for the addresses that reach its gateway or sit on its device,
// for its device's creation, and for links brought up and addresses deleted in its
// namespace (which may drop it).
func (o RouteObject) dependOn(x *depIndex, i int, k Kind) []int {
	if k == Delete {
		return nil
	}
	ns, r := o.Key.NS, o.After
	deps := x.needNS(ns)
	for _, a := range x.addrCreates[ns] {
		if a.key.Prefix.Masked().Contains(r.Via) || r.Dev != "" && a.key.Link.Name == r.Dev {
			deps = append(deps, a.i)
		}
	}
	if r.Dev != "" {
		deps = append(deps, need(x.linkCreate, LinkKey{ns, r.Dev})...)
	}
	deps = append(deps, x.linkUpdates[ns]...)
	return append(deps, x.addrDeletes[ns]...)
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
	// Only the routes that need an action are sorted and planned: a no-op plan has
	// thousands that need none.
	for _, k := range sortedKeysBut(d.desired.Routes, compareRouteKey, func(k RouteKey) bool { return !d.route(k, false) }) {
		d.route(k, true)
	}
	for _, k := range sortedKeysBut(d.owned.Routes, compareRouteKey, hasKey(d.desired.Routes)) {
		if d.nsDeleted[k.NS] {
			continue
		}
		if have, ok := d.actual.Routes[k]; ok {
			d.add(Action{Kind: Delete, Target: RouteObject{Key: k, Before: have}, Reason: Reason{Code: ReasonGone}})
		}
	}
}

// route plans the desired route k, when act is set: its creation, its update, its
// adoption or a clash. It reports whether there is any of these to plan.
func (d *differ) route(k RouteKey, act bool) bool {
	want := d.desired.Routes[k]
	have, ok := d.actual.Routes[k]
	_, owned := d.owned.Routes[k]
	switch {
	case !ok || d.nsCreated[k.NS]:
		if act {
			d.add(Action{Kind: Create, Target: RouteObject{Key: k, After: want}, Reason: missingReason(owned && !d.nsCreated[k.NS])})
		}
	case !want.Differs(have) && want.Via.IsValid() && !d.survives(k.NS, have.Via):
		if act {
			d.add(Action{Kind: Create, Target: RouteObject{Key: k, After: want}, Reason: Reason{Code: ReasonGatewayDropped}})
		}
	case !owned && !d.ownedNS(k.NS) && d.adopt && !want.Differs(have):
		if act {
			d.adopted(RouteObject{Key: k, Before: have, After: want})
		}
	case !owned && !d.ownedNS(k.NS):
		if act {
			d.clash("route "+k.String(), "a route to "+RouteDest(k.To)+" "+have.String()+" that is not this lab's is already there",
				"delete it (ip route del "+RouteDest(k.To)+") or route another destination")
		}
	case want.Differs(have):
		if act {
			d.add(Action{Kind: Update, Target: RouteObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
		}
	default:
		return false
	}
	return true
}
