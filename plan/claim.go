package plan

import (
	"fmt"
	"slices"
)

// Claim returns what the kernel shows to be the lab's by its marks alone, for a destroy
// whose record is lost or unreadable: actual is observed over known (the lab's topology,
// or the namespaces found under /run/netns and /etc/netns), every file of it checked for
// the lab's FileMark only (Scope.ForDestroyWithoutRecord). Diff(lab, empty, actual,
// Claim(...)) then removes exactly that. What Claim cannot prove to be the lab's is
// left alone, and the warnings name it:
//   - a link is the lab's by its alias or LinkMAC (as always: Diff needs no record for it);
//   - a namespace, when every interface in it but lo is the lab's and it has at least one,
//     or its /etc/netns hosts file carries the lab's mark;
//   - a file under /etc/netns, when it starts with the lab's FileMark or is a hard link
//     to the lab's shared hosts file; its directory, when nothing else is in it;
//   - a sysctl the lab set cannot be restored: the value before it is in the record only;
//   - the /run/netns entry of an existing namespace carries no mark: it is left.
func Claim(lab string, known, actual State) (owned State, warnings []string) {
	owned = NewState()
	byNS := map[NS][]LinkKey{}
	for k, l := range actual.Links {
		if l.Kind != Loopback {
			byNS[k.NS] = append(byNS[k.NS], k)
		}
	}
	marked := func(k LinkKey) bool {
		l := actual.Links[k]
		return l.Alias == Alias(lab) || l.MAC == LinkMAC(lab, k)
	}
	for _, ns := range sortedKeys(actual.Namespaces, compareNS) {
		if _, attached := known.Attached[ns]; attached || ns == Host {
			continue
		}
		links, all := byNS[ns], true
		for _, k := range links {
			all = all && marked(k)
		}
		if all && (len(links) > 0 || labsFile(lab, actual.Files[FileKey{NS: ns, Name: "hosts"}])) {
			owned.Namespaces[ns] = true
		} else {
			warnings = append(warnings, fmt.Sprintf("%s/%s is not provably the lab's (it holds interfaces without the lab's mark, or nothing with it): left as it is", NetnsDir, ns))
		}
	}
	for k, l := range actual.Links {
		if marked(k) {
			if want, ok := known.Links[k]; ok {
				l.Peer = want.Peer // so that Diff lets a namespace's deletion take the peer
			}
			owned.Links[k] = l
		}
	}
	for _, k := range sortedKeys(actual.Files, compareFileKey) {
		switch v := actual.Files[k]; {
		case k.IsDir() && v != FileForeign:
			owned.Files[k] = "" // removed when only the lab's files are in it
		case labsFile(lab, v):
			owned.Files[k] = v
		}
	}
	for _, k := range sortedKeys(known.Sysctls, compareSysctlKey) {
		if v, ok := actual.Sysctls[k]; ok && !owned.Namespaces[k.NS] {
			warnings = append(warnings, fmt.Sprintf("sysctl %s stays %s: the value it had before the lab is known from the lab's record only", k, v))
		}
	}
	for _, ns := range sortedKeys(known.Attached, compareNS) {
		if _, ok := actual.Attached[ns]; ok && known.Attached[ns] != NetnsDir+"/"+string(ns) {
			warnings = append(warnings, fmt.Sprintf("%s/%s may be the lab's entry for an existing namespace, but carries no mark: remove it with ip netns del %s if it is", NetnsDir, ns, ns))
		}
	}
	return owned, warnings
}

// labsFile reports whether an observed file's value shows it to be the lab's: it starts
// with the lab's FileMark, or is a hard link to the lab's shared file.
func labsFile(lab, v string) bool {
	return v == FileUnread || v == HardLink(SharedHosts(lab))
}

// ForDestroyWithoutRecord returns the scope to observe for Claim: every namespace and
// file of the scope read for its marks (files for their FileMark only), and the nat
// table of the host.
func (sc Scope) ForDestroyWithoutRecord(files []FileKey) Scope {
	sc.ExistenceOnly = map[NS]bool{}
	sc.UnreadFiles = map[FileKey]bool{}
	seen := map[FileKey]bool{}
	for _, k := range sc.Files {
		seen[k] = true
	}
	for _, k := range files {
		if !seen[k] {
			sc.Files = append(sc.Files, k)
		}
	}
	slices.SortFunc(sc.Files, compareFileKey)
	for _, k := range sc.Files {
		if !k.IsDir() {
			sc.UnreadFiles[k] = true
		}
	}
	if !slices.Contains(sc.NAT, NATTable{NS: Host}) {
		sc.NAT = append([]NATTable{{NS: Host}}, sc.NAT...)
	}
	if !slices.Contains(sc.Namespaces, Host) {
		sc.Namespaces = append([]NS{Host}, sc.Namespaces...)
	}
	return sc
}
