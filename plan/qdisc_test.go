package plan_test

import (
	"strings"
	"testing"

	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/reconcile/fakekernel"
)

const shaped = `name: shaped
nodes:
  a: {interfaces: {eth0: {addresses: [10.71.0.1/24]}}}
  b: {interfaces: {eth0: {addresses: [10.71.0.2/24]}}}
links:
  - endpoints: [a:eth0, b:eth0]
`

// TestImpairments: the plan of each change to a link's impairment, from a lab applied
// with a tbf on a:eth0.
func TestImpairments(t *testing.T) {
	key := plan.LinkKey{NS: "a", Name: "eth0"}
	for _, tc := range []struct {
		name   string
		impair string                     // the topology's impair: afterwards
		damage func(k *fakekernel.Kernel) // done by hand before the plan
		want   []string
	}{
		{"unchanged", "    impair: {a:eth0: {rate: 8mbit}}\n", nil, nil},
		{"rate changed", "    impair: {a:eth0: {rate: 16mbit}}\n", nil,
			[]string{"~ qdisc a:eth0 (tbf rate 8mbit burst 10000 limit 60000 -> tbf rate 16mbit burst 20000 limit 120000)"}},
		{"netem added", "    impair: {a:eth0: {rate: 8mbit, delay: 10ms}}\n", nil,
			[]string{"-/+ qdisc a:eth0"}},
		{"removed", "", nil, []string{"- qdisc a:eth0"}},
		{"both ends", "    impair: {rate: 8mbit}\n", nil, []string{"+ qdisc b:eth0"}},
		{"deleted by hand", "    impair: {a:eth0: {rate: 8mbit}}\n", func(k *fakekernel.Kernel) { delete(k.State.Qdiscs, key) },
			[]string{"+ qdisc a:eth0"}},
		{"changed by hand", "    impair: {a:eth0: {rate: 8mbit}}\n", func(k *fakekernel.Kernel) {
			q := k.State.Qdiscs[key]
			q.Rate /= 2
			k.State.Qdiscs[key] = q
		}, []string{"~ qdisc a:eth0 (tbf rate 4mbit burst 10000 limit 60000 -> tbf rate 8mbit burst 10000 limit 60000)"}},
		{"replaced by someone's", "    impair: {a:eth0: {rate: 8mbit}}\n", func(k *fakekernel.Kernel) {
			k.State.Qdiscs[key] = plan.Qdisc{Foreign: "htb"}
		}, []string{"-/+ qdisc a:eth0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := fakekernel.New()
			before := parse(t, shaped+"    impair: {a:eth0: {rate: 8mbit}}\n")
			_, owned := apply(t, k, before.Name, before.Desired(), plan.NewState())
			if tc.damage != nil {
				tc.damage(k)
			}
			after := parse(t, shaped+tc.impair)
			p, err := diff(t, k, after.Name, after.Desired(), owned)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range p.Actions {
				got = append(got, a.Summary())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			apply(t, k, after.Name, after.Desired(), owned) // and it converges
		})
	}
}

// TestImpairmentRefused: a qdisc kind the kernel lacks is refused before any change,
// naming it and what to do.
func TestImpairmentRefused(t *testing.T) {
	k := fakekernel.New()
	k.MissingQdiscs = map[string]string{"netem": "CONFIG_NET_SCH_NETEM is not set"}
	topo := parse(t, shaped+"    impair: {delay: 10ms}\n")
	_, err := diff(t, k, topo.Name, topo.Desired(), plan.NewState())
	for _, want := range []string{"nothing was changed", "qdisc a:eth0: the kernel has no netem qdisc (CONFIG_NET_SCH_NETEM is not set)", "modprobe sch_netem"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	// rate: alone needs no netem.
	topo = parse(t, shaped+"    impair: {rate: 1mbit}\n")
	if _, err := diff(t, k, topo.Name, topo.Desired(), plan.NewState()); err != nil {
		t.Error(err)
	}
}
