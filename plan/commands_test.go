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
