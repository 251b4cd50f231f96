package plan_test

import (
	"testing"

	"github.com/netlab-go/netlab/plan"
)

// TestClaim: without a record, a namespace is the lab's only when what is in it shows
// the lab's marks.
func TestClaim(t *testing.T) {
	lo := plan.Link{Kind: plan.Loopback, Up: true}
	marked := plan.Link{Kind: plan.Veth, Alias: plan.Alias("lab")}
	hosts := plan.FileKey{NS: "n", Name: "hosts"}
	cases := []struct {
		name  string
		links map[string]plan.Link
		hosts string // the observed hosts file, "" for none
		want  bool
	}{
		{"only the lab's links", map[string]plan.Link{"lo": lo, "e0": marked}, "", true},
		{"a link without the mark", map[string]plan.Link{"lo": lo, "e0": marked, "x": {Kind: plan.Veth}}, plan.FileUnread, false},
		{"nothing but the lab's hosts file", map[string]plan.Link{"lo": lo}, plan.FileUnread, true},
		{"nothing at all", map[string]plan.Link{"lo": lo}, "", false},
		{"a hosts file of someone else's", map[string]plan.Link{"lo": lo}, plan.FileForeign, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			actual := plan.NewState()
			actual.Namespaces["n"] = true
			for name, l := range c.links {
				actual.Links[plan.LinkKey{NS: "n", Name: name}] = l
			}
			if c.hosts != "" {
				actual.Files[hosts] = c.hosts
			}
			owned, warnings := plan.Claim("lab", plan.NewState(), actual)
			if owned.Namespaces["n"] != c.want || (len(warnings) > 0) == c.want {
				t.Errorf("claimed %v (warnings %q), want %v", owned.Namespaces["n"], warnings, c.want)
			}
			if _, ok := owned.Files[hosts]; ok != (c.hosts == plan.FileUnread) {
				t.Errorf("hosts file claimed %v", ok)
			}
		})
	}
}
