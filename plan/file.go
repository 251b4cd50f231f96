package plan

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
)

// EtcNetnsDir is where `ip netns exec NODE` finds the files it binds over /etc, one
// directory per namespace: /etc/netns/NODE/hosts, /etc/netns/NODE/resolv.conf.
const EtcNetnsDir = "/etc/netns"

// FileKey identifies a file a lab writes under EtcNetnsDir: for a namespace, Name is
// "hosts" or "resolv.conf", or "" for the directory /etc/netns/NS itself; with no NS,
// the file of the lab's own in EtcNetnsDir that every namespace's hosts file is a hard
// link to (SharedHosts).
type FileKey struct {
	NS   NS
	Name string
}

// SharedHosts is the file that holds the hosts content of every namespace of the lab,
// once: /etc/netns/.netlab-LAB.hosts, on the file system of the namespaces' own
// directories so that each /etc/netns/NODE/hosts is a hard link to it. A lab of N
// namespaces then writes N lines once, where N files of N lines each took 55 MB at
// N=1000. `ip netns exec` binds /etc/netns/NODE/hosts, a link as good as a copy.
func SharedHosts(lab string) FileKey { return FileKey{Name: ".netlab-" + lab + ".hosts"} }

// HardLink is the value a desired or observed State gives a file that is a hard link to
// the file target (the same inode), instead of its content or digest.
func HardLink(target FileKey) string { return hardLinkPrefix + target.Path() + ")" }

const hardLinkPrefix = "(hard link to "

// IsHardLink reports whether v is a HardLink value.
func IsHardLink(v string) bool { return strings.HasPrefix(v, hardLinkPrefix) }

// LinkTarget returns the path a HardLink value links to, if v is one.
func LinkTarget(v string) (string, bool) {
	if rest, ok := strings.CutPrefix(v, hardLinkPrefix); ok {
		return strings.TrimSuffix(rest, ")"), true
	}
	return "", false
}

// Path is the file's path: /etc/netns/NS/NAME, /etc/netns/NS for the directory, and
// /etc/netns/NAME for the lab's shared file.
func (k FileKey) Path() string {
	switch {
	case k.NS == "":
		return EtcNetnsDir + "/" + k.Name
	case k.Name == "":
		return EtcNetnsDir + "/" + string(k.NS)
	}
	return EtcNetnsDir + "/" + string(k.NS) + "/" + k.Name
}

// IsDir reports whether the key names the directory of the namespace's files.
func (k FileKey) IsDir() bool { return k.Name == "" }

// Shared reports whether the key names a lab's shared file in EtcNetnsDir itself.
func (k FileKey) Shared() bool { return k.NS == "" }

func (k FileKey) String() string { return k.Path() }

func compareFileKey(a, b FileKey) int {
	return cmp.Or(compareNS(a.NS, b.NS), cmp.Compare(a.Name, b.Name))
}

// FileUnread is what Observe reports for a file of Scope.UnreadFiles that exists and
// starts with the lab's FileMark.
const FileUnread = "(not read)"

// FileForeign is what Observe reports for a file or directory under EtcNetnsDir that is
// not the lab's whatever the record says: a symbolic link, not a regular file (or not a
// directory), or a file of Scope.UnreadFiles without the lab's FileMark.
const FileForeign = "(not the lab's)"

// FileMark is how every file a lab writes under EtcNetnsDir begins; the rest of its
// first line follows a ';' or a space.
func FileMark(lab string) string { return "# Written by netlab for lab " + lab }

// TempName is the name of the temporary file beside the file of k that a write goes
// through before it is renamed over k: one fixed name, so that what an interrupted run
// left is known to be the lab's and is cleaned up.
func (k FileKey) TempName() string { return "." + k.Name + ".netlab-new" }

// Digest is how observed and recorded states hold a file's content: "sha256:" and its
// hex SHA-256.
func Digest(content string) string {
	sum := sha256.Sum256([]byte(content))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// DigestReader is the Digest of everything r yields, read in small pieces: observing the
// hosts files of a large lab then costs no copy of each.
func DigestReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// recordedValue is how a record holds a file's value: a directory as "", a hard link
// as itself, content as its Digest.
func recordedValue(k FileKey, v string) string {
	switch {
	case k.IsDir():
		return ""
	case IsHardLink(v):
		return v
	}
	return Digest(v)
}

// FileObject is a file or directory under EtcNetnsDir: Before and After are a file's
// content (or its Digest when observed, or a HardLink value), and "" for a directory.
type FileObject struct {
	Key           FileKey
	Before, After string
}

// Type is TypeFile.
func (FileObject) Type() ObjectType { return TypeFile }

func (FileObject) marks(string) [][]string { return nil } // recorded only when adopted

func (o FileObject) name() string { return o.Key.Path() }
func (o FileObject) own(owned, _ State, _ Kind) {
	owned.Files[o.Key] = recordedValue(o.Key, o.After)
}
func (o FileObject) apply(k Applier, a Action) error { return k.ApplyFile(a, o) }

func (o FileObject) describe(Kind) string {
	if o.Key.IsDir() {
		return "directory " + o.Key.Path()
	}
	return "file " + o.Key.Path()
}

// namespaces: the lab's shared file is in no namespace's directory; it counts as the
// host's.
func (o FileObject) namespaces(Kind) []NS {
	if o.Key.Shared() {
		return []NS{Host}
	}
	return []NS{o.Key.NS}
}

func (o FileObject) change() string {
	if IsHardLink(o.After) {
		return "relinked"
	}
	return "rewritten"
}

// input is the content a write puts in the file.
func (o FileObject) input(k Kind) string {
	if o.Key.IsDir() || k == Delete || IsHardLink(o.After) {
		return ""
	}
	return o.After
}

func (o FileObject) jsonKey() any {
	return struct {
		NS   NS     `json:"ns,omitempty"`
		Name string `json:"name,omitempty"`
		Path string `json:"path"`
	}{o.Key.NS, o.Key.Name, o.Key.Path()}
}

// jsonValues give a written file's content as its Digest: the content itself is the
// action's input.
func (o FileObject) jsonValues() (any, any) {
	after := o.After
	if !o.Key.IsDir() && after != "" && !IsHardLink(after) {
		after = Digest(after)
	}
	return jsonString(o.Before), jsonString(after)
}

func (o FileObject) commands(k Kind, _ string) [][]string {
	path := o.Key.Path()
	switch {
	case o.Key.IsDir() && k == Delete:
		return [][]string{{"rmdir", path}}
	case o.Key.IsDir():
		return [][]string{{"mkdir", "-p", path}}
	case k == Delete:
		return [][]string{{"rm", "-f", path}}
	}
	if target, link := LinkTarget(o.After); link {
		return [][]string{{"ln", "-f", target, path}}
	}
	return [][]string{{"tee", path}} // reads Input
}

// phase: directories, then the lab's shared file (before the links to it, whether
// they are made or made anew), then the namespaces' files.
func (o FileObject) phase(Kind) int {
	switch {
	case o.Key.IsDir():
		return phaseDirectory
	case o.Key.Shared():
		return phaseSharedFile
	}
	return phaseFile
}

func (o FileObject) compare(other Object) int {
	return compareAs(o, other, func(a, b FileObject) int { return compareFileKey(a.Key, b.Key) })
}

// dependOn: a file waits for its directory's creation, and a link for the shared file
// it links to; a directory's deletion waits for the deletion of the files in it.
func (o FileObject) dependOn(x *depIndex, i int, k Kind) []int {
	ns := o.Key.NS
	switch {
	case o.Key.IsDir() && k == Create:
		x.dirCreate[ns] = i
	case o.Key.IsDir() && k == Delete:
		return x.fileDeletes[ns]
	case k == Delete:
		x.fileDeletes[ns] = append(x.fileDeletes[ns], i)
	case o.Key.Shared():
		x.sharedWrite[o.Key.Path()] = i
	default:
		deps := need(x.dirCreate, ns)
		if target, link := LinkTarget(o.After); link {
			deps = append(deps, need(x.sharedWrite, target)...) // a link to the file written first
		}
		return deps
	}
	return nil
}

// files writes the lab's files under /etc/netns. They are not in the namespace, so they
// are dealt with even when the namespace is created or deleted whole. A directory that
// exists is used as it is and removed only when the lab made it and it holds nothing but
// files this plan removes.
func (d *differ) files() {
	// The lab's shared files come first (they have no namespace, and compareFileKey puts
	// "" first): a node's hosts file that is a link to one is relinked when this plan
	// writes the shared file anew (a new file: links keep the old one).
	written := map[string]bool{}
	for _, k := range sortedKeys(d.desired.Files, compareFileKey) {
		want := d.desired.Files[k]
		have, ok := d.actual.Files[k]
		_, owned := d.owned.Files[k]
		left := !owned && ok && d.leftByLab(k, have)
		if target, link := LinkTarget(want); link && ok && have != FileForeign {
			switch {
			case have == want && !written[target]:
				continue
			case have == want || owned: // a link to the old shared file, or the lab's file replaced
				d.add(Action{Kind: Update, Target: FileObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
				continue
			} // someone else's file: a clash, below
		}
		if k.Shared() && (!ok || have != d.digests.of(want)) {
			written[k.Path()] = true
		}
		switch {
		case !ok:
			d.add(Action{Kind: Create, Target: FileObject{Key: k, After: want}, Reason: missingReason(owned)})
		case have == FileForeign:
			d.clash("file "+k.Path(), k.Path()+" exists and is not a plain "+map[bool]string{true: "directory", false: "file"}[k.IsDir()]+
				" (a symbolic link?)", "remove it (rm "+k.Path()+") or rename the node")
		case left && (k.IsDir() || have == d.digests.of(want)):
			d.add(Action{Kind: Adopt, Target: FileObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonLeftByLab}})
		case left:
			d.add(Action{Kind: Update, Target: FileObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonLeftByLab}})
		case k.IsDir():
			if d.adopt && !owned {
				d.adopted(FileObject{Key: k, Before: have, After: want})
			}
		case !owned && d.adopt && have == d.digests.of(want):
			d.adopted(FileObject{Key: k, Before: have, After: want})
		case !owned:
			d.clash("file "+k.Path(), k.Path()+" exists and was not written by this lab",
				"remove it (rm "+k.Path()+") or rename the node")
		case have != d.digests.of(want):
			d.add(Action{Kind: Update, Target: FileObject{Key: k, Before: have, After: want}, Reason: Reason{Code: ReasonDiffers}})
		}
	}
	for _, k := range sortedKeysBut(d.owned.Files, compareFileKey, hasKey(d.desired.Files)) {
		have, ok := d.actual.Files[k]
		switch {
		case !ok:
		case have == FileForeign:
			d.warn("%s is no longer the lab's (a symbolic link, or not written by netlab): left as it is", k.Path())
		case !k.IsDir() || d.onlyLeavingFiles(k.NS, have):
			d.add(Action{Kind: Delete, Target: FileObject{Key: k, Before: have}, Reason: Reason{Code: ReasonGone}})
		}
	}
}

// leftByLab reports whether the desired file k, not in the lab's record and found as
// have, is the lab's by its mark all the same (State.MarkedFiles): a file whose first
// line is the lab's FileMark, or a directory that holds only files the topology wants
// in it, each so marked or a hard link to the lab's shared file. An empty directory
// may be anyone's, and stays as it is.
func (d *differ) leftByLab(k FileKey, have string) bool {
	if !k.IsDir() {
		return d.actual.MarkedFiles[k]
	}
	names := strings.Fields(have)
	for _, name := range names {
		f := FileKey{NS: k.NS, Name: name}
		if _, want := d.desired.Files[f]; !want || !d.actual.MarkedFiles[f] && d.actual.Files[f] != HardLink(SharedHosts(d.lab)) {
			return false
		}
	}
	return len(names) > 0
}

// onlyLeavingFiles reports whether every name in the directory listing is a file of the
// lab's in ns that it no longer wants, or the temporary file of one (see TempName).
func (d *differ) onlyLeavingFiles(ns NS, listing string) bool {
	for _, name := range strings.Fields(listing) {
		k := FileKey{NS: ns, Name: name}
		if base, ok := strings.CutSuffix(name, ".netlab-new"); ok && strings.HasPrefix(base, ".") {
			k.Name = base[1:] // the temporary file of base (TempName)
		}
		if _, owned := d.owned.Files[k]; !owned {
			return false
		}
		if _, want := d.desired.Files[k]; want {
			return false
		}
	}
	return true
}
