package plan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/reconcile/fakekernel"
	"github.com/netlab-go/netlab/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func load(t *testing.T, path string) *topology.Topology {
	t.Helper()
	topo, err := topology.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func parse(t *testing.T, src string) *topology.Topology {
	t.Helper()
	topo, err := topology.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// diff observes the fake kernel as reconcile does and diffs.
func diff(t *testing.T, k *fakekernel.Kernel, lab string, desired, owned plan.State) (plan.Plan, error) {
	t.Helper()
	actual, err := k.Observe(context.Background(), plan.ScopeOf(lab, desired, owned).WithoutContentsOf(desired, owned))
	if err != nil {
		t.Fatal(err)
	}
	return plan.Diff(lab, desired, actual, owned)
}

// apply takes the fake kernel to desired as netlab apply does, checks that a second diff
// is empty, and returns the new ownership record.
func apply(t *testing.T, k *fakekernel.Kernel, lab string, desired, owned plan.State) (plan.Plan, plan.State) {
	t.Helper()
	actual, err := k.Observe(context.Background(), plan.ScopeOf(lab, desired, owned).WithoutContentsOf(desired, owned))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Diff(lab, desired, actual, owned)
	if err != nil {
		t.Fatal(err)
	}
	intent := plan.Intent(owned, desired, actual, p)
	for _, a := range p.Actions {
		if err := k.Apply(context.Background(), a); err != nil {
			t.Fatalf("apply %s: %v", a.Summary(), err)
		}
	}
	// The record, as reconcile writes it.
	rec := plan.Final(desired, intent)
	again, err := diff(t, k, lab, desired, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Empty() {
		var b bytes.Buffer
		plan.WriteText(&b, again)
		t.Fatalf("after applying, the plan is not empty:\n%s", b.String())
	}
	return p, rec
}

func examples(t *testing.T) []string {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	return files
}

// TestGolden renders the plan of every example, from an empty host, as text, JSON and
// shell, and compares with testdata/NAME.plan.{txt,json,sh}. go test -update rewrites
// them.
func TestGolden(t *testing.T) {
	for _, file := range examples(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		topo := load(t, file)
		p, err := diff(t, fakekernel.New(), topo.Name, topo.Desired(), plan.NewState())
		if err != nil {
			t.Fatal(err)
		}
		for ext, write := range map[string]func(*bytes.Buffer, plan.Plan) error{
			"txt":  func(b *bytes.Buffer, p plan.Plan) error { return plan.WriteText(b, p) },
			"json": func(b *bytes.Buffer, p plan.Plan) error { return plan.WriteJSON(b, p) },
			"sh":   func(b *bytes.Buffer, p plan.Plan) error { return plan.WriteShell(b, p) },
		} {
			t.Run(name+"."+ext, func(t *testing.T) {
				var b bytes.Buffer
				if err := write(&b, p); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", name+".plan."+ext), b.String())
			})
		}
	}
}

// golden compares got with the file at path; go test -update rewrites the file.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the rendering:\n%s", path, got)
	}
}

// TestApplyThenDestroy: every example converges in one apply, and destroy leaves the
// fake kernel exactly as it was.
func TestApplyThenDestroy(t *testing.T) {
	for _, file := range examples(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			k := fakekernel.New()
			initial := k.State.Clone()
			topo := load(t, file)
			_, owned := apply(t, k, topo.Name, topo.Desired(), plan.NewState())
			p, _ := apply(t, k, topo.Name, plan.NewState(), owned)
			for _, a := range p.Actions {
				if a.Kind == plan.Create {
					t.Errorf("destroy creates: %s", a.Summary())
				}
			}
			if got, want := jsonOf(t, k.State), jsonOf(t, initial); got != want {
				t.Errorf("destroy left the kernel changed:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func jsonOf(t *testing.T, s plan.State) string {
	t.Helper()
	b, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOrder checks the build order (netns, link, address, route, sysctl, NAT, files), that
// each action depends only on earlier ones, and that destroy runs in the reverse order.
func TestOrder(t *testing.T) {
	topo := load(t, "../examples/two-namespaces.yaml")
	k := fakekernel.New()
	build, owned := apply(t, k, topo.Name, topo.Desired(), plan.NewState())
	rank := map[plan.ObjectType]int{plan.TypeNetns: 0, plan.TypeLink: 2, plan.TypeAddress: 3, plan.TypeRoute: 5, plan.TypeSysctl: 6, plan.TypeNAT: 7, plan.TypeFile: 8}
	last := -1
	for i, a := range build.Actions {
		if r := rank[a.Type()]; r < last {
			t.Errorf("action %d (%s) comes after a later phase", i, a.Summary())
		} else {
			last = r
		}
		for _, d := range a.DependsOn {
			if d >= i {
				t.Errorf("action %d depends on a later action %d", i, d)
			}
		}
	}
	// Both veths start from the host: they depend on their namespace's creation.
	veth := build.Actions[2]
	if veth.Object() != "veth host:m1 <-> testns1:s1" || len(veth.DependsOn) != 1 || build.Actions[veth.DependsOn[0]].Object() != "netns testns1" {
		t.Errorf("veth action %q depends on %v", veth.Object(), veth.DependsOn)
	}
	destroy, _ := apply(t, k, topo.Name, plan.NewState(), owned)
	var got []string
	for _, a := range destroy.Actions {
		got = append(got, a.Summary())
	}
	want := []string{
		"- file /etc/netns/testns1/hosts",
		"- file /etc/netns/testns2/hosts",
		"- file /etc/netns/.netlab-twons.hosts",
		"- directory /etc/netns/testns1",
		"- directory /etc/netns/testns2",
		"- nat host: masquerade 192.168.20.0/24",
		"~ sysctl host: net.ipv4.ip_forward (1 -> 0)",
		"- netns testns1",
		"- netns testns2",
	}
	// The host ends of the veths go with the namespaces, as the reason says.
	if r := destroy.Actions[7].Reason.String(); r != "the lab is destroyed; takes host:m1 with it" {
		t.Errorf("reason of the first netns deletion = %q", r)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("destroy order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestEtcNetnsFiles checks the files under /etc/netns: a directory that was there is
// used and left, a file that was there is a clash, a node's hosts file replaced by hand
// is linked again to the lab's shared one.
func TestEtcNetnsFiles(t *testing.T) {
	topo := load(t, "../examples/two-namespaces.yaml")
	k := fakekernel.New()
	dir1 := plan.FileKey{NS: "testns1"}
	hosts1 := plan.FileKey{NS: "testns1", Name: "hosts"}
	k.State.Files[dir1] = ""
	k.State.Files[plan.FileKey{NS: "testns1", Name: "resolv.conf"}] = "nameserver 192.0.2.53\n"
	_, owned := apply(t, k, topo.Name, topo.Desired(), plan.NewState())
	if _, ok := owned.Files[dir1]; ok {
		t.Error("the lab owns a directory it found")
	}
	k.State.Files[hosts1] = "edited by hand\n"
	p, err := diff(t, k, topo.Name, topo.Desired(), owned)
	if err != nil || len(p.Actions) != 1 || p.Actions[0].Summary() != "~ file /etc/netns/testns1/hosts (relinked)" {
		t.Errorf("plan after editing hosts: %v %+v", err, p.Actions)
	}
	_, owned = apply(t, k, topo.Name, topo.Desired(), owned)
	k.State.Files[hosts1] = "edited again: destroy removes it all the same\n"
	destroy, _ := apply(t, k, topo.Name, plan.NewState(), owned)
	removed := 0
	for _, a := range destroy.Actions {
		if f, ok := a.Target.(plan.FileObject); ok && !f.Key.IsDir() {
			removed++
			if _, link := plan.LinkTarget(f.Before); f.Before != plan.FileUnread && !link {
				t.Errorf("destroy read %s: %v (its content does not matter)", f.Key, f.Before)
			}
		}
	}
	if removed != 3 {
		t.Errorf("destroy removes %d files, want the shared hosts file and its two links", removed)
	}
	if _, ok := k.State.Files[dir1]; !ok || len(k.State.Files) != 2 {
		t.Errorf("destroy left %v; want the directory and resolv.conf that were there", k.State.Files)
	}

	k = fakekernel.New()
	k.State.Files[dir1] = ""
	k.State.Files[hosts1] = "someone else's\n"
	var clash *plan.ClashError
	if _, err := diff(t, k, topo.Name, topo.Desired(), plan.NewState()); !errors.As(err, &clash) || !strings.Contains(err.Error(), "/etc/netns/testns1/hosts exists and was not written by this lab") {
		t.Errorf("want a clash on hosts, got %v", err)
	}
}

// TestMacvlanModeChange: a macvlan's mode cannot be changed in place; the plan makes it
// anew, with its address.
func TestMacvlanModeChange(t *testing.T) {
	src := readFile(t, "../examples/macvlan.yaml")
	k := fakekernel.New()
	before := parse(t, src)
	_, owned := apply(t, k, before.Name, before.Desired(), plan.NewState())
	after := parse(t, strings.Replace(src, "macvlan: {parent: eth0, mode: bridge}", "macvlan: {parent: eth0, mode: private}", 1))
	p, _ := apply(t, k, after.Name, after.Desired(), owned)
	var got []string
	for _, a := range p.Actions {
		got = append(got, a.Heading())
	}
	want := []string{
		"  -/+ macvlan ns1:mv0 on host:eth0  # its macvlan mode is bridge and must be private; it is recreated",
		"  + address 10.30.0.11/24 on ns1:mv0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDrift damages the applied lab in the fake kernel: the plan names exactly what is
// missing, with the kernel's consequences, and applying it converges.
func TestDrift(t *testing.T) {
	m1 := plan.LinkKey{NS: plan.Host, Name: "m1"}
	s1 := plan.LinkKey{NS: "testns1", Name: "s1"}
	cases := []struct {
		name   string
		damage func(k *fakekernel.Kernel)
		want   []string
	}{
		{"address", func(k *fakekernel.Kernel) {
			k.Apply(context.Background(), plan.Action{Kind: plan.Delete, Target: plan.AddrObject{Key: plan.AddrKey{Link: s1, Prefix: netip.MustParsePrefix("192.168.20.102/24")}}})
		}, []string{"+ address 192.168.20.102/24 on testns1:s1", "+ route testns1: default via 192.168.20.101"}},
		{"link", func(k *fakekernel.Kernel) {
			k.Apply(context.Background(), plan.Action{Kind: plan.Delete, Target: plan.LinkObject{Key: m1}})
		}, []string{"+ veth host:m1 <-> testns1:s1", "+ address 192.168.20.101/24 on host:m1", "+ address 192.168.20.102/24 on testns1:s1", "+ route testns1: default via 192.168.20.101"}},
		{"namespace", func(k *fakekernel.Kernel) {
			k.Apply(context.Background(), plan.Action{Kind: plan.Delete, Target: plan.NetnsObject{NS: "testns2"}})
		}, []string{"+ netns testns2", "+ veth host:m2 <-> testns2:s2", "+ address 192.168.10.101/24 on host:m2", "+ address 192.168.10.102/24 on testns2:s2", "+ route testns2: default via 192.168.10.101"}},
		{"half a veth pair", func(k *fakekernel.Kernel) {
			k.MoveAway(s1)
		}, []string{"-/+ veth host:m1 <-> testns1:s1", "+ address 192.168.20.101/24 on host:m1", "+ address 192.168.20.102/24 on testns1:s1", "+ route testns1: default via 192.168.20.101"}},
		{"alias", func(k *fakekernel.Kernel) {
			l := k.State.Links[m1]
			l.Alias = ""
			k.State.Links[m1] = l
		}, []string{`~ link host:m1 (alias "" -> "netlab:twons")`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topo := load(t, "../examples/two-namespaces.yaml")
			k := fakekernel.New()
			_, owned := apply(t, k, topo.Name, topo.Desired(), plan.NewState())
			c.damage(k)
			p, _ := apply(t, k, topo.Name, topo.Desired(), owned)
			var got []string
			for _, a := range p.Actions {
				got = append(got, a.Summary())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestClash: objects the lab does not own, with the names it wants, stop the plan.
func TestClash(t *testing.T) {
	cases := []struct {
		name  string
		setup func(s plan.State)
		yaml  string
		want  string
	}{
		{"namespace", func(s plan.State) { s.Namespaces["testns1"] = true }, "", "netns testns1: /run/netns/testns1 exists and was not made by this lab"},
		{"interface", func(s plan.State) {
			s.Links[plan.LinkKey{NS: plan.Host, Name: "m1"}] = plan.Link{Kind: plan.Veth, Up: true}
		}, "", "link host:m1: an interface m1 (veth) that is not this lab's is already in host"},
		{"interface of another lab", func(s plan.State) {
			s.Links[plan.LinkKey{NS: plan.Host, Name: "m2"}] = plan.Link{Kind: plan.Veth, Alias: "netlab:other", Up: true}
		}, "", "link host:m2: an interface m2 (veth)"},
		{"address", func(s plan.State) {
			s.Addrs[plan.AddrKey{Link: plan.LinkKey{NS: plan.Host, Name: "eth0"}, Prefix: netip.MustParsePrefix("192.168.20.101/32")}] = true
		}, "", "address 192.168.20.101/24 on host:m1: the address is already on host:eth0 as 192.168.20.101/32"},
		{"host default route", nil, strings.Replace(readFile(t, "../examples/two-namespaces.yaml"),
			"      m2: {addresses: [192.168.10.101/24]}\n", "      m2: {addresses: [192.168.10.101/24]}\n    routes: [{to: default, via: 192.168.10.102}]\n", 1),
			"route host: default: a route to default via 10.0.2.2 that is not this lab's is already there"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := fakekernel.New()
			if c.setup != nil {
				c.setup(k.State)
			}
			topo := load(t, "../examples/two-namespaces.yaml")
			if c.yaml != "" {
				topo = parse(t, c.yaml)
			}
			_, err := diff(t, k, topo.Name, topo.Desired(), plan.NewState())
			var ce *plan.ClashError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a clash naming %q, got %v", c.want, err)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAnyStateReachesAnyOther walks variants of a lab in random order, as tailscale's
// TestRouterStates does: every apply converges in one plan, no namespace that both
// variants have is recreated, and destroy restores the kernel.
func TestAnyStateReachesAnyOther(t *testing.T) {
	base, _, _ := strings.Cut(readFile(t, "../examples/two-namespaces.yaml"), "# The reachability table") // without expect:
	variants := map[string]string{
		"base":            base,
		"address changed": strings.Replace(base, "192.168.20.102/24", "192.168.20.103/24", 1),
		"link removed": strings.NewReplacer("  testns2:\n    interfaces: {s2: {addresses: [192.168.10.102/24]}}\n    routes: [{to: default, via: 192.168.10.101}]\n", "",
			"      m2: {addresses: [192.168.10.101/24]}\n", "", "  - [host:m2, testns2:s2]\n", "").Replace(base),
		"namespace added":    strings.Replace(base, "links:\n", "  testns3:\n    interfaces: {s3: {addresses: [\"fd00:3::2/64\"]}}\n    routes: [{to: default, via: \"fd00:3::1\"}]\n  router:\n    forwarding: true\n    interfaces: {r3: {addresses: [\"fd00:3::1/64\"]}}\nlinks:\n  - [router:r3, testns3:s3]\n", 1),
		"forwarding off":     strings.Replace(base, "forwarding: true", "forwarding: false", 1),
		"no nat":             strings.Replace(base, "    nat:\n      - masquerade: 192.168.20.0/24       # iptables -t nat -A POSTROUTING -s 192.168.20.0/24 -j MASQUERADE\n", "", 1),
		"route moved":        strings.Replace(base, "routes: [{to: default, via: 192.168.20.101}]", "routes: [{to: 192.168.10.0/24, via: 192.168.20.101}]", 1),
		"address moved":      strings.NewReplacer("m1: {addresses: [192.168.20.101/24]}", "m1: {addresses: [192.168.20.101/24, 10.77.0.1/24]}").Replace(base),
		"address moved back": strings.NewReplacer("m2: {addresses: [192.168.10.101/24]}", "m2: {addresses: [192.168.10.101/24, 10.77.0.1/24]}").Replace(base),
		// The same name, another kind: the veth end m1 becomes a bridge that the link joins.
		"m1 a bridge": strings.Replace(base, "    interfaces:\n      m1: {addresses: [192.168.20.101/24]}\n",
			"    bridges: {m1: {addresses: [192.168.20.101/24]}}\n    interfaces:\n", 1),
	}
	names := make([]string, 0, len(variants))
	for n := range variants {
		names = append(names, n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 5 {
		k := fakekernel.New()
		initial := jsonOf(t, k.State)
		owned := plan.NewState()
		var prev *topology.Topology
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		for _, name := range append(append([]string{}, names...), names[:3]...) {
			topo := parse(t, variants[name])
			var p plan.Plan
			p, owned = apply(t, k, topo.Name, topo.Desired(), owned)
			for _, a := range p.Actions {
				if o, ok := a.Target.(plan.NetnsObject); ok && prev != nil && prev.Node(string(o.NS)) != nil && topo.Node(string(o.NS)) != nil {
					t.Errorf("round %d, %s: namespace %s recreated", round, name, o.NS)
				}
			}
			prev = topo
		}
		apply(t, k, "twons", plan.NewState(), owned)
		if got := jsonOf(t, k.State); got != initial {
			t.Errorf("round %d: destroy left the kernel changed:\n got %s\nwant %s", round, got, initial)
		}
	}
}

// TestOwnershipByMark: a recorded link is deleted only when the kernel shows it as the
// lab's, by its alias or by the address the lab gives it at creation; the record alone
// is not enough.
func TestOwnershipByMark(t *testing.T) {
	key := plan.LinkKey{NS: plan.Host, Name: "v0"}
	cases := []struct {
		name   string
		have   plan.Link
		delete bool
	}{
		{"alias", plan.Link{Kind: plan.Veth, Alias: plan.Alias("lab")}, true},
		{"address from creation", plan.Link{Kind: plan.Veth, MAC: plan.LinkMAC("lab", key)}, true},
		{"another lab's address", plan.Link{Kind: plan.Veth, MAC: plan.LinkMAC("other", key)}, false},
		{"unmarked", plan.Link{Kind: plan.Veth}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := fakekernel.New()
			k.State.Links[key] = c.have
			owned := plan.NewState()
			owned.Links[key] = plan.Link{Kind: plan.Veth, Alias: plan.Alias("lab"), Up: true}
			p, err := diff(t, k, "lab", plan.NewState(), owned)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(p.Actions) == 1 && p.Actions[0].Kind == plan.Delete; got != c.delete {
				t.Errorf("deleted = %v, want %v; plan %v", got, c.delete, p.Actions)
			}
		})
	}
}

// TestSharedHostsFirst: when the lab's shared hosts file is made anew (here: a destroy
// stopped after removing it, with the links left), it is written before every link to
// it is made again, and each link waits for it.
func TestSharedHostsFirst(t *testing.T) {
	topo := load(t, "../examples/two-namespaces.yaml")
	k := fakekernel.New()
	_, owned := apply(t, k, topo.Name, topo.Desired(), plan.NewState())
	delete(k.State.Files, plan.SharedHosts(topo.Name))
	for _, ns := range []plan.NS{"testns1", "testns2"} {
		k.State.Files[plan.FileKey{NS: ns, Name: "hosts"}] = "the old content, linked to no file of the lab's now\n"
	}
	p, err := diff(t, k, topo.Name, topo.Desired(), owned)
	if err != nil {
		t.Fatal(err)
	}
	shared := -1
	for i, a := range p.Actions {
		o, ok := a.Target.(plan.FileObject)
		switch {
		case ok && o.Key.Shared():
			shared = i
		case ok && o.Key.Name == "hosts":
			if shared < 0 || !slices.Contains(a.DependsOn, shared) {
				t.Errorf("%s comes before the shared file or does not wait for it: %v", a.Summary(), a.DependsOn)
			}
		}
	}
	if shared < 0 {
		t.Errorf("the shared file is not written: %v", p.Actions)
	}
}

// TestIntentFromEmptyIsFinal: the intent of an apply from an empty kernel names exactly
// the objects the lab then owns, so that apply writes the record once (reconcile leaves
// the final record unwritten when it is the intent).
func TestIntentFromEmptyIsFinal(t *testing.T) {
	for _, file := range examples(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			topo := load(t, file)
			desired, none := topo.Desired(), plan.NewState()
			k := fakekernel.New() // a machine with an eth0, for macvlans
			actual, err := k.Observe(context.Background(), plan.ScopeOf(topo.Name, desired, none).WithoutContentsOf(desired, none))
			if err != nil {
				t.Fatal(err)
			}
			p, err := plan.Diff(topo.Name, desired, actual, none)
			if err != nil {
				t.Fatal(err)
			}
			intent := plan.Intent(none, desired, actual, p)
			if final := plan.Final(desired, intent); !reflect.DeepEqual(intent, final) {
				a, _ := json.Marshal(intent)
				b, _ := json.Marshal(final)
				t.Errorf("the intent is not the final record:\nintent %s\nfinal  %s", a, b)
			}
		})
	}
}
