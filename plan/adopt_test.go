package plan_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/reconcile/fakekernel"
)

// TestAdopt: a lab whose record is lost (made by its script, say) clashes with Diff,
// and DiffAdopting adopts each of its objects instead; a link without the lab's mark
// is adopted by marking it, one that differs stays a clash.
func TestAdopt(t *testing.T) {
	k := fakekernel.New()
	topo := load(t, "../examples/two-namespaces.yaml")
	apply(t, k, topo.Name, topo.Desired(), plan.NewState())
	m1 := plan.LinkKey{NS: plan.Host, Name: "m1"}
	l := k.State.Links[m1]
	l.Alias, l.MAC = "", plan.MAC{} // made by hand: no mark
	k.State.Links[m1] = l
	actual, err := k.Observe(context.Background(), plan.ScopeOf(topo.Name, topo.Desired()).WithVethPeers(topo.Desired(), plan.NewState()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Diff(topo.Name, topo.Desired(), actual, plan.NewState()); err == nil {
		t.Fatal("Diff of a lab without its record does not clash")
	}
	p, err := plan.DiffAdopting(topo.Name, topo.Desired(), actual, plan.NewState())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range p.Actions {
		if a.Kind == plan.Adopt {
			got = append(got, a.Summary()+" "+fmt.Sprint(a.Commands()))
		}
	}
	want := []string{
		"= netns testns1 []", "= netns testns2 []", "= veth host:m1 <-> testns1:s1 [[ip link set m1 alias netlab:twons]]",
		"= route testns1: default via 192.168.20.101 []", "= route testns2: default via 192.168.10.101 []",
		"= sysctl host: net.ipv4.ip_forward []", "= directory /etc/netns/testns1 []", "= directory /etc/netns/testns2 []",
		"= file /etc/netns/.netlab-twons.hosts []",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || !strings.HasSuffix(p.SummaryLine(), "9 to adopt.") {
		t.Errorf("adoptions:\n%s\nwant:\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), p.SummaryLine())
	}
	l.MTU = 1400 // not as the topology wants it: no adoption
	k.State.Links[m1] = l
	topo = parse(t, strings.Replace(readFile(t, "../examples/two-namespaces.yaml"), "m1: {addresses: [192.168.20.101/24]}", "m1: {addresses: [192.168.20.101/24], mtu: 1500}", 1))
	actual, _ = k.Observe(context.Background(), plan.ScopeOf(topo.Name, topo.Desired()).WithVethPeers(topo.Desired(), plan.NewState()))
	if _, err := plan.DiffAdopting(topo.Name, topo.Desired(), actual, plan.NewState()); err == nil || !strings.Contains(err.Error(), "link host:m1") {
		t.Errorf("a link that differs is adopted: %v", err)
	}
}

// TestAdoptPairedElsewhere: a veth end made by hand with the name the topology gives
// but paired with another interface (a container's, say) is refused, not adopted:
// destroy would delete that interface with it.
func TestAdoptPairedElsewhere(t *testing.T) {
	k := fakekernel.New()
	topo := load(t, "../examples/two-namespaces.yaml")
	apply(t, k, topo.Name, topo.Desired(), plan.NewState())
	for _, end := range []plan.LinkKey{{NS: plan.Host, Name: "m1"}, {NS: "testns1", Name: "s1"}} {
		l := k.State.Links[end]
		l.Alias, l.MAC = "", plan.MAC{} // made by hand: no mark
		k.State.Links[end] = l
	}
	m1 := k.State.Links[plan.LinkKey{NS: plan.Host, Name: "m1"}]
	m1.Peer = plan.LinkKey{NS: "container", Name: "eth0"}
	k.State.Links[plan.LinkKey{NS: plan.Host, Name: "m1"}] = m1
	scope := plan.ScopeOf(topo.Name, topo.Desired())
	for _, tc := range []struct {
		name  string
		scope plan.Scope
		want  string
	}{
		{"pairing read", scope.WithVethPeers(topo.Desired(), plan.NewState()), "paired with an interface outside testns1, not testns1:s1"},
		{"pairing not read", scope, "paired with an interface outside testns1"},
	} {
		actual, err := k.Observe(context.Background(), tc.scope)
		if err != nil {
			t.Fatal(err)
		}
		_, err = plan.DiffAdopting(topo.Name, topo.Desired(), actual, plan.NewState())
		if err == nil || !strings.Contains(err.Error(), "link host:m1: the veth m1") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: a veth paired elsewhere is adopted, or refused for another reason: %v", tc.name, err)
		}
	}
}
