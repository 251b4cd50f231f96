package plan

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// The rules for the names a lab uses, in one place: the topology loader checks a file
// with them, and the record loader checks a record read back from disk, which is input
// like any other (a forged name like ../../victim must never become a path).

// isSafeName reports whether s matches ^[A-Za-z0-9_][A-Za-z0-9_.-]*$: a loop rather than
// a regular expression, as every name of a record read back is checked, thousands of
// them for a large lab.
func isSafeName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

// LabNameProblem says what keeps s from being a lab's name (it marks interfaces as
// netlab:NAME and names the record file), or "".
func LabNameProblem(s string) string {
	if !isSafeName(s) || len(s) > 64 {
		return "is not usable: it marks interfaces (alias netlab:NAME) and names the state file"
	}
	return ""
}

// NodeNameProblem says what keeps a name from naming a namespace file under /run/netns
// (and a word in a shell command), with a hint, or "".
func NodeNameProblem(name string) (problem, hint string) {
	switch {
	case strings.ContainsRune(name, 0):
		return "contains a NUL byte", "use letters, digits, '-', '_' and '.'"
	case name == "" || name == "." || name == "..":
		return "cannot be a file name under /run/netns", "use letters, digits, '-', '_' and '.'"
	case strings.ContainsRune(name, '/'):
		return "cannot be a file name under /run/netns: it contains '/'", "use letters, digits, '-', '_' and '.'"
	case len(name) > 255:
		return "is too long for a file name under /run/netns", "use at most 255 bytes"
	case !isSafeName(name):
		return "is not usable as a namespace name under /run/netns and in commands", "use letters, digits, '-', '_' and '.', starting with a letter or digit"
	}
	return "", ""
}

// NamespaceNameProblem says what keeps ns from being a namespace a lab makes, or "":
// a node's name, or NODE@MACHINE, the namespace that holds a bridge of NODE on another
// machine of a lab across machines (see topology.SegmentNS). '@' is in no node's name.
func NamespaceNameProblem(ns NS) string {
	node, machine, replica := strings.Cut(string(ns), "@")
	problem, _ := NodeNameProblem(node)
	if problem == "" && replica {
		problem, _ = NodeNameProblem(machine)
	}
	if problem == "" && len(ns) > 255 {
		problem = "is too long for a file name under /run/netns"
	}
	return problem
}

// IfaceNameProblem says what is wrong with an interface name, as the kernel's
// dev_valid_name judges it and as /proc/sys/net/*/conf/NAME needs it, or "".
func IfaceNameProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case strings.ContainsRune(name, 0):
		return "contains a NUL byte"
	case len(name) > 15:
		return fmt.Sprintf("is %d bytes long; the kernel allows at most 15", len(name))
	case name == "." || name == "..":
		return "is not allowed by the kernel"
	case name == "all" || name == "default":
		return "is taken by the sysctls of every interface (/proc/sys/net/ipv4/conf/" + name + ")"
	case strings.ContainsAny(name, "/:"):
		return "contains '/' or ':', which the kernel does not allow"
	case strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return "contains whitespace or a control character, which the kernel does not allow"
	case name == "lo":
		return "is the loopback interface, which every namespace has already"
	}
	return ""
}

var sysctlName = regexp.MustCompile(`^net(\.[A-Za-z0-9_-]+)+$`)

// IsSysctlName reports whether name is a net.* sysctl name, the only ones that belong
// to a network namespace.
func IsSysctlName(name string) bool { return sysctlName.MatchString(name) }

// Validate checks a State read back from disk (an ownership record) as the topology
// loader checks a file: every namespace, interface, sysctl and file name is one a lab
// could have made, every address and path well formed. A forged record must never
// make netlab act on a path outside its own objects.
func (s State) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	ns := func(n NS) {
		if n == Host {
			return
		}
		if problem := NamespaceNameProblem(n); problem != "" {
			bad("namespace %q %s", n, problem)
		}
	}
	link := func(k LinkKey, loopback bool) {
		ns(k.NS)
		if problem := IfaceNameProblem(k.Name); problem != "" && !(loopback && k.Name == "lo") {
			bad("interface %q of %s %s", k.Name, k.NS, problem)
		}
	}
	for n := range s.Namespaces {
		ns(n)
	}
	for k, l := range s.Links {
		switch l.Kind {
		case Veth, Bridge, Macvlan, Loopback, Vxlan:
		default:
			bad("link %s is of unknown kind %q", k, l.Kind)
		}
		link(k, l.Kind == Loopback)
		if l.Peer != (LinkKey{}) {
			link(l.Peer, false)
		}
		if l.Parent != (LinkKey{}) {
			link(l.Parent, false)
		}
		for _, m := range []string{l.Master} {
			if m != "" && IfaceNameProblem(m) != "" {
				bad("bridge %q of link %s is not an interface name", m, k)
			}
		}
	}
	for k := range s.Addrs {
		link(k.Link, false)
		if !k.Prefix.IsValid() {
			bad("address of %s is not valid", k.Link)
		}
	}
	for k, r := range s.Routes {
		ns(k.NS)
		if !k.To.IsValid() || r.Dev != "" && IfaceNameProblem(r.Dev) != "" {
			bad("route %s is not valid", k)
		}
	}
	for k, v := range s.Sysctls {
		ns(k.NS)
		if !IsSysctlName(k.Name) || strings.ContainsAny(v, "\x00\n") {
			bad("sysctl %q of %s is not a net.* sysctl with a one-line value", k.Name, k.NS)
		}
	}
	for r := range s.NAT {
		ns(r.NS)
		if !r.Source.IsValid() || r.Out != "" && r.Out != "lo" && IfaceNameProblem(r.Out) != "" {
			bad("nat rule %s is not valid", r)
		}
	}
	for k, v := range s.Files {
		if k.Shared() {
			lab, ok := strings.CutPrefix(k.Name, ".netlab-")
			if lab, ok2 := strings.CutSuffix(lab, ".hosts"); !ok || !ok2 || LabNameProblem(lab) != "" {
				bad("file %q is not one netlab writes", k.Name)
			}
			continue
		}
		ns(k.NS)
		if k.NS == Host || k.Name != "" && k.Name != "hosts" && k.Name != "resolv.conf" {
			bad("file %q of %s is not one netlab writes", k.Name, k.NS)
		}
		if target, link := LinkTarget(v); link && !strings.HasPrefix(target, EtcNetnsDir+"/.netlab-") {
			bad("file %s links to %q", k.Path(), target)
		}
	}
	for k, q := range s.Qdiscs {
		link(k, false)
		if q.Foreign != "" || !q.HasTBF() && !q.HasNetem() {
			bad("qdisc of %s is not one netlab makes", k)
		}
	}
	for n, src := range s.Attached {
		ns(n)
		if n == Host || !strings.HasPrefix(src, "/") || path.Clean(src) != src || strings.ContainsRune(src, 0) {
			bad("namespace source %q of %s is not a clean absolute path", src, n)
		}
	}
	return errors.Join(errs...)
}
