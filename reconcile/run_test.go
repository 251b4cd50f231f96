package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/reconcile"
	"github.com/netlab-go/netlab/reconcile/fakekernel"
	"github.com/netlab-go/netlab/record"
	"github.com/netlab-go/netlab/topology"
)

func load(t *testing.T, name string) *topology.Topology {
	t.Helper()
	topo, err := topology.Load(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func stateJSON(t *testing.T, s plan.State) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func run(t *testing.T, r *reconcile.Reconciler, lab string, desired plan.State) (*reconcile.Prepared, error) {
	t.Helper()
	p, err := r.Prepare(context.Background(), lab, "lab.yaml", desired)
	if err != nil {
		return nil, err
	}
	return p, r.Execute(context.Background(), p)
}

func destroy(t *testing.T, r *reconcile.Reconciler, lab string) error {
	t.Helper()
	p, err := r.PrepareDestroy(context.Background(), lab, "", plan.NewState(), false)
	if err != nil {
		return err
	}
	return r.Execute(context.Background(), p)
}

// TestStoppedAtEveryStep stops the apply after each number of actions, as a netlab
// killed there would: the record written before the change must let the next apply
// converge, and destroy must restore the kernel exactly.
func TestStoppedAtEveryStep(t *testing.T) {
	topo := load(t, "two-namespaces.yaml")
	full, err := (&reconcile.Reconciler{Kernel: fakekernel.New(), Store: record.Store{Dir: t.TempDir()}}).
		Prepare(context.Background(), topo.Name, "", topo.Desired())
	if err != nil {
		t.Fatal(err)
	}
	for stop := 1; stop < len(full.Plan.Actions); stop++ {
		k := fakekernel.New()
		initial := stateJSON(t, k.State)
		r := &reconcile.Reconciler{Kernel: k, Store: record.Store{Dir: t.TempDir()}}
		k.FailAfter = stop
		if _, err := run(t, r, topo.Name, topo.Desired()); !errors.Is(err, fakekernel.ErrStopped) {
			t.Fatalf("stop %d: want the fake to stop, got %v", stop, err)
		}
		k.FailAfter = 0
		if stop%2 == 0 {
			// Converge, then destroy.
			if _, err := run(t, r, topo.Name, topo.Desired()); err != nil {
				t.Fatalf("stop %d: apply after a stop: %v", stop, err)
			}
			if p, _ := r.Prepare(context.Background(), topo.Name, "", topo.Desired()); !p.Plan.Empty() {
				t.Errorf("stop %d: not converged", stop)
			}
		}
		// Or destroy straight from the half-applied state.
		if err := destroy(t, r, topo.Name); err != nil {
			t.Fatalf("stop %d: destroy: %v", stop, err)
		}
		if got := stateJSON(t, k.State); got != initial {
			t.Errorf("stop %d: destroy left the kernel changed:\n got %s\nwant %s", stop, got, initial)
		}
		if labs, _ := r.Store.Labs(); len(labs) != 0 {
			t.Errorf("stop %d: a record is left: %v", stop, labs)
		}
	}
}

// TestRecord checks what the record holds after apply: the desired objects and the
// sysctl's original value; and that destroy removes the file.
func TestRecord(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state") // netlab creates it, 0700
	k := fakekernel.New()
	r := &reconcile.Reconciler{Kernel: k, Store: record.Store{Dir: dir}}
	topo := load(t, "two-namespaces.yaml")
	if _, err := run(t, r, topo.Name, topo.Desired()); err != nil {
		t.Fatal(err)
	}
	rec, err := r.Store.Load(topo.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Owned.Sysctls[plan.SysctlKey{NS: plan.Host, Name: "net.ipv4.ip_forward"}]; got != "0" {
		t.Errorf("recorded original ip_forward = %q, want 0", got)
	}
	if !rec.Owned.Namespaces["testns1"] || len(rec.Owned.Links) != 6 || rec.Topology != "lab.yaml" {
		t.Errorf("record = %+v", rec)
	}
	info, err := os.Stat(filepath.Join(dir, "twons.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("record file: %v, mode %v", err, info.Mode())
	}
	if dinfo, _ := os.Stat(dir); dinfo.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %v, want 0700", dinfo.Mode().Perm())
	}
	// A second apply writes nothing and changes nothing.
	p, err := run(t, r, topo.Name, topo.Desired())
	if err != nil || !p.Plan.Empty() {
		t.Errorf("second apply: %v, %d actions", err, len(p.Plan.Actions))
	}
	if err := destroy(t, r, topo.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "twons.json")); !os.IsNotExist(err) {
		t.Errorf("destroy left the record: %v", err)
	}
}

// TestVerifyFails: a kernel that accepts an action without doing it is caught by the
// observation after apply.
func TestVerifyFails(t *testing.T) {
	k := &lazyKernel{Kernel: fakekernel.New()}
	r := &reconcile.Reconciler{Kernel: k, Store: record.Store{Dir: t.TempDir()}}
	topo := load(t, "two-namespaces.yaml")
	_, err := run(t, r, topo.Name, topo.Desired())
	if err == nil || !strings.Contains(err.Error(), "still to do:\n  + nat host: masquerade 192.168.20.0/24") {
		t.Errorf("want a verify error naming the NAT rule, got %v", err)
	}
}

// lazyKernel pretends to add NAT rules.
type lazyKernel struct{ *fakekernel.Kernel }

func (k *lazyKernel) Apply(ctx context.Context, a plan.Action) error {
	if _, ok := a.Target.(plan.NATObject); ok {
		return nil
	}
	return k.Kernel.Apply(ctx, a)
}

// TestSavedPlan: a saved plan's fingerprint holds while nothing changes and breaks when
// the kernel does.
func TestSavedPlan(t *testing.T) {
	k := fakekernel.New()
	r := &reconcile.Reconciler{Kernel: k, Store: record.Store{Dir: t.TempDir()}}
	topo := load(t, "veth-host.yaml")
	p1, err := r.Prepare(context.Background(), topo.Name, "lab.yaml", topo.Desired())
	if err != nil {
		t.Fatal(err)
	}
	saved := p1.Save([]byte("the topology"))
	if err := saved.CheckTopology([]byte("the topology")); err != nil {
		t.Errorf("unchanged topology: %v", err)
	}
	var stale *reconcile.StalePlanError
	if err := saved.CheckTopology([]byte("another topology")); !errors.As(err, &stale) {
		t.Errorf("changed topology: want a stale plan error, got %v", err)
	}
	p2, _ := r.Prepare(context.Background(), topo.Name, "lab.yaml", topo.Desired())
	if err := p2.CheckSaved(saved); err != nil {
		t.Errorf("unchanged kernel: %v", err)
	}
	k.State.Namespaces["intruder"] = true
	k.State.Links[plan.LinkKey{NS: plan.Host, Name: "veth0-host"}] = plan.Link{Kind: plan.Veth, Alias: "netlab:veth-host"}
	p3, _ := r.Prepare(context.Background(), topo.Name, "lab.yaml", topo.Desired())
	if err := p3.CheckSaved(saved); !errors.As(err, &stale) {
		t.Errorf("changed kernel: want a stale plan error, got %v", err)
	}
}

// TestSharedSysctl: labs that set the same host sysctl share it. Destroying one leaves
// the value the others want; the last one destroyed restores the value found before
// the first, whatever the order of applies and destroys.
func TestSharedSysctl(t *testing.T) {
	forward := plan.SysctlKey{NS: plan.Host, Name: "net.ipv4.ip_forward"}
	for _, order := range [][]string{{"a", "b"}, {"b", "a"}, {"a", "b", "c"}, {"c", "a", "b"}, {"b", "c", "a"}} {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			k := fakekernel.New()
			r := &reconcile.Reconciler{Kernel: k, Store: record.Store{Dir: filepath.Join(t.TempDir(), "state")}}
			labs := slices.Sorted(slices.Values(order))
			for _, lab := range labs {
				desired := plan.NewState()
				desired.Sysctls[forward] = "1"
				if _, err := run(t, r, lab, desired); err != nil {
					t.Fatal(err)
				}
			}
			for i, lab := range order {
				if err := destroy(t, r, lab); err != nil {
					t.Fatal(err)
				}
				want := "1"
				if i == len(order)-1 {
					want = "0"
				}
				if got := k.State.Sysctls[forward]; got != want {
					t.Errorf("after destroying %s (%d of %d): ip_forward = %s, want %s", lab, i+1, len(order), got, want)
				}
				// The labs still applied see no drift.
				for _, other := range order[i+1:] {
					desired := plan.NewState()
					desired.Sysctls[forward] = "1"
					if p, err := r.Prepare(context.Background(), other, "", desired); err != nil || !p.Plan.Empty() {
						t.Errorf("lab %s after destroying %s: %v, %v", other, lab, err, p.Plan.Actions)
					}
				}
			}
		})
	}
}

// failingKernel is a kernel that fails its k-th call (Observe or Apply, counted from 1).
type failingKernel struct {
	reconcile.Kernel
	failAt, calls int
}

var errInjected = errors.New("injected fault")

func (f *failingKernel) fail() error {
	if f.calls++; f.calls == f.failAt {
		return errInjected
	}
	return nil
}

func (f *failingKernel) Observe(ctx context.Context, scope plan.Scope) (plan.State, error) {
	if err := f.fail(); err != nil {
		return plan.State{}, err
	}
	return f.Kernel.Observe(ctx, scope)
}

func (f *failingKernel) Apply(ctx context.Context, a plan.Action) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Kernel.Apply(ctx, a)
}

// TestFaultAtEveryCall fails each kernel call of an apply, then of a destroy, in turn:
// the run reports the fault, the record stays readable, the next apply converges and
// destroy puts the kernel back exactly as it was.
func TestFaultAtEveryCall(t *testing.T) {
	for _, example := range []string{"two-namespaces.yaml", "bridge.yaml", "routed.yaml"} {
		topo := load(t, example)
		// How many calls a whole apply and a whole destroy make.
		count := &failingKernel{Kernel: fakekernel.New()}
		r := &reconcile.Reconciler{Kernel: count, Store: record.Store{Dir: t.TempDir()}, Parallel: 1}
		if _, err := run(t, r, topo.Name, topo.Desired()); err != nil {
			t.Fatal(err)
		}
		applyCalls := count.calls
		if err := destroy(t, r, topo.Name); err != nil {
			t.Fatal(err)
		}
		destroyCalls := count.calls - applyCalls
		for _, phase := range []string{"apply", "destroy"} {
			calls := map[string]int{"apply": applyCalls, "destroy": destroyCalls}[phase]
			for k := 1; k <= calls; k++ {
				fake := fakekernel.New()
				initial := stateJSON(t, fake.State)
				kernel := &failingKernel{Kernel: fake}
				r := &reconcile.Reconciler{Kernel: kernel, Store: record.Store{Dir: t.TempDir()}, Parallel: 1}
				if phase == "destroy" {
					if _, err := run(t, r, topo.Name, topo.Desired()); err != nil {
						t.Fatal(err)
					}
				}
				kernel.calls, kernel.failAt = 0, k
				var err error
				if phase == "apply" {
					_, err = run(t, r, topo.Name, topo.Desired())
				} else {
					err = destroy(t, r, topo.Name)
				}
				if !errors.Is(err, errInjected) {
					t.Fatalf("%s: %s failing call %d of %d: want the fault reported, got %v", example, phase, k, calls, err)
				}
				if _, err := r.Store.Load(topo.Name); err != nil {
					t.Fatalf("%s: %s failing call %d: the record is not readable: %v", example, phase, k, err)
				}
				kernel.failAt = 0
				if _, err := run(t, r, topo.Name, topo.Desired()); err != nil {
					t.Fatalf("%s: %s failing call %d: apply after the fault: %v", example, phase, k, err)
				}
				if p, err := r.Prepare(context.Background(), topo.Name, "", topo.Desired()); err != nil || !p.Plan.Empty() {
					t.Fatalf("%s: %s failing call %d: not converged: %v %v", example, phase, k, err, p.Plan.Actions)
				}
				if err := destroy(t, r, topo.Name); err != nil {
					t.Fatalf("%s: %s failing call %d: destroy: %v", example, phase, k, err)
				}
				if got := stateJSON(t, fake.State); got != initial {
					t.Fatalf("%s: %s failing call %d: the kernel is not as it was:\n%s\nwant\n%s", example, phase, k, got, initial)
				}
			}
		}
	}
}

// TestMasquerade: the POSTROUTING rules export reads, and why it leaves others out.
func TestMasquerade(t *testing.T) {
	for _, tc := range []struct{ line, want, problem string }{
		{"-P POSTROUTING ACCEPT", "", ""},
		{"-A POSTROUTING -s 192.168.20.0/24 -j MASQUERADE", "host: masquerade 192.168.20.0/24", ""},
		{`-A POSTROUTING -s 10.0.0.0/8 -o eth0 -m comment --comment "netlab:lab" -j MASQUERADE`, "host: masquerade 10.0.0.0/8 out eth0", ""},
		{"-A POSTROUTING -s 10.0.0.0/8 -p tcp -j MASQUERADE", "", "it has -p"},
		{"-A POSTROUTING -o eth0 -j MASQUERADE", "", "it masquerades every source"},
		{"-A POSTROUTING -s 10.0.0.0/8 -j SNAT --to-source 1.2.3.4", "", "it has --to-source"},
		{"-A POSTROUTING -m conntrack --ctstate DNAT -j ACCEPT", "", "it matches conntrack"},
	} {
		r, problem := reconcile.Masquerade(tc.line, plan.Host)
		got := ""
		if r.Source.IsValid() && problem == "" {
			got = r.String()
		}
		if got != tc.want || problem != tc.problem {
			t.Errorf("%q: %q, %q; want %q, %q", tc.line, got, problem, tc.want, tc.problem)
		}
	}
}

// scopeKernel records the scope of each Observe.
type scopeKernel struct {
	*fakekernel.Kernel
	scopes []plan.Scope
}

func (k *scopeKernel) Observe(ctx context.Context, scope plan.Scope) (plan.State, error) {
	k.scopes = append(k.scopes, scope)
	return k.Kernel.Observe(ctx, scope)
}

// TestVerifyReadsWhatThePlanTouched: the Observe that verifies an apply reads again the
// contents of the namespaces the plan's actions touch (both ends of a link), the host
// among them, and only checks that the others still exist, taking their contents from
// the plan's own observation; unless the plan deletes a namespace, whose veth peers the
// kernel deletes elsewhere on its own: then it reads everything.
func TestVerifyReadsWhatThePlanTouched(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		change     func(s *plan.State)
		kept       []plan.NS // read for their existence only, the host first, then sorted
	}{
		{"a route in one namespace", "routed.yaml", func(s *plan.State) {
			s.Routes[plan.RouteKey{NS: "left", To: netip.MustParsePrefix("10.60.0.0/16")}] = plan.Route{Dev: "eth0"}
		}, []plan.NS{"right", "router"}},
		{"the MTU of a link", "routed.yaml", func(s *plan.State) {
			for key, l := range s.Links {
				if key.NS == "left" && key.Name == "eth0" {
					l.MTU = 1300
					s.Links[key] = l
				}
			}
		}, []plan.NS{"right"}},
		{"a namespace deleted", "routed.yaml", func(s *plan.State) {
			*s = without(s, "right")
		}, []plan.NS{"right"}}, // only the deleted one, as for every plan
		{"a route beside the host", "veth-host.yaml", func(s *plan.State) {
			s.Routes[plan.RouteKey{NS: "netns01", To: netip.MustParsePrefix("10.60.0.0/16")}] = plan.Route{Dev: "veth0-ns"}
		}, []plan.NS{plan.Host}},
		{"an address on the host's end", "veth-host.yaml", func(s *plan.State) {
			s.Addrs[plan.AddrKey{Link: plan.LinkKey{NS: plan.Host, Name: "veth0-host"}, Prefix: netip.MustParsePrefix("10.20.0.1/24")}] = true
		}, []plan.NS{"netns01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &scopeKernel{Kernel: fakekernel.New()}
			r := &reconcile.Reconciler{Kernel: k, Store: record.Store{Dir: t.TempDir()}}
			topo := load(t, tc.file)
			if _, err := run(t, r, topo.Name, topo.Desired()); err != nil {
				t.Fatal(err)
			}
			desired := topo.Desired()
			tc.change(&desired)
			k.scopes = nil
			p, err := run(t, r, topo.Name, desired)
			if err != nil {
				t.Fatal(err)
			}
			if p.Plan.Empty() {
				t.Fatal("the change makes no plan")
			}
			verify := k.scopes[len(k.scopes)-1]
			var got []plan.NS
			for _, ns := range verify.Namespaces {
				if verify.ExistenceOnly[ns] {
					got = append(got, ns)
				}
			}
			if !slices.Equal(got, tc.kept) {
				t.Errorf("verify read only the existence of %v, want %v", got, tc.kept)
			}
			// What was kept is what the kernel has: nothing left to do.
			again, err := r.Prepare(context.Background(), topo.Name, "lab.yaml", desired)
			if err != nil || !again.Plan.Empty() {
				t.Errorf("after the apply: plan %v, err %v", again.Plan.Actions, err)
			}
		})
	}
}

// without is s without namespace ns, the links to it and what is on them.
func without(s *plan.State, ns plan.NS) plan.State {
	out := s.Clone()
	delete(out.Namespaces, ns)
	gone := func(k plan.LinkKey) bool { return k.NS == ns || s.Links[k].Peer.NS == ns }
	for k := range out.Links {
		if gone(k) {
			delete(out.Links, k)
		}
	}
	for k := range out.Addrs {
		if gone(k.Link) {
			delete(out.Addrs, k)
		}
	}
	for k := range out.Qdiscs {
		if gone(k) {
			delete(out.Qdiscs, k)
		}
	}
	for k, r := range out.Routes {
		if k.NS == ns || r.Dev != "" && gone(plan.LinkKey{NS: k.NS, Name: r.Dev}) {
			delete(out.Routes, k)
		}
	}
	for k := range out.Sysctls {
		if k.NS == ns {
			delete(out.Sysctls, k)
		}
	}
	for k := range out.Files {
		if k.NS == ns {
			delete(out.Files, k)
		}
	}
	return out
}

// TestRestartKeepsEtcNetns: a restart loses the namespaces and the record (its
// directory is a tmpfs) and keeps /etc/netns. The lab's files there carry its mark, so
// the next apply takes them back (and its directories, which hold only them) instead
// of refusing them as someone else's, and its destroy removes them; a file at the
// lab's path without the mark is still a clash.
func TestRestartKeepsEtcNetns(t *testing.T) {
	dir := t.TempDir()
	topo := load(t, "two-namespaces.yaml")
	before := fakekernel.New()
	if _, err := run(t, &reconcile.Reconciler{Kernel: before, Store: record.Store{Dir: dir}}, topo.Name, topo.Desired()); err != nil {
		t.Fatal(err)
	}
	restarted := func() *fakekernel.Kernel {
		k := fakekernel.New()
		maps.Copy(k.State.Files, before.State.Files)
		return k
	}
	if err := os.Remove(filepath.Join(dir, topo.Name+".json")); err != nil {
		t.Fatal(err)
	}

	k := restarted()
	r := &reconcile.Reconciler{Kernel: k, Store: record.Store{Dir: dir}}
	p, err := run(t, r, topo.Name, topo.Desired())
	if err != nil {
		t.Fatalf("apply after a restart: %v", err)
	}
	var taken []string
	for _, a := range p.Plan.Actions {
		if a.Reason.Code == plan.ReasonLeftByLab {
			taken = append(taken, a.Object())
		}
	}
	if want := []string{"directory /etc/netns/testns1", "directory /etc/netns/testns2", "file /etc/netns/.netlab-twons.hosts"}; !slices.Equal(taken, want) {
		t.Errorf("taken back: %q, want %q", taken, want)
	}
	if err := destroy(t, r, topo.Name); err != nil {
		t.Fatal(err)
	}
	if len(k.State.Files) != 0 {
		t.Errorf("destroy left %v", k.State.Files)
	}

	os.Remove(filepath.Join(dir, topo.Name+".json"))
	k = restarted()
	shared := plan.SharedHosts(topo.Name)
	k.State.Files[shared] = "127.0.0.1 localhost\n" // the same path, not the lab's
	var clash *plan.ClashError
	if _, err := run(t, &reconcile.Reconciler{Kernel: k, Store: record.Store{Dir: dir}}, topo.Name, topo.Desired()); !errors.As(err, &clash) ||
		!strings.Contains(err.Error(), shared.Path()+" exists and was not written by this lab") {
		t.Errorf("a file without the mark: %v, want a clash", err)
	}
}

// TestPrepareComputing: the desired state computed while the record is read gives the
// plan Prepare gives, and its error comes before the record's (a record that cannot
// be read is not what a topology that cannot be used should be reported as).
func TestPrepareComputing(t *testing.T) {
	topo := load(t, "two-namespaces.yaml")
	r := &reconcile.Reconciler{Kernel: fakekernel.New(), Store: record.Store{Dir: t.TempDir()}}
	want, err := r.Prepare(context.Background(), topo.Name, "lab.yaml", topo.Desired())
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.PrepareComputing(context.Background(), topo.Name, "lab.yaml", func() (plan.State, error) { return topo.Desired(), nil })
	if err != nil {
		t.Fatal(err)
	}
	samePlan(t, got, want)
	if err := os.WriteFile(filepath.Join(r.Store.Dir, topo.Name+".json"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := errors.New("the topology's own error")
	if _, err := r.PrepareComputing(context.Background(), topo.Name, "lab.yaml", func() (plan.State, error) { return plan.State{}, bad }); !errors.Is(err, bad) {
		t.Errorf("error %v, want the desired state's", err)
	}
}

// TestPrepareDestroyComputing: the known state computed while the record is read
// gives the plan PrepareDestroy gives, and its error comes first.
func TestPrepareDestroyComputing(t *testing.T) {
	topo := load(t, "two-namespaces.yaml")
	r := &reconcile.Reconciler{Kernel: fakekernel.New(), Store: record.Store{Dir: t.TempDir()}}
	if _, err := run(t, r, topo.Name, topo.Desired()); err != nil {
		t.Fatal(err)
	}
	want, err := r.PrepareDestroy(context.Background(), topo.Name, "lab.yaml", topo.Desired(), false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.PrepareDestroyComputing(context.Background(), topo.Name, "lab.yaml", func() (plan.State, error) { return topo.Desired(), nil }, false)
	if err != nil {
		t.Fatal(err)
	}
	samePlan(t, got, want)
	bad := errors.New("the topology's own error")
	if _, err := r.PrepareDestroyComputing(context.Background(), topo.Name, "lab.yaml", func() (plan.State, error) { return plan.State{}, bad }, false); !errors.Is(err, bad) {
		t.Errorf("error %v, want the known state's", err)
	}
}

// samePlan fails t unless got and want have the same plan, and one with actions.
func samePlan(t *testing.T, got, want *reconcile.Prepared) {
	t.Helper()
	var g, w strings.Builder
	if err := plan.WriteText(&g, got.Plan); err != nil {
		t.Fatal(err)
	}
	if err := plan.WriteText(&w, want.Plan); err != nil {
		t.Fatal(err)
	}
	if g.String() != w.String() || got.Plan.Empty() {
		t.Errorf("plan:\n%s\nwant:\n%s", g.String(), w.String())
	}
}
