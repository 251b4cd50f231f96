// Package fakekernel is an in-memory kernel for tests that need no root. It keeps
// state rather than scripting expected calls, and it behaves as the kernel does where
// it matters to the planner: deleting a namespace deletes its links and their veth
// peers elsewhere, deleting a veth end deletes its peer, a route needs a gateway in a
// connected subnet of an up link, and removing that address or taking the link down
// drops the route.
package fakekernel

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/netlab-go/netlab/plan"
)

// Kernel is the fake. Its zero value is not ready: use New. Observe and Apply may be
// called concurrently; the fields may be read and changed between calls only.
type Kernel struct {
	mu sync.Mutex

	// State is everything in the fake kernel, with veth peers known. The host
	// namespace always exists and is not listed in State.Namespaces.
	State plan.State
	// FailAfter, when positive, makes Apply fail once that many actions have been
	// applied, as a netlab killed midway would stop.
	FailAfter int
	// Applied counts the actions applied so far.
	Applied int
	// MissingQdiscs are the qdisc kinds the fake kernel lacks, each with what
	// Linux.Observe would say of it.
	MissingQdiscs map[string]string
}

// New returns a fake kernel holding a host with lo and eth0 (10.0.2.15/24 and a
// default route via 10.0.2.2), ip_forward 0 and nothing else.
func New() *Kernel {
	s := plan.NewState()
	s.Links[plan.LinkKey{NS: plan.Host, Name: "lo"}] = plan.Link{Kind: plan.Loopback, Up: true}
	eth0 := plan.LinkKey{NS: plan.Host, Name: "eth0"}
	s.Links[eth0] = plan.Link{Kind: "device", Up: true}
	s.Addrs[plan.AddrKey{Link: eth0, Prefix: netip.MustParsePrefix("10.0.2.15/24")}] = true
	s.Routes[plan.RouteKey{NS: plan.Host, To: netip.MustParsePrefix("0.0.0.0/0")}] = plan.Route{Via: netip.MustParseAddr("10.0.2.2")}
	s.Sysctls[plan.SysctlKey{NS: plan.Host, Name: "net.ipv4.ip_forward"}] = "0"
	return &Kernel{State: s}
}

// Namespaces lists the namespaces of the fake, and those with files, as Linux lists
// /run/netns and /etc/netns.
func (k *Kernel) Namespaces(context.Context) ([]plan.NS, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	seen := map[plan.NS]bool{}
	for ns := range k.State.Namespaces {
		seen[ns] = true
	}
	for ns := range k.State.Attached {
		seen[ns] = true
	}
	for f := range k.State.Files {
		seen[f.NS] = true
	}
	nss := slices.Collect(maps.Keys(seen))
	slices.Sort(nss)
	return nss, nil
}

// ErrStopped is returned by Apply when FailAfter is reached.
var ErrStopped = fmt.Errorf("fake kernel: stopped (FailAfter)")

func (k *Kernel) exists(ns plan.NS) bool {
	_, attached := k.State.Attached[ns]
	return ns == plan.Host || k.State.Namespaces[ns] || attached
}

// Observe returns what the scope shows, as Linux observes it: no veth peers, sysctls
// read only where asked (a fresh namespace has ip_forward 0), NAT rules of the lab only.
func (k *Kernel) Observe(_ context.Context, scope plan.Scope) (plan.State, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := plan.NewState()
	in := map[plan.NS]bool{}
	for _, ns := range scope.Namespaces {
		if !k.exists(ns) {
			continue
		}
		in[ns] = true
		if ns != plan.Host {
			s.Namespaces[ns] = true
		}
	}
	for ns := range scope.ExistenceOnly {
		delete(in, ns) // listed in s.Namespaces, contents not read
	}
	for key, l := range k.State.Links {
		if in[key.NS] {
			if want, asked := scope.VethPeers[key]; asked && l.Kind == plan.Veth {
				s.VethPeers[key] = plan.LinkKey{}
				if l.Peer.NS == want.NS {
					s.VethPeers[key] = l.Peer
				}
			}
			l.Peer, l.Parent = plan.LinkKey{}, plan.LinkKey{} // not read back, but for VethPeers
			s.Links[key] = l
		}
	}
	for key := range k.State.Addrs {
		if in[key.Link.NS] {
			s.Addrs[key] = true
		}
	}
	for key, r := range k.State.Routes {
		if in[key.NS] {
			s.Routes[key] = r
		}
	}
	for _, key := range scope.Sysctls {
		if in[key.NS] {
			v, ok := k.State.Sysctls[key]
			if !ok {
				v = "0"
			}
			s.Sysctls[key] = v
		}
	}
	for r := range k.State.NAT {
		if in[r.NS] && slices.Contains(scope.NAT, plan.NATTable{NS: r.NS, IPv6: r.Source.Addr().Is6()}) {
			s.NAT[r] = true
		}
	}
	for ns := range scope.Attached {
		if src, ok := k.State.Attached[ns]; ok {
			s.Attached[ns] = src
		}
	}
	for key, q := range k.State.Qdiscs {
		if in[key.NS] && scope.Qdiscs[key.NS] {
			s.Qdiscs[key] = q
		}
	}
	for _, kind := range scope.QdiscKinds {
		if why, missing := k.MissingQdiscs[kind]; missing {
			s.MissingQdiscs[kind] = why
		}
	}
	for _, key := range scope.Files {
		if _, ok := k.State.Files[key]; !ok {
			continue
		}
		switch {
		case key.IsDir():
			var names []string
			for f := range k.State.Files {
				if f.NS == key.NS && !f.IsDir() {
					names = append(names, f.Name)
				}
			}
			slices.Sort(names)
			s.Files[key] = strings.Join(names, " ")
		case plan.IsHardLink(k.State.Files[key]):
			s.Files[key] = k.State.Files[key] // a hard link is observed as one
		case scope.UnreadFiles[key]:
			s.Files[key] = plan.FileUnread
		default:
			s.Files[key] = plan.Digest(k.State.Files[key])
			if strings.HasPrefix(k.State.Files[key], plan.FileMark(scope.Lab)+";") {
				s.MarkedFiles[key] = true // as netlab writes its header
			}
		}
	}
	return s, nil
}

// Apply carries out one action on the fake state, idempotently.
func (k *Kernel) Apply(_ context.Context, a plan.Action) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.FailAfter > 0 && k.Applied >= k.FailAfter {
		return ErrStopped
	}
	k.Applied++
	return a.ApplyTo(k)
}

// ApplyNetns makes or deletes a namespace, with its lo up.
func (k *Kernel) ApplyNetns(a plan.Action, o plan.NetnsObject) error {
	s := k.State
	if a.Kind == plan.Delete {
		k.deleteNamespace(o.NS)
		return nil
	}
	if s.Namespaces[o.NS] {
		return fmt.Errorf("create netns %s: file exists", o.NS)
	}
	s.Namespaces[o.NS] = true
	s.Links[plan.LinkKey{NS: o.NS, Name: "lo"}] = plan.Link{Kind: plan.Loopback, Up: true}
	return nil
}

// ApplyAddr adds or deletes an address; deleting the last one that reaches a route's
// gateway drops the route, as the kernel does.
func (k *Kernel) ApplyAddr(a plan.Action, o plan.AddrObject) error {
	s, t := k.State, o.Key
	if a.Kind == plan.Delete {
		delete(s.Addrs, t)
		k.dropUnreachableRoutes(t.Link.NS)
		return nil
	}
	if _, ok := s.Links[t.Link]; !ok {
		return fmt.Errorf("add address %s: no such device", t)
	}
	s.Addrs[t] = true
	return nil
}

// ApplyRoute adds, replaces or deletes a route; its gateway must be reachable.
func (k *Kernel) ApplyRoute(a plan.Action, o plan.RouteObject) error {
	s, t := k.State, o.Key
	if a.Kind == plan.Delete {
		delete(s.Routes, t)
		return nil
	}
	if !k.reachable(t.NS, o.After) {
		return fmt.Errorf("add route %s: Nexthop has invalid gateway", t)
	}
	if _, ok := s.Routes[t]; ok && a.Kind == plan.Create {
		return fmt.Errorf("add route %s: file exists", t)
	}
	s.Routes[t] = o.After
	return nil
}

// ApplySysctl sets a sysctl of an existing namespace.
func (k *Kernel) ApplySysctl(_ plan.Action, o plan.SysctlObject) error {
	if !k.exists(o.Key.NS) {
		return fmt.Errorf("set %s: no such namespace", o.Key)
	}
	k.State.Sysctls[o.Key] = o.After
	return nil
}

// ApplyNAT appends or deletes a rule.
func (k *Kernel) ApplyNAT(a plan.Action, o plan.NATObject) error {
	if a.Kind == plan.Delete {
		delete(k.State.NAT, o.Rule)
	} else {
		k.State.NAT[o.Rule] = true
	}
	return nil
}

// ApplyAttach makes or removes the entry of an existing namespace.
func (k *Kernel) ApplyAttach(a plan.Action, o plan.AttachObject) error {
	if a.Kind == plan.Delete {
		delete(k.State.Attached, o.NS)
	} else {
		k.State.Attached[o.NS] = o.After
	}
	return nil
}

// ApplyFile writes or removes a file, or makes or removes a directory (only when empty).
func (k *Kernel) ApplyFile(a plan.Action, o plan.FileObject) error {
	s, t := k.State, o.Key
	_, hasDir := s.Files[plan.FileKey{NS: t.NS}]
	switch {
	case a.Kind == plan.Delete && t.IsDir():
		for f := range s.Files {
			if f.NS == t.NS && !f.IsDir() {
				return fmt.Errorf("rmdir %s: directory not empty", t.Path())
			}
		}
		delete(s.Files, t)
	case a.Kind == plan.Delete:
		delete(s.Files, t)
	case t.IsDir():
		s.Files[t] = ""
	case !hasDir && !t.Shared():
		return fmt.Errorf("write %s: no such directory", t.Path())
	default:
		s.Files[t] = o.After
	}
	return nil
}

// ApplyQdisc replaces or deletes the root qdisc of an interface; the kernel refuses a
// kind it lacks.
func (k *Kernel) ApplyQdisc(a plan.Action, o plan.QdiscObject) error {
	if _, ok := k.State.Links[o.Key]; !ok {
		return fmt.Errorf("qdisc of %s: no such device", o.Key)
	}
	if a.Kind == plan.Delete {
		delete(k.State.Qdiscs, o.Key)
		return nil
	}
	for _, kind := range o.After.Kinds() {
		if _, missing := k.MissingQdiscs[kind]; missing {
			return fmt.Errorf("qdisc %s of %s: Specified qdisc kind is unknown", kind, o.Key)
		}
	}
	k.State.Qdiscs[o.Key] = o.After
	return nil
}

// set takes have to want in every attribute of plan.LinkAttrs.
func set(have, want plan.Link) plan.Link {
	for _, at := range plan.LinkAttrs {
		if at.Differs(want, have) {
			at.Copy(&have, want)
		}
	}
	return have
}

// ApplyLink creates, changes or deletes a link; a veth end goes with its peer.
func (k *Kernel) ApplyLink(a plan.Action, o plan.LinkObject) error {
	s, key, want := k.State, o.Key, o.After
	switch a.Kind {
	case plan.Create:
		if want.Kind == plan.Bridge || want.Kind == plan.Macvlan || want.Kind == plan.Vxlan {
			if _, ok := s.Links[want.Parent]; want.Kind == plan.Macvlan && !ok {
				return fmt.Errorf("create macvlan %s: parent %s: no such device", key, want.Parent)
			}
			if _, ok := s.Links[key]; ok || !k.exists(key.NS) {
				return fmt.Errorf("create %s %s: file exists or no such namespace", want.Kind, key)
			}
			s.Links[key] = set(plan.Link{Kind: want.Kind, Mode: want.Mode, VNI: want.VNI, Local: want.Local, Remote: want.Remote,
				Port: want.Port, MAC: plan.LinkMAC(a.Lab, key)}, want)
			return nil
		}
		if !k.exists(key.NS) || !k.exists(want.Peer.NS) {
			return fmt.Errorf("create veth %s: no such namespace", key)
		}
		for _, m := range []plan.LinkKey{{NS: key.NS, Name: want.Master}, {NS: want.Peer.NS, Name: o.PeerEnd.Master}} {
			if _, ok := s.Links[m]; m.Name != "" && !ok {
				return fmt.Errorf("create veth %s: master %s: no such device", key, m)
			}
		}
		if _, ok := s.Links[key]; ok {
			return fmt.Errorf("create veth %s: file exists", key)
		}
		if _, ok := s.Links[want.Peer]; ok {
			return fmt.Errorf("create veth peer %s: file exists", want.Peer)
		}
		s.Links[key] = set(plan.Link{Kind: plan.Veth, Peer: want.Peer, MAC: plan.LinkMAC(a.Lab, key)}, want)
		s.Links[want.Peer] = set(plan.Link{Kind: plan.Veth, Peer: key, MAC: plan.LinkMAC(a.Lab, want.Peer)}, o.PeerEnd)
	case plan.Delete:
		k.deleteLink(key)
	case plan.Update:
		l, ok := s.Links[key]
		if !ok {
			return fmt.Errorf("set %s: no such device", key)
		}
		s.Links[key] = set(l, want)
		k.dropUnreachableRoutes(key.NS)
	}
	return nil
}

func (k *Kernel) deleteLink(key plan.LinkKey) {
	l, ok := k.State.Links[key]
	if !ok {
		return
	}
	delete(k.State.Links, key)
	delete(k.State.Qdiscs, key)
	for a := range k.State.Addrs {
		if a.Link == key {
			delete(k.State.Addrs, a)
		}
	}
	k.dropUnreachableRoutes(key.NS)
	if l.Kind == plan.Veth {
		k.deleteLink(l.Peer)
	}
}

func (k *Kernel) deleteNamespace(ns plan.NS) {
	for key := range k.State.Links {
		if key.NS == ns {
			k.deleteLink(key)
		}
	}
	for key := range k.State.Routes {
		if key.NS == ns {
			delete(k.State.Routes, key)
		}
	}
	for key := range k.State.Sysctls {
		if key.NS == ns {
			delete(k.State.Sysctls, key)
		}
	}
	for r := range k.State.NAT {
		if r.NS == ns {
			delete(k.State.NAT, r)
		}
	}
	delete(k.State.Namespaces, ns)
}

// reachable reports whether via is in the subnet of an address on an up link.
// reachable reports whether a route with this next hop can stand in ns: its device is
// up, and its gateway in a connected subnet of an up link.
func (k *Kernel) reachable(ns plan.NS, r plan.Route) bool {
	if r.Dev != "" && !k.State.Links[plan.LinkKey{NS: ns, Name: r.Dev}].Up {
		return false
	}
	if !r.Via.IsValid() {
		return true
	}
	via := r.Via
	for a := range k.State.Addrs {
		if a.Link.NS == ns && a.Prefix.Masked().Contains(via) && k.State.Links[a.Link].Up {
			return true
		}
	}
	return false
}

func (k *Kernel) dropUnreachableRoutes(ns plan.NS) {
	for key, r := range k.State.Routes {
		if key.NS == ns && !k.reachable(ns, r) {
			delete(k.State.Routes, key)
		}
	}
}

// MoveAway removes one end of a veth pair from its namespace without its peer, with its
// addresses and the routes they carried, as `ip link set DEV netns OTHER` does.
func (k *Kernel) MoveAway(key plan.LinkKey) {
	delete(k.State.Links, key)
	for a := range k.State.Addrs {
		if a.Link == key {
			delete(k.State.Addrs, a)
		}
	}
	k.dropUnreachableRoutes(key.NS)
}
