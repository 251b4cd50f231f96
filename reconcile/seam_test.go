package reconcile

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/reconcile/fakekernel"
	"github.com/netlab-go/netlab/topology"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// world is what the recorders of one test share: the interfaces of every namespace by
// name and index, the namespace each open namespace file is, and the calls made.
type world struct {
	mu    sync.Mutex
	links map[plan.NS]map[string]int
	names map[plan.NS]map[int]string
	nsFD  map[int]plan.NS
	next  int
	calls []string
}

func newWorld() *world {
	return &world{links: map[plan.NS]map[string]int{}, names: map[plan.NS]map[int]string{}, nsFD: map[int]plan.NS{}, next: 100}
}

// add makes an interface in ns and returns its index.
func (w *world) add(ns plan.NS, name string) int {
	if w.links[ns] == nil {
		w.links[ns], w.names[ns] = map[string]int{}, map[int]string{}
	}
	if i, ok := w.links[ns][name]; ok {
		return i
	}
	w.next++
	w.links[ns][name], w.names[ns][w.next] = w.next, name
	return w.next
}

func (w *world) record(argv ...string) { w.calls = append(w.calls, strings.Join(argv, " ")) }

// recorder is a netlinkHandle of one namespace that records each call as the `ip`
// command it amounts to, one attribute per `ip link set`, as tailscale's fakeOS does
// for its router. Lookups are not recorded; an interface it has not seen exists.
type recorder struct {
	w  *world
	ns plan.NS
}

var _ netlinkHandle = recorder{}

func (r recorder) ip(args ...string) []string {
	if r.ns == plan.Host {
		return append([]string{"ip"}, args...)
	}
	return append([]string{"ip", "-n", string(r.ns)}, args...)
}

// name is the name of the interface l (given by name or by index).
func (r recorder) name(l netlink.Link) string {
	if a := l.Attrs(); a.Name != "" {
		return a.Name
	}
	return r.w.names[r.ns][l.Attrs().Index]
}

func (r recorder) set(l netlink.Link, words ...string) error {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	r.w.record(r.ip(append([]string{"link", "set", r.name(l)}, words...)...)...)
	return nil
}

func (r recorder) LinkList() ([]netlink.Link, error) { return nil, nil }

func (r recorder) LinkByName(name string) (netlink.Link, error) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: name, Index: r.w.add(r.ns, name)}}, nil
}

func (r recorder) LinkAdd(l netlink.Link) error {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	a := l.Attrs()
	switch l := l.(type) {
	case *netlink.Veth:
		peerNS := r.w.nsFD[int(l.PeerNamespace.(netlink.NsFd))]
		argv := r.ip("link", "add", a.Name, "address", a.HardwareAddr.String(), "type", "veth", "peer", "name", l.PeerName,
			"address", l.PeerHardwareAddr.String())
		if peerNS != r.ns {
			argv = append(argv, "netns", string(peerNS))
		}
		r.w.record(argv...)
		a.Index = r.w.add(r.ns, a.Name)
		r.w.add(peerNS, l.PeerName)
		if a.Flags&net.FlagUp != 0 {
			r.w.record(r.ip("link", "set", a.Name, "up")...)
		}
		for name, qlen := range map[string]int{a.Name: a.TxQLen, l.PeerName: l.PeerTxQLen} {
			if qlen >= 0 { // sent in the message: -1 leaves the kernel's default
				ns := map[string]plan.NS{a.Name: r.ns, l.PeerName: peerNS}[name]
				r.w.record(recorder{w: r.w, ns: ns}.ip("link", "set", name, "txqueuelen", strconv.Itoa(qlen))...)
			}
		}
	case *netlink.Vxlan:
		argv := r.ip("link", "add", a.Name, "address", a.HardwareAddr.String())
		into := r.ns
		if fd, ok := a.Namespace.(netlink.NsFd); ok {
			into = r.w.nsFD[int(fd)]
			argv = append(argv, "netns", string(into))
		}
		argv = append(argv, "type", "vxlan", "id", strconv.Itoa(l.VxlanId), "local", l.SrcAddr.String())
		if l.Group != nil {
			argv = append(argv, "remote", l.Group.String())
		}
		r.w.record(append(argv, "dstport", strconv.Itoa(l.Port))...)
		r.w.add(into, a.Name)
	case *netlink.Bridge:
		r.w.record(r.ip("link", "add", a.Name, "address", a.HardwareAddr.String(), "type", "bridge")...)
		a.Index = r.w.add(r.ns, a.Name)
	case *netlink.Macvlan:
		argv := r.ip("link", "add", a.Name, "link", r.w.names[r.ns][a.ParentIndex], "address", a.HardwareAddr.String())
		into := r.ns
		if fd, ok := a.Namespace.(netlink.NsFd); ok {
			into = r.w.nsFD[int(fd)]
			argv = append(argv, "netns", string(into))
		}
		r.w.record(append(argv, "type", "macvlan", "mode", macvlanModeName(l.Mode))...)
		r.w.add(into, a.Name)
	default:
		return fmt.Errorf("recorder: link type %T", l)
	}
	return nil
}

func (r recorder) LinkDel(l netlink.Link) error {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	r.w.record(r.ip("link", "del", r.name(l))...)
	return nil
}

func (r recorder) LinkSetUp(l netlink.Link) error                  { return r.set(l, "up") }
func (r recorder) LinkSetDown(l netlink.Link) error                { return r.set(l, "down") }
func (r recorder) LinkSetAlias(l netlink.Link, alias string) error { return r.set(l, "alias", alias) }
func (r recorder) LinkSetMTU(l netlink.Link, mtu int) error {
	return r.set(l, "mtu", strconv.Itoa(mtu))
}
func (r recorder) LinkSetTxQLen(l netlink.Link, n int) error {
	return r.set(l, "txqueuelen", strconv.Itoa(n))
}
func (r recorder) LinkSetNoMaster(l netlink.Link) error { return r.set(l, "nomaster") }

func (r recorder) LinkSetMasterByIndex(l netlink.Link, index int) error {
	return r.set(l, "master", r.w.names[r.ns][index])
}

func (r recorder) AddrList(netlink.Link, int) ([]netlink.Addr, error) { return nil, nil }

func (r recorder) addr(verb string, l netlink.Link, a *netlink.Addr) error {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	argv := r.ip("addr", verb, a.IPNet.String(), "dev", r.name(l))
	if a.Flags&unix.IFA_F_NODAD != 0 {
		argv = append(argv, "nodad")
	}
	r.w.record(argv...)
	return nil
}

func (r recorder) AddrAdd(l netlink.Link, a *netlink.Addr) error { return r.addr("add", l, a) }
func (r recorder) AddrDel(l netlink.Link, a *netlink.Addr) error { return r.addr("del", l, a) }

func (r recorder) RouteListFiltered(int, *netlink.Route, uint64) ([]netlink.Route, error) {
	return nil, nil
}

func (r recorder) route(verb string, rt *netlink.Route) error {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	ones, bits := rt.Dst.Mask.Size()
	args := []string{"route", verb, rt.Dst.String()}
	if ones == 0 {
		args[2] = "default"
	}
	if rt.Gw != nil {
		args = append(args, "via", rt.Gw.String())
	}
	if rt.LinkIndex != 0 {
		args = append(args, "dev", r.w.names[r.ns][rt.LinkIndex])
	}
	metric := 0
	if bits == 128 {
		metric = 1024
		args = append([]string{"-6"}, args...)
	}
	if rt.Priority != metric {
		args = append(args, "metric", strconv.Itoa(rt.Priority))
	}
	r.w.record(r.ip(args...)...)
	return nil
}

func (r recorder) tc(args ...string) []string {
	if r.ns == plan.Host {
		return append([]string{"tc"}, args...)
	}
	return append([]string{"tc", "-n", string(r.ns)}, args...)
}

func (r recorder) NeighList(int, int) ([]netlink.Neigh, error) { return nil, nil }

func (r recorder) NeighAppend(n *netlink.Neigh) error {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	argv := []string{"bridge", "fdb", "append", n.HardwareAddr.String(), "dev", r.w.names[r.ns][n.LinkIndex], "dst", n.IP.String()}
	if r.ns != plan.Host {
		argv = slices.Insert(argv, 1, "-n", string(r.ns))
	}
	r.w.record(argv...)
	return nil
}

func (r recorder) QdiscList(netlink.Link) ([]netlink.Qdisc, error) { return nil, nil }
func (r recorder) GetNetNsIdByFd(int) (int, error)                 { return -1, nil }

// QdiscReplace writes the qdisc as tc's arguments, read back from what goes to the
// kernel (ticks, the 32-bit loss fraction) as observe reads it.
func (r recorder) QdiscReplace(q netlink.Qdisc) error {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	a := q.Attrs()
	args := []string{"qdisc", "replace", "dev", r.w.names[r.ns][a.LinkIndex]}
	if a.Parent == netlink.HANDLE_ROOT {
		args = append(args, "root")
	} else {
		args = append(args, "parent", plan.QdiscHandleString(a.Parent))
	}
	args = append(args, "handle", plan.QdiscHandleString(a.Handle))
	switch q := q.(type) {
	case *netlink.Netem:
		args = append(args, "netem")
		if q.Latency != 0 || q.Jitter != 0 {
			args = append(args, "delay", plan.FormatMicros(microsOf(q.Latency)))
			if q.Jitter != 0 {
				args = append(args, plan.FormatMicros(microsOf(q.Jitter)))
			}
		}
		if q.Loss != 0 {
			args = append(args, "loss", plan.FormatPPM(ppmOf(q.Loss)))
		}
		args = append(args, "limit", strconv.FormatUint(uint64(q.Limit), 10))
	case *netlink.Tbf:
		args = append(args, "tbf", "rate", plan.FormatRate(q.Rate), "burst", strconv.FormatUint(uint64(plan.TBFBytes(q.Rate, q.Buffer)), 10),
			"limit", strconv.FormatUint(uint64(q.Limit), 10))
	default:
		return fmt.Errorf("recorder: qdisc type %T", q)
	}
	r.w.record(r.tc(args...)...)
	return nil
}

func (r recorder) QdiscDel(q netlink.Qdisc) error {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	if q.Attrs().Parent != netlink.HANDLE_ROOT {
		return fmt.Errorf("recorder: deletion of a qdisc that is not the root")
	}
	r.w.record(r.tc("qdisc", "del", "dev", r.w.names[r.ns][q.Attrs().LinkIndex], "root")...)
	return nil
}

func (r recorder) RouteAdd(rt *netlink.Route) error     { return r.route("add", rt) }
func (r recorder) RouteReplace(rt *netlink.Route) error { return r.route("replace", rt) }
func (r recorder) RouteDel(rt *netlink.Route) error     { return r.route("del", rt) }
func (r recorder) Close()                               {}

// seamKernel carries out the netlink kinds of actions (links, addresses, routes, qdiscs)
// through Linux and its recorders, and passes over the others, which are mounts, files
// and iptables rather than netlink.
type seamKernel struct{ *Linux }

func (seamKernel) ApplyNetns(plan.Action, plan.NetnsObject) error   { return nil }
func (seamKernel) ApplyAttach(plan.Action, plan.AttachObject) error { return nil }
func (seamKernel) ApplySysctl(plan.Action, plan.SysctlObject) error { return nil }
func (seamKernel) ApplyNAT(plan.Action, plan.NATObject) error       { return nil }
func (seamKernel) ApplyFile(plan.Action, plan.FileObject) error     { return nil }

// netlinkKinds are the kinds of object that reconcile makes through netlink.
var netlinkKinds = []plan.ObjectType{plan.TypeLink, plan.TypeAddress, plan.TypeRoute, plan.TypeQdisc}

// oneAttributeEach splits the plan's commands as the recorder writes them: `ip link set NAME`
// one attribute at a time.
func oneAttributeEach(cmds [][]string) []string {
	var out []string
	for _, c := range cmds {
		i := slices.Index(c, "set")
		if i < 2 || c[i-1] != "link" || i+1 >= len(c) {
			out = append(out, strings.Join(c, " "))
			continue
		}
		head, words := c[:i+2], c[i+2:]
		for len(words) > 0 {
			n := 1
			if slices.Contains([]string{"alias", "mtu", "master", "txqueuelen"}, words[0]) {
				n = 2
			}
			out = append(out, strings.Join(append(slices.Clone(head), words[:n]...), " "))
			words = words[n:]
		}
	}
	return out
}

// checkSeam carries out every action of p through Linux with recording handles and
// checks that the netlink calls of each are the plan's own commands for it.
func checkSeam(t *testing.T, p plan.Plan) {
	t.Helper()
	dir := t.TempDir()
	w := newWorld()
	k, err := NewLinux(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	k.newHandle = func(ns plan.NS, nsh netns.NsHandle) (netlinkHandle, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.nsFD[int(nsh)] = ns
		return recorder{w: w, ns: ns}, nil
	}
	for _, a := range p.Actions {
		for _, ns := range a.Namespaces() {
			if ns != plan.Host {
				if err := os.WriteFile(filepath.Join(dir, string(ns)), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, a := range p.Actions {
		if !slices.Contains(netlinkKinds, a.Type()) {
			continue
		}
		w.calls = nil
		if err := a.ApplyTo(seamKernel{k}); err != nil {
			t.Errorf("%s: %v", a.Summary(), err)
			continue
		}
		// The same calls in the same order, a link's attributes too: up comes last, after
		// its alias (see Linux.createVeth).
		got, want := w.calls, oneAttributeEach(a.Commands())
		if !slices.Equal(got, want) {
			t.Errorf("%s: reconcile sends\n  %s\nthe plan says\n  %s", a.Summary(), strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

// fakePlan diffs desired against the fake kernel as reconcile does.
func fakePlan(t *testing.T, k *fakekernel.Kernel, lab string, desired, owned plan.State) plan.Plan {
	t.Helper()
	actual, err := k.Observe(context.Background(), plan.ScopeOf(lab, desired, owned).WithoutContentsOf(desired, owned))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Diff(lab, desired, actual, owned)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNetlinkCallsAreThePlansCommands: for every example, the netlink calls reconcile
// makes to build the lab, to repair it after links were changed by hand, to replace a
// link and to destroy it are, call for call, the `ip` commands the plan shows. A link
// attribute that the plan sets and reconcile forgets (or the reverse) fails here,
// without root.
func TestNetlinkCallsAreThePlansCommands(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			topo, err := topology.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			lab, desired := topo.Name, topo.Desired()
			k := fakekernel.New()
			build := fakePlan(t, k, lab, desired, plan.NewState())
			checkSeam(t, build)
			for _, a := range build.Actions {
				if err := k.Apply(context.Background(), a); err != nil {
					t.Fatal(err)
				}
			}
			owned := desired.Recorded()
			// By hand: every link down, with another MTU and out of its bridge.
			for key, l := range k.State.Links {
				if l.Kind != plan.Loopback && key.NS != plan.Host || l.Alias != "" {
					l.Up, l.MTU, l.Master = false, 1400, ""
					k.State.Links[key] = l
				}
			}
			// And every impairment changed.
			for key, q := range k.State.Qdiscs {
				q.Rate, q.Delay = q.Rate*2, q.Delay*2
				k.State.Qdiscs[key] = q
			}
			repair := fakePlan(t, k, lab, desired, owned)
			if repair.Empty() {
				t.Fatal("no repair plan")
			}
			checkSeam(t, repair)
			checkSeam(t, fakePlan(t, k, lab, plan.NewState(), owned))
		})
	}
}

// TestNetlinkCallsOfAReplace: a macvlan made anew in another mode is deleted and
// created by the calls its -/+ action shows.
func TestNetlinkCallsOfAReplace(t *testing.T) {
	src, err := os.ReadFile("../examples/macvlan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	before, err := topology.Parse("macvlan.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	k := fakekernel.New()
	for _, a := range fakePlan(t, k, before.Name, before.Desired(), plan.NewState()).Actions {
		if err := k.Apply(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	after, err := topology.Parse("macvlan.yaml", []byte(strings.Replace(string(src), "mode: bridge", "mode: private", 1)))
	if err != nil {
		t.Fatal(err)
	}
	p := fakePlan(t, k, after.Name, after.Desired(), before.Desired().Recorded())
	if !slices.ContainsFunc(p.Actions, func(a plan.Action) bool { return a.Kind == plan.Replace }) {
		t.Fatalf("no replace in %v", p.Actions)
	}
	checkSeam(t, p)
}

// TestLinkAttrsComplete: reconcile knows how to set and read every attribute of
// plan.LinkAttrs.
func TestLinkAttrsComplete(t *testing.T) {
	for _, at := range plan.LinkAttrs {
		if e, ok := linkAttrs[at.Name]; !ok || e.set == nil || e.read == nil {
			t.Errorf("reconcile's linkAttrs has no set and read for %q", at.Name)
		}
	}
	if len(linkAttrs) != len(plan.LinkAttrs) {
		t.Errorf("reconcile's linkAttrs has %d entries, plan.LinkAttrs %d", len(linkAttrs), len(plan.LinkAttrs))
	}
}

// TestNetlinkCallsOfVXLAN: a machine's part of a lab across machines: its VXLAN ends
// are made in the host, straight into their node, by the calls the plan shows.
func TestNetlinkCallsOfVXLAN(t *testing.T) {
	topo, err := topology.Load("../examples/multi-host/wan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range topo.Machines {
		t.Run(m.Name, func(t *testing.T) {
			desired, err := topo.DesiredOn(m.Name, 0)
			if err != nil {
				t.Fatal(err)
			}
			k := fakekernel.New()
			k.State.Addrs[plan.AddrKey{Link: plan.LinkKey{NS: plan.Host, Name: "eth0"}, Prefix: netip.PrefixFrom(m.Underlay, 24)}] = true
			p := fakePlan(t, k, topo.Name, desired, plan.NewState())
			if !slices.ContainsFunc(p.Actions, func(a plan.Action) bool { return strings.HasPrefix(a.Object(), "vxlan ") }) {
				t.Fatalf("no vxlan in the plan: %v", p.Actions)
			}
			if !slices.ContainsFunc(p.Actions, func(a plan.Action) bool { return strings.Contains(a.Object(), "flooding to") }) {
				t.Fatalf("no segment port in the plan: %v", p.Actions)
			}
			checkSeam(t, p)
		})
	}
}
