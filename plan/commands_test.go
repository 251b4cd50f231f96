package plan

import (
	"fmt"
	"testing"
)

func TestAttachCommands(t *testing.T) {
	for _, tc := range []struct {
		kind   Kind
		before string
		after  string
		want   string
	}{
		{Create, "", "/proc/42/ns/net", "[[ip netns attach web 42]]"},
		{Create, "", "/run/netns/other", "[[touch /run/netns/web] [mount --bind /run/netns/other /run/netns/web]]"},
		{Update, "(another namespace)", "/proc/42/ns/net", "[[umount /run/netns/web] [mount --bind /proc/42/ns/net /run/netns/web]]"},
		{Delete, "/proc/42/ns/net", "", "[[umount /run/netns/web] [rm /run/netns/web]]"},
	} {
		o := AttachObject{NS: "web", Before: tc.before, After: tc.after}
		if tc.kind == Delete {
			o.After = ""
		}
		a := Action{Kind: tc.kind, Target: o}
		if got := fmt.Sprint(a.Commands()); got != tc.want {
			t.Errorf("%v %s: %s, want %s", tc.kind, tc.after, got, tc.want)
		}
	}
}

// TestShellQuote: a word of safe bytes stays as it is; any other, and the empty word,
// is single-quoted, its own single quotes closed and escaped.
func TestShellQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ip", "ip"},
		{"1a:61:5e:e3:89:a5", "1a:61:5e:e3:89:a5"},
		{"10.0.0.1/30", "10.0.0.1/30"},
		{"netlab:star", "netlab:star"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"café", "'café'"},
		{"x\xff", "'x\xff'"},
	} {
		if got := ShellQuote(c.in); got != c.want {
			t.Errorf("ShellQuote(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
