package reconcile

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/netlab-go/netlab/internal/phase"
	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/record"
)

// Reconciler runs netlab's cycle for one lab at a time: observe the kernel, diff it
// against the desired state and the lab's record, record the intent, apply, record the
// result, observe again to verify. The caller holds the store's lock around it.
type Reconciler struct {
	Kernel Kernel
	Store  record.Store
	// OnAction, when set, is called after each action is done, with its index; calls
	// never overlap.
	OnAction func(i int, a plan.Action)
	// Parallel bounds how many actions run at once; 0 means GOMAXPROCS. Actions start
	// only when the actions they depend on are done, so any bound gives the same result.
	Parallel int
	// Adopt makes Prepare adopt what the kernel has as desired but the lab does not own
	// (plan.DiffAdopting), instead of refusing it as a clash.
	Adopt bool
	// TakeOver lets Prepare plan the lab from a topology file other than the one it was
	// applied from while that one still exists (see OtherFileError), making it the lab's.
	TakeOver bool
}

// FreshSysctls is what a Kernel may offer: the values of the net.* sysctls of a fresh
// namespace, by dotted name, which an adopted sysctl goes back to on destroy.
type FreshSysctls interface {
	FreshSysctls() (map[string]string, error)
}

// FreshSysctls reads the net.* sysctls of a fresh namespace.
func (k *Linux) FreshSysctls() (map[string]string, error) { return freshSysctls() }

// Prepared is a plan computed from the kernel and the lab's record, with what it was
// computed from, ready to be executed.
type Prepared struct {
	Lab      string
	Topology string // the topology file, "" for a destroy from the record alone
	Desired  plan.State
	Record   record.Record
	Actual   plan.State
	Plan     plan.Plan

	shared map[plan.SysctlKey]sharedSysctl // sysctls that other labs set
	// fresh holds the values of a fresh namespace's sysctls, read when the plan adopts
	// one: the value destroy sets it back to.
	fresh map[string]string
}

// Prepare observes what the lab concerns and computes the plan to reach desired. A
// clash with objects the lab does not own is returned as a *plan.ClashError.
func (r *Reconciler) Prepare(ctx context.Context, lab, topology string, desired plan.State) (*Prepared, error) {
	return r.PrepareComputing(ctx, lab, topology, func() (plan.State, error) { return desired, nil })
}

// PrepareComputing is Prepare with the desired state computed by the function desired
// on another goroutine while the lab's record is read and decoded (see loadComputing).
// An error of desired comes first.
func (r *Reconciler) PrepareComputing(ctx context.Context, lab, topology string, desired func() (plan.State, error)) (*Prepared, error) {
	want, rec, err := r.loadComputing(lab, desired)
	if want.err != nil {
		return nil, want.err
	}
	if err != nil {
		return nil, err
	}
	if e := checkLabFile(lab, topology, rec.Topology); e != nil && !r.TakeOver {
		e.Effect = "applying it would change what that file built"
		e.Fix = fmt.Sprintf("Give %s a name of its own, or destroy the lab first (netlab destroy %s); if %s is now the lab's file, pass --take-over.",
			topology, rec.Topology, topology)
		return nil, e
	}
	shared, err := r.sharedSysctls(lab)
	if err != nil {
		return nil, err
	}
	return r.prepare(ctx, lab, topology, want.state, rec, want.state, shared)
}

// PrepareDestroy computes the plan that removes everything the lab owns. Beside the
// objects in the lab's record, it looks at those of known (the lab's topology, when
// given), so that links and NAT rules carrying the lab's mark are found even without a
// record.
//
// When the record is lost (none, or a *record.CorruptError while known is given, or
// discover is set), the lab is found by its marks alone (plan.Claim): in known, and,
// with discover, in every namespace under /run/netns and /etc/netns. What cannot be
// proved the lab's is left, and the plan's warnings name it.
func (r *Reconciler) PrepareDestroy(ctx context.Context, lab, topology string, known plan.State, discover bool) (*Prepared, error) {
	return r.PrepareDestroyComputing(ctx, lab, topology, func() (plan.State, error) { return known, nil }, discover)
}

// PrepareDestroyComputing is PrepareDestroy with known computed by the function known
// while the record is read, as PrepareComputing does; its error comes first.
func (r *Reconciler) PrepareDestroyComputing(ctx context.Context, lab, topology string, known func() (plan.State, error), discover bool) (*Prepared, error) {
	computed, rec, err := r.loadComputing(lab, known)
	if computed.err != nil {
		return nil, computed.err
	}
	return r.prepareDestroy(ctx, lab, topology, rec, err, computed.state, discover)
}

// computed is the result of a function run by loadComputing.
type computed struct {
	state plan.State
	err   error
}

// loadComputing reads the lab's record while f runs on another goroutine: a large
// lab's record and its desired state are its longest steps before observing, and
// neither needs the other.
func (r *Reconciler) loadComputing(lab string, f func() (plan.State, error)) (computed, record.Record, error) {
	c := make(chan computed, 1)
	go func() {
		s, err := f()
		c <- computed{s, err}
	}()
	end := phase.Begin("load record")
	rec, err := r.Store.Load(lab)
	end()
	return <-c, rec, err
}

// prepareDestroy is PrepareDestroy once the record is read (rec, or err).
func (r *Reconciler) prepareDestroy(ctx context.Context, lab, topology string, rec record.Record, err error, known plan.State, discover bool) (*Prepared, error) {
	var corrupt *record.CorruptError
	switch {
	case errors.As(err, &corrupt) && (!known.Empty() || discover):
		rec = record.Record{Lab: lab, Owned: plan.NewState()}
	case err != nil:
		return nil, err
	case !rec.Owned.Empty():
		if e := checkLabFile(lab, topology, rec.Topology); e != nil {
			e.Effect = "destroying it would remove what that file built"
			e.Fix = fmt.Sprintf("Destroy the lab by its file (netlab destroy %s) or by its name (netlab destroy --name %s).", rec.Topology, lab)
			return nil, e
		}
		shared, err := r.sharedSysctls(lab)
		if err != nil {
			return nil, err
		}
		return r.prepare(ctx, lab, topology, plan.NewState(), rec, known, shared)
	}
	known = known.Clone()
	if discover {
		nss, err := r.Kernel.Namespaces(ctx)
		if err != nil {
			return nil, err
		}
		for _, ns := range nss {
			known.Namespaces[ns] = true
		}
	}
	files := []plan.FileKey{plan.SharedHosts(lab)}
	for ns := range known.Namespaces {
		files = append(files, plan.FileKey{NS: ns}, plan.FileKey{NS: ns, Name: "hosts"}, plan.FileKey{NS: ns, Name: "resolv.conf"})
	}
	actual, err := r.Kernel.Observe(ctx, plan.ScopeOf(lab, known).ForDestroyWithoutRecord(files))
	if err != nil {
		return nil, err
	}
	claimed, warnings := plan.Claim(lab, known, actual)
	rec.Owned = claimed
	p, err := plan.Diff(lab, plan.NewState(), actual, claimed)
	if err != nil {
		return nil, err
	}
	why := "its record is lost"
	if corrupt != nil {
		why = "its record is not usable (" + corrupt.Err.Error() + ")"
	}
	if !p.Empty() || corrupt != nil {
		p.Warnings = append([]string{"lab " + lab + ": " + why + "; destroying what carries its marks"}, append(warnings, p.Warnings...)...)
	}
	return &Prepared{Lab: lab, Topology: topology, Desired: plan.NewState(), Record: rec, Actual: actual, Plan: p}, nil
}

// prepare observes and diffs; shared are the sysctls other labs set (sharedSysctls).
func (r *Reconciler) prepare(ctx context.Context, lab, topology string, desired plan.State, rec record.Record, known plan.State,
	shared map[plan.SysctlKey]sharedSysctl) (*Prepared, error) {
	return r.prepareKeeping(ctx, lab, topology, desired, rec, known, shared, kept{})
}

// kept is what a verifying prepare takes from the plan's own observation instead of
// reading it again: the contents of the namespaces that no action of the plan touched
// (see untouched). Their existence is still checked. ipv4Only says that the lab has no
// IPv6, so that the verifying observe reads IPv4 addresses and routes only
// (plan.Scope.IPv4Only).
type kept struct {
	actual     plan.State
	namespaces map[plan.NS]bool
	ipv4Only   bool
}

// prepareKeeping is prepare, with the namespaces of keep observed only for their
// existence and their contents taken from keep.actual.
func (r *Reconciler) prepareKeeping(ctx context.Context, lab, topology string, desired plan.State, rec record.Record, known plan.State,
	shared map[plan.SysctlKey]sharedSysctl, keep kept) (*Prepared, error) {
	scope := plan.ScopeOf(lab, known, desired, rec.Owned).WithoutContentsOf(desired, rec.Owned)
	if r.Adopt {
		scope = scope.WithVethPeers(desired, rec.Owned)
	}
	scope.IPv4Only = keep.ipv4Only
	for _, ns := range scope.Namespaces {
		if keep.namespaces[ns] {
			scope.ExistenceOnly[ns] = true
		}
	}
	end := phase.Begin("observe")
	actual, err := r.Kernel.Observe(ctx, scope)
	end()
	if err != nil {
		return nil, err
	}
	if len(keep.namespaces) > 0 {
		keepContents(&actual, keep)
	}
	// A sysctl the lab no longer sets goes back to the value it found, unless other labs
	// still set it: then to the value they want, or, when they disagree, it is left.
	owned, leave := rec.Owned, map[plan.SysctlKey]string{}
	for k := range rec.Owned.Sysctls {
		_, want := desired.Sysctls[k]
		if sh, held := shared[k]; held && !want {
			if len(leave) == 0 {
				owned = rec.Owned.Clone() // the record itself stays as it is
			}
			v, agree := sh.wanted()
			if agree {
				owned.Sysctls[k] = v
			} else {
				delete(owned.Sysctls, k)
			}
			leave[k] = strings.Join(sh.labs(), ", ")
		}
	}
	diff := plan.Diff
	if r.Adopt {
		diff = plan.DiffAdopting
	}
	end = phase.Begin("diff")
	p, err := diff(lab, desired, actual, owned)
	end()
	if err != nil {
		return nil, err
	}
	var fresh map[string]string
	for _, a := range p.Actions {
		if _, ok := a.Target.(plan.SysctlObject); ok && a.Kind == plan.Adopt && fresh == nil {
			if fk, ok := r.Kernel.(FreshSysctls); ok {
				if fresh, err = fk.FreshSysctls(); err != nil {
					return nil, err
				}
			}
		}
	}
	for i, a := range p.Actions {
		if o, ok := a.Target.(plan.SysctlObject); ok && leave[o.Key] != "" {
			p.Actions[i].Reason = plan.Reason{Code: plan.ReasonSharedSysctl, Detail: leave[o.Key]}
		}
	}
	return &Prepared{Lab: lab, Topology: topology, Desired: desired, Record: rec, Actual: actual, Plan: p, shared: shared, fresh: fresh}, nil
}

// keepContents copies into actual what keep.actual has in the namespaces of keep that
// actual shows still there: every kind of object an Observe of only their existence
// does not read (links, addresses, routes, qdiscs, sysctls, NAT rules).
func keepContents(actual *plan.State, keep kept) {
	in := func(ns plan.NS) bool { return keep.namespaces[ns] && live(actual, ns) }
	keepIn(actual.Links, keep.actual.Links, func(k plan.LinkKey) bool { return in(k.NS) })
	keepIn(actual.Addrs, keep.actual.Addrs, func(k plan.AddrKey) bool { return in(k.Link.NS) })
	keepIn(actual.Routes, keep.actual.Routes, func(k plan.RouteKey) bool { return in(k.NS) })
	keepIn(actual.Qdiscs, keep.actual.Qdiscs, func(k plan.LinkKey) bool { return in(k.NS) })
	keepIn(actual.Sysctls, keep.actual.Sysctls, func(k plan.SysctlKey) bool { return in(k.NS) })
	keepIn(actual.NAT, keep.actual.NAT, func(r plan.NATRule) bool { return in(r.NS) })
	keepIn(actual.PlainNAT, keep.actual.PlainNAT, func(r plan.NATRule) bool { return in(r.NS) })
}

// keepIn copies into dst the entries of src whose key is kept.
func keepIn[K comparable, V any](dst, src map[K]V, kept func(K) bool) {
	for k, v := range src {
		if kept(k) {
			dst[k] = v
		}
	}
}

// untouched returns the namespaces of the plan's observation, the host among them, that
// no action of the plan changes: those whose contents the verifying Observe takes from
// that observation. It returns nil when the plan deletes or replaces a namespace: the
// kernel then deletes that namespace's veth peers in other namespaces later, on its
// own. A link's action touches the namespaces of both its ends, as the topology and as
// the record know them.
func untouched(p *Prepared, owned plan.State) map[plan.NS]bool {
	touched := map[plan.NS]bool{}
	for _, a := range p.Plan.Actions {
		if _, ok := a.Target.(plan.NetnsObject); ok && (a.Kind == plan.Delete || a.Kind == plan.Replace) {
			return nil
		}
		for _, ns := range a.Namespaces() {
			touched[ns] = true
		}
		if o, ok := a.Target.(plan.LinkObject); ok {
			for _, l := range []plan.Link{p.Desired.Links[o.Key], owned.Links[o.Key], o.Before, o.After} {
				for _, ns := range []plan.NS{l.Peer.NS, l.Parent.NS} {
					if ns != "" { // a link without a peer or parent
						touched[ns] = true
					}
				}
			}
		}
	}
	left := map[plan.NS]bool{}
	for ns := range p.Actual.Namespaces {
		if !touched[ns] {
			left[ns] = true
		}
	}
	if !touched[plan.Host] {
		left[plan.Host] = true
	}
	return left
}

// sharedSysctl is a sysctl that other labs set: the value it had before the first of
// them, and the value each wants.
type sharedSysctl struct {
	original string
	wants    map[string]string // by lab
}

func (sh sharedSysctl) labs() []string { return slices.Sorted(maps.Keys(sh.wants)) }

// wanted returns the value the labs want, and whether they agree on it.
func (sh sharedSysctl) wanted() (string, bool) {
	var v string
	for i, lab := range sh.labs() {
		if i > 0 && sh.wants[lab] != v {
			return "", false
		}
		v = sh.wants[lab]
	}
	return v, v != ""
}

// sharedSysctls reads the records of the labs other than lab: the sysctls they set
// (those their records hold a value to restore for). A record that cannot be read is
// passed over: it concerns another lab, whose own runs report it.
func (r *Reconciler) sharedSysctls(lab string) (map[plan.SysctlKey]sharedSysctl, error) {
	labs, err := r.Store.Labs()
	if err != nil {
		return nil, err
	}
	shared := map[plan.SysctlKey]sharedSysctl{}
	for _, other := range labs {
		if other == lab {
			continue
		}
		rec, err := r.Store.Load(other)
		if err != nil {
			continue
		}
		for k, orig := range rec.Owned.Sysctls {
			sh, ok := shared[k]
			if !ok {
				sh = sharedSysctl{original: orig, wants: map[string]string{}}
			}
			sh.wants[other] = rec.Wants[k]
			shared[k] = sh
		}
	}
	return shared, nil
}

// Fingerprint identifies what the plan was computed from: the desired state, the
// observed kernel and the lab's record. A saved plan is carried out only while the
// fingerprint is unchanged.
func (p *Prepared) Fingerprint() string {
	h := sha256.New()
	for _, s := range []plan.State{p.Desired, p.Actual, p.Record.Owned} {
		b, _ := json.Marshal(s) // a State always encodes
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Execute carries out a prepared plan. It first adds to the lab's record every object
// the plan creates or changes (so a run killed midway leaves them recorded), then applies
// the actions, each after those it depends on and up to Parallel at once, stopping at
// the first failure (or, when ctx is cancelled, at an action boundary: a *StoppedError),
// then observes again until the kernel has let go of what it deleted, and only then
// records exactly the desired state: anything still left to do is an error naming it.
func (r *Reconciler) Execute(ctx context.Context, p *Prepared) error {
	intent := withIntent(p.Record, p)
	if p.Plan.Empty() {
		// Nothing to change in the kernel; but a destroyed lab's record goes, and a
		// sysctl the lab now shares with others is recorded.
		if p.Desired.Empty() && !p.Record.Owned.Empty() || !maps.Equal(intent.Owned.Sysctls, p.Record.Owned.Sysctls) {
			return r.Store.Save(finalRecord(p, intent))
		}
		return nil
	}
	if !intent.Stored(p.Record) { // a destroy's intent is the record as it is
		end := phase.Begin("save record")
		err := r.Store.Save(intent)
		end()
		if err != nil {
			return err
		}
	}
	end := phase.Begin("run actions")
	err := r.run(ctx, p.Plan.Actions)
	end()
	if err != nil {
		return err
	}
	final := finalRecord(p, intent)
	// Whether the final record is the intent already is found while the verification
	// waits on the kernel: a comparison of two states of the whole lab (7.5 ms for a
	// thousand namespaces) that need not wait for the verification to end. Neither
	// record is changed by the verification.
	unchanged := make(chan bool, 1)
	go func() { unchanged <- reflect.DeepEqual(final, intent) }()
	// Verify against the intent record: it names everything the plan had to delete
	// too. The intent stays the record until the kernel has let go of all that: a run
	// killed while it waits leaves a record that still names the veths on their way
	// out, so the next destroy removes them instead of finding nothing to do.
	end = phase.Begin("verify, settle")
	after, err := r.settle(ctx, p, intent)
	end()
	same := <-unchanged
	var stopped *StoppedError
	if errors.As(err, &stopped) {
		return err
	} else if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	// A plan that deletes nothing usually has an intent that is the final record
	// already: the record on disk is then left as it is (a write, and on a disk its
	// fsync, spared).
	if !same {
		end = phase.Begin("save record")
		err = r.Store.Save(final)
		end()
		if err != nil {
			return err
		}
	}
	if !after.Plan.Empty() {
		var left []string
		for _, a := range after.Plan.Actions {
			left = append(left, strings.TrimSpace(a.Heading()))
		}
		return fmt.Errorf("the kernel differs from the plan after applying it; still to do:\n  %s", strings.Join(left, "\n  "))
	}
	return nil
}

// StoppedError says that a run was stopped, its context cancelled (by a signal, say),
// at an action boundary: Done of Total actions were carried out and the record names
// every object of the plan, so the next apply converges and destroy removes them.
// Settling is set when every action was done and the run was waiting for the kernel to
// let go of what it deleted.
type StoppedError struct {
	Done, Total int
	Settling    bool
	Cause       error // context.Cause of the run's context
}

func (e *StoppedError) Error() string {
	if e.Settling {
		return fmt.Sprintf("stopped after all %d actions, while waiting for the kernel to finish: %v", e.Total, e.Cause)
	}
	return fmt.Sprintf("stopped after %d of %d actions: %v", e.Done, e.Total, e.Cause)
}

func (e *StoppedError) Unwrap() error { return e.Cause }

// finalRecord is the record after the plan is carried out: exactly the desired state,
// with the values to restore from the intent record, and without what was there before
// the lab (a directory, an entry of an existing namespace).
func finalRecord(p *Prepared, intent record.Record) record.Record {
	return record.Record{Lab: p.Lab, Topology: p.Topology, Owned: plan.Final(p.Desired, intent.Owned), Wants: maps.Clone(p.Desired.Sysctls)}
}

// run carries out the actions, each once the actions it depends on are done, with at
// most r.Parallel at a time, lowest index first among those ready. At the first error it
// starts nothing more, waits for the actions under way, and returns that error. When ctx
// is cancelled it does the same, and returns a *StoppedError: an action under way is
// never cut short (it runs under a context that is not cancelled).
func (r *Reconciler) run(ctx context.Context, actions []plan.Action) error {
	workers := r.Parallel
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	pending := make([]int, len(actions))
	dependents := make([][]int, len(actions))
	ready := &indexHeap{}
	for i, a := range actions {
		pending[i] = len(a.DependsOn)
		for _, d := range a.DependsOn {
			dependents[d] = append(dependents[d], i)
		}
		if pending[i] == 0 {
			heap.Push(ready, i)
		}
	}
	type result struct {
		i   int
		err error
	}
	// The same workers carry out every action: a goroutine of its own for each grew its
	// stack anew in netlink's receive, whose buffer of 64 KiB is on the stack (0.27 s of
	// CPU in netlab --cpuprofile of an apply of the 5000-namespace star).
	work, results := make(chan int), make(chan result, workers)
	defer close(work)
	actionCtx := context.WithoutCancel(ctx)
	for range workers {
		go func() {
			for i := range work {
				results <- result{i, r.Kernel.Apply(actionCtx, actions[i])}
			}
		}()
	}
	var firstErr error
	inflight, done := 0, 0
	start := func() {
		// Fewer than workers are in flight, so a worker is waiting for work.
		for firstErr == nil && ctx.Err() == nil && inflight < workers && ready.Len() > 0 {
			inflight++
			work <- heap.Pop(ready).(int)
		}
	}
	for start(); inflight > 0; {
		res := <-results
		inflight--
		if res.err != nil {
			if firstErr == nil {
				firstErr = res.err
			}
			continue
		}
		done++
		for _, d := range dependents[res.i] {
			if pending[d]--; pending[d] == 0 {
				heap.Push(ready, d)
			}
		}
		// The next actions start before OnAction reports this one, so that no worker
		// waits while the report is written.
		start()
		if r.OnAction != nil {
			r.OnAction(res.i, actions[res.i])
		}
	}
	if firstErr == nil && done < len(actions) && ctx.Err() != nil {
		return &StoppedError{Done: done, Total: len(actions), Cause: context.Cause(ctx)}
	}
	return firstErr
}

// indexHeap is a min-heap of action indexes.
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// SettleTimeout bounds how long Execute waits for the kernel to finish tearing down
// deleted namespaces.
const SettleTimeout = 2 * time.Minute

// settle observes the kernel after a plan is carried out. The kernel deletes a
// namespace's links, and their veth peers in other namespaces, asynchronously after the
// namespace is unmounted; while the only thing left is such links to delete, settle
// waits for them to go (on the kernel's notifications, when the Kernel is a
// LinkWaiter, else observing again after a pause) and observes again, so that netlab
// returns only when the kernel has let go of them and an immediate re-apply cannot
// meet a leftover interface.
func (r *Reconciler) settle(ctx context.Context, p *Prepared, intent record.Record) (*Prepared, error) {
	deadline := time.Now().Add(SettleTimeout)
	stopped := func() error {
		return &StoppedError{Done: len(p.Plan.Actions), Total: len(p.Plan.Actions), Settling: true, Cause: context.Cause(ctx)}
	}
	wait := time.Millisecond
	keep := kept{actual: p.Actual, namespaces: untouched(p, intent.Owned),
		ipv4Only: !p.Desired.HasIPv6() && !intent.Owned.HasIPv6()}
	for {
		after, err := r.prepareKeeping(ctx, p.Lab, p.Topology, p.Desired, intent, p.Desired, p.shared, keep)
		if err != nil && ctx.Err() != nil {
			return nil, stopped()
		}
		if err != nil || !onlyPendingDeletes(after.Plan, p.Plan) || time.Now().After(deadline) {
			return after, err
		}
		if w, ok := r.Kernel.(LinkWaiter); ok {
			// Listen until the kernel has deleted them, then observe once more.
			if err := w.WaitLinksGone(ctx, pendingLinks(after.Plan), deadline); err != nil {
				return nil, err
			}
			if ctx.Err() != nil {
				return nil, stopped()
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, stopped()
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// pendingLinks are the links a plan of only pending deletes deletes.
func pendingLinks(left plan.Plan) []plan.LinkKey {
	var keys []plan.LinkKey
	for _, a := range left.Actions {
		if o, ok := a.Target.(plan.LinkObject); ok {
			keys = append(keys, o.Key)
		}
	}
	return keys
}

// onlyPendingDeletes reports whether every action left is the deletion of a link that
// vanishes with a namespace the done plan deleted.
func onlyPendingDeletes(left, done plan.Plan) bool {
	deleted := map[plan.NS]bool{}
	for _, a := range done.Actions {
		if o, ok := a.Target.(plan.NetnsObject); ok && a.Kind == plan.Delete {
			deleted[o.NS] = true
		}
	}
	for _, a := range left.Actions {
		if o, ok := a.Target.(plan.LinkObject); !ok || a.Kind != plan.Delete || !deleted[o.Before.Peer.NS] {
			return false
		}
	}
	return !left.Empty()
}

// withIntent returns the record extended with every object the plan creates or
// changes, and the value each sysctl it changes has now, unless recorded already.
func withIntent(rec record.Record, p *Prepared) record.Record {
	// Every sysctl the lab sets, changed by this plan or already at its value, with the
	// value to go back to: the one before the first lab that set it, when other labs
	// set it too, else the one the kernel has now (plan.Intent).
	owned := rec.Owned.Clone()
	for k := range p.Desired.Sysctls {
		if _, recorded := owned.Sysctls[k]; !recorded {
			if sh, held := p.shared[k]; held {
				owned.Sysctls[k] = sh.original
			}
		}
	}
	// An adopted sysctl goes back to a fresh namespace's value: the one it had before
	// whatever set it is not known.
	for _, a := range p.Plan.Actions {
		if o, ok := a.Target.(plan.SysctlObject); ok && a.Kind == plan.Adopt {
			if _, recorded := owned.Sysctls[o.Key]; !recorded {
				if v, ok := freshValue(p.fresh, o.Key.Name); ok {
					owned.Sysctls[o.Key] = v
				}
			}
		}
	}
	owned = plan.Intent(owned, p.Desired, p.Actual, p.Plan)
	topology := rec.Topology
	if p.Topology != "" {
		topology = p.Topology
	}
	wants := maps.Clone(rec.Wants)
	if wants == nil {
		wants = record.Sysctls{}
	}
	maps.Copy(wants, p.Desired.Sysctls)
	return record.Record{Lab: p.Lab, Topology: topology, Owned: owned, Wants: wants}
}

// freshValue is the value of the sysctl name in a fresh namespace: its own, or for an
// interface's, that of the interface "default".
func freshValue(fresh map[string]string, name string) (string, bool) {
	if v, ok := fresh[name]; ok {
		return v, true
	}
	if def, ok := plan.SysctlOfDefault(name); ok {
		v, ok := fresh[def]
		return v, ok
	}
	return "", false
}

// SavedPlanFormat marks a file written by `netlab plan --out`.
const SavedPlanFormat = "netlab-saved-plan/1"

// SavedPlan is a reviewed plan saved to a file, with what it was computed from. Apply
// carries it out only if the topology file and the kernel are unchanged since.
type SavedPlan struct {
	Format         string        `json:"format"`
	Lab            string        `json:"lab"`
	Topology       string        `json:"topology"`
	TopologySHA256 string        `json:"topology_sha256"`
	Fingerprint    string        `json:"fingerprint"`
	Plan           plan.JSONPlan `json:"plan"`
}

// Save returns the saved form of the prepared plan; topology is the topology file's
// bytes, whose hash it keeps.
func (p *Prepared) Save(topology []byte) SavedPlan {
	return SavedPlan{Format: SavedPlanFormat, Lab: p.Lab, Topology: p.Topology, TopologySHA256: sha256Hex(topology),
		Fingerprint: p.Fingerprint(), Plan: plan.ToJSON(p.Plan)}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ReadSavedPlan returns the saved plan in data, or nil when data is not one (a topology
// file, say).
func ReadSavedPlan(data []byte) (*SavedPlan, error) {
	var probe struct {
		Format string `json:"format"`
	}
	if json.Unmarshal(data, &probe) != nil || probe.Format == "" {
		return nil, nil
	}
	if probe.Format != SavedPlanFormat {
		return nil, fmt.Errorf("saved plan of unknown format %q (this netlab reads %s)", probe.Format, SavedPlanFormat)
	}
	var sp SavedPlan
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("read saved plan: %w", err)
	}
	return &sp, nil
}

// CheckTopology returns a *StalePlanError unless topology (the bytes of the file the
// plan names) is the file the plan was made from.
func (s *SavedPlan) CheckTopology(topology []byte) error {
	if sha256Hex(topology) != s.TopologySHA256 {
		return &StalePlanError{Why: "the topology file " + s.Topology + " has changed since it was made"}
	}
	return nil
}

// StalePlanError says a saved plan no longer fits the topology or the kernel.
type StalePlanError struct {
	Why string
}

func (e *StalePlanError) Error() string {
	return "the saved plan is stale: " + e.Why + "; nothing was changed. Make a new one with netlab plan --out"
}

// CheckSaved returns a *StalePlanError unless p is what the saved plan was computed
// from.
func (p *Prepared) CheckSaved(s SavedPlan) error {
	if p.Fingerprint() != s.Fingerprint {
		return &StalePlanError{Why: "the kernel or the lab's record has changed since it was made"}
	}
	return nil
}
