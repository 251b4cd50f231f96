package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Survey is what `netlab export` reads of namespaces that were built by hand (or by
// another tool), beyond what a lab's Observe reads.
type Survey struct {
	// State is what Observe reads of the namespaces and the host (with qdiscs), each
	// veth given its Peer and each macvlan its Parent, as the kernel links them
	// (IFLA_LINK and link-netnsid).
	State plan.State
	// Sysctls are, for each namespace, the net.ipv4 and net.ipv6 sysctls (those of
	// all, default, ip_forward and each interface) whose value differs from that of a
	// fresh namespace; for the host, net.ipv4.ip_forward when it is on.
	Sysctls map[plan.SysctlKey]string
	// NAT holds every MASQUERADE rule of each namespace's POSTROUTING chain that has no
	// option a topology cannot give (those are in Unexpressed); in the host, those for
	// a network of the namespaces.
	NAT map[plan.NATRule]bool
	// Files holds the content of each namespace's /etc/netns files (hosts,
	// resolv.conf).
	Files map[plan.FileKey]string
	// Unexpressed names what the survey found that a topology cannot say.
	Unexpressed []string
}

// Survey reads the namespaces nss (under the namespace directory) and what the host
// has of them. It changes nothing: the defaults of sysctls are read in a fresh
// namespace that the thread reading them leaves at once and nothing keeps.
func (k *Linux) Survey(ctx context.Context, nss []plan.NS) (*Survey, error) {
	all := append([]plan.NS{plan.Host}, nss...)
	scope := plan.Scope{Namespaces: all, Qdiscs: map[plan.NS]bool{}}
	for _, ns := range all {
		scope.Qdiscs[ns] = true
	}
	state, err := k.Observe(ctx, scope)
	if err != nil {
		return nil, err
	}
	sv := &Survey{State: state, Sysctls: map[plan.SysctlKey]string{}, NAT: map[plan.NATRule]bool{}, Files: map[plan.FileKey]string{}}
	for _, ns := range nss {
		if !state.Namespaces[ns] {
			return nil, fmt.Errorf("%s/%s is not a network namespace", k.netnsDir, ns)
		}
	}
	if err := k.surveyPeers(all, sv); err != nil {
		return nil, err
	}
	if err := k.surveySysctls(ctx, all, sv); err != nil {
		return nil, err
	}
	if err := k.surveyNAT(all, sv); err != nil {
		return nil, err
	}
	if err := surveyFiles(nss, sv); err != nil {
		return nil, err
	}
	slices.Sort(sv.Unexpressed)
	return sv, nil
}

// surveyPeers fills in the peer of each veth and the parent of each macvlan, from the
// index of the link it is tied to and the id by which its namespace knows the other.
func (k *Linux) surveyPeers(all []plan.NS, sv *Survey) error {
	type nsLinks struct {
		links []netlink.Link
		names map[int]string
		ids   map[int]plan.NS // namespace ids as this namespace knows them
	}
	found := map[plan.NS]*nsLinks{}
	for _, ns := range all {
		h, release, err := k.handle(ns)
		if err != nil {
			return err
		}
		links, err := retryDump("links", h.nl.LinkList)
		if err != nil {
			release()
			return err
		}
		nl := &nsLinks{links: links, names: map[int]string{}, ids: map[int]plan.NS{}}
		needed := map[int]bool{} // the ids of the namespaces its links are tied into
		for _, l := range links {
			nl.names[l.Attrs().Index] = l.Attrs().Name
			if id := l.Attrs().NetNsID; id >= 0 {
				needed[id] = true
			}
		}
		// Ask for the id of each other namespace, the host first (a star's every link
		// is tied into it), until every id needed is known: not every pair of
		// namespaces, which a large export would pay for quadratically.
		for _, other := range all {
			if len(nl.ids) == len(needed) {
				break
			}
			if other == ns {
				continue
			}
			oh, orelease, err := k.handle(other)
			if err != nil {
				release()
				return err
			}
			if id, err := h.nl.GetNetNsIdByFd(int(oh.ns)); err == nil && needed[id] {
				nl.ids[id] = other
			}
			orelease()
		}
		release()
		found[ns] = nl
	}
	for _, ns := range all {
		for _, l := range found[ns].links {
			a := l.Attrs()
			key := plan.LinkKey{NS: ns, Name: a.Name}
			link, ok := sv.State.Links[key]
			if !ok || (link.Kind != plan.Veth && link.Kind != plan.Macvlan) {
				continue
			}
			other, known := ns, true
			if a.NetNsID >= 0 {
				other, known = found[ns].ids[a.NetNsID]
			}
			name := ""
			if known {
				name = found[other].names[a.ParentIndex]
			}
			if !known || name == "" {
				if ns != plan.Host {
					sv.Unexpressed = append(sv.Unexpressed, fmt.Sprintf("%s (%s): what it is tied to is in a namespace not exported", key, link.Kind))
				}
				continue
			}
			if link.Kind == plan.Veth {
				link.Peer = plan.LinkKey{NS: other, Name: name}
			} else {
				link.Parent = plan.LinkKey{NS: other, Name: name}
			}
			sv.State.Links[key] = link
		}
	}
	return nil
}

// sysctlDirs are the directories of per-interface sysctls under /proc/sys.
var sysctlDirs = []string{"net/ipv4/conf", "net/ipv6/conf"}

// surveySysctls notes the sysctls of each namespace that differ from a fresh one's,
// and the host's ip_forward when it is on (a topology gives the host no other). The
// namespaces are read GOMAXPROCS at a time, each on a thread of its own switched into
// it: a namespace has some five hundred of them, one file each.
func (k *Linux) surveySysctls(ctx context.Context, all []plan.NS, sv *Survey) error {
	fresh, err := freshSysctls()
	if err != nil {
		return err
	}
	if v, err := readSysctl("net.ipv4.ip_forward"); err == nil && v == "1" {
		sv.Sysctls[plan.SysctlKey{NS: plan.Host, Name: "net.ipv4.ip_forward"}] = "1"
	}
	nss := slices.DeleteFunc(slices.Clone(all), func(ns plan.NS) bool { return ns == plan.Host })
	var mu sync.Mutex // guards sv.Sysctls
	return forEach(ctx, len(nss), func(i int) error {
		ns := nss[i]
		var values map[string]string
		err := k.in(ns, func() (err error) {
			values, err = readNetSysctls(false) // a topology gives lo none (see unlikeFresh)
			return err
		})
		if err != nil {
			return fmt.Errorf("read the sysctls of %s: %w", ns, err)
		}
		differing := unlikeFresh(values, fresh)
		mu.Lock()
		defer mu.Unlock()
		for name, v := range differing {
			sv.Sysctls[plan.SysctlKey{NS: ns, Name: name}] = v
		}
		return nil
	})
}

// unlikeFresh returns the values of a namespace's sysctls that a topology must give
// for them to be so: those that differ from a fresh namespace's (an interface's from a
// fresh namespace's default), but for lo's, an interface's IPv6 MTU and stable secret,
// and forwarding flags that follow ip_forward or net.ipv6.conf.all.forwarding.
func unlikeFresh(values, fresh map[string]string) map[string]string {
	differing := map[string]string{}
	forwards4, forwards6 := values["net.ipv4.ip_forward"] != fresh["net.ipv4.ip_forward"],
		values["net.ipv6.conf.all.forwarding"] != fresh["net.ipv6.conf.all.forwarding"]
	for name, v := range values {
		iface, perIface := plan.SysctlInterface(name)
		want, ok := fresh[name]
		if perIface && iface != "all" && iface != "default" {
			def, _ := plan.SysctlOfDefault(name)
			want, ok = fresh[def]
		}
		switch {
		case !ok || v == want, iface == "lo":
		case strings.HasSuffix(name, ".mtu") || strings.HasSuffix(name, ".stable_secret"):
			// an interface's IPv6 MTU follows its MTU
		case strings.HasSuffix(name, ".forwarding") && (strings.HasPrefix(name, "net.ipv4.") && forwards4 ||
			strings.HasPrefix(name, "net.ipv6.") && forwards6 && name != "net.ipv6.conf.all.forwarding"):
			// follows ip_forward, or net.ipv6.conf.all.forwarding
		default:
			differing[name] = v
		}
	}
	return differing
}

// readNetSysctls reads net.ipv4.ip_forward and every sysctl of sysctlDirs in the
// namespace of the calling thread, lo's only withLo, by dotted name; one that cannot
// be read is passed over.
func readNetSysctls(withLo bool) (map[string]string, error) {
	values := map[string]string{}
	if v, err := readSysctl("net.ipv4.ip_forward"); err == nil {
		values["net.ipv4.ip_forward"] = v
	}
	for _, dir := range sysctlDirs {
		ifaces, err := os.ReadDir(filepath.Join("/proc/sys", dir))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // IPv6 disabled
			}
			return nil, err
		}
		for _, iface := range ifaces {
			if iface.Name() == "lo" && !withLo {
				continue
			}
			readSysctlDir(filepath.Join("/proc/sys", dir, iface.Name()), strings.ReplaceAll(dir, "/", ".")+"."+iface.Name()+".", values)
		}
	}
	return values, nil
}

// readSysctlDir puts into values, each named prefix and its file's name, the sysctls
// in the directory path: each opened from the directory and read in one call, about
// half the calls of os.ReadFile, for the thousands an export of a large lab reads. A
// directory that cannot be read, or a file, is passed over.
func readSysctlDir(path, prefix string, values map[string]string) {
	dir, err := os.Open(path)
	if err != nil {
		return
	}
	defer dir.Close()
	files, err := dir.ReadDir(-1)
	if err != nil {
		return
	}
	var buf [4096]byte
	for _, f := range files {
		name := prefix + f.Name()
		if f.IsDir() || !plan.IsSysctlName(name) {
			continue
		}
		fd, err := unix.Openat(int(dir.Fd()), f.Name(), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		n, err := unix.Read(fd, buf[:])
		unix.Close(fd)
		if err != nil || n == len(buf) {
			continue // unreadable (stable_secret unset, say), or longer than any sysctl of these
		}
		values[name] = strings.Join(strings.Fields(string(buf[:n])), " ")
	}
}

// freshSysctls reads the sysctls of a fresh namespace: made with unshare on a locked
// thread, which then goes back to where it was (or, if it cannot, ends with its
// goroutine). The fresh namespace goes with the thread's leaving it.
func freshSysctls() (map[string]string, error) {
	type result struct {
		values map[string]string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("make a fresh namespace: %w", err)}
			return
		}
		values, err := readNetSysctls(true)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		done <- result{values, err}
	}()
	r := <-done
	return r.values, r.err
}

// surveyNAT reads the MASQUERADE rules of each namespace, and those of the host for
// a network of the namespaces.
func (k *Linux) surveyNAT(all []plan.NS, sv *Survey) error {
	var nets []netip.Prefix
	for a := range sv.State.Addrs {
		if a.Link.NS != plan.Host && !a.Prefix.Addr().IsLinkLocalUnicast() && !a.Prefix.Addr().IsLoopback() {
			nets = append(nets, a.Prefix.Masked())
		}
	}
	for _, ns := range all {
		for _, v6 := range []bool{false, true} {
			ipt, err := k.iptables(v6)
			if err != nil {
				if v6 {
					continue // no ip6tables: no IPv6 rules to read
				}
				return err
			}
			var lines []string
			if err := k.in(ns, func() (err error) {
				lines, err = ipt.List("nat", "POSTROUTING")
				return err
			}); err != nil {
				return fmt.Errorf("list nat POSTROUTING of %s: %w", ns, err)
			}
			for _, line := range lines {
				r, problem := masquerade(line, ns)
				if ns == plan.Host && !slices.ContainsFunc(nets, func(n netip.Prefix) bool { return r.Source.Overlaps(n) }) {
					continue // the host's own
				}
				switch {
				case problem != "":
					sv.Unexpressed = append(sv.Unexpressed, fmt.Sprintf("%s: iptables rule %q: %s", ns, line, problem))
				case r.Source.IsValid():
					sv.NAT[r] = true
				}
			}
		}
	}
	return nil
}

// masquerade reads a line of `iptables -S POSTROUTING` as a rule a topology gives
// (-s SRC [-o OUT] -j MASQUERADE, with a comment at most), or says why it is not one;
// the chain's policy line is neither.
func masquerade(line string, ns plan.NS) (plan.NATRule, string) {
	l := parseRule(line, ns)
	return l.rule, l.problem
}

// surveyFiles reads the namespaces' files under /etc/netns.
func surveyFiles(nss []plan.NS, sv *Survey) error {
	etc, ok, err := etcNetns(false)
	if err != nil || !ok {
		return err
	}
	defer unix.Close(etc)
	// A lab's hosts files are links to one file of N lines: read once, held once.
	read := map[fileID]string{}
	for _, ns := range nss {
		for _, name := range []string{"hosts", "resolv.conf"} {
			k := plan.FileKey{NS: ns, Name: name}
			fd, err := openBeneath(etc, relPath(k), unix.O_RDONLY)
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			if err != nil {
				sv.Unexpressed = append(sv.Unexpressed, fmt.Sprintf("%s: cannot be read (%v)", k.Path(), err))
				continue
			}
			content, err := readOnce(fd, read)
			if err != nil {
				return fmt.Errorf("read %s: %w", k.Path(), err)
			}
			sv.Files[k] = content
		}
	}
	return nil
}

// readOnce reads (up to 1 MiB of) the open file fd and closes it, or, when read holds
// the content of that file (by device and inode), returns that.
func readOnce(fd int, read map[fileID]string) (string, error) {
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	id := fileID{dev: st.Dev, ino: st.Ino}
	if content, ok := read[id]; ok {
		return content, nil
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return "", err
	}
	read[id] = string(b)
	return read[id], nil
}
