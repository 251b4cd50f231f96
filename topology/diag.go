package topology

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Diagnostic is one problem in a topology file, at a position, with a hint saying what
// to write instead.
type Diagnostic struct {
	File   string
	Line   int
	Column int
	Msg    string
	Hint   string
}

// String renders the diagnostic as FILE:LINE:COL: message; hint.
func (d Diagnostic) String() string {
	s := fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Column, d.Msg)
	if d.Hint != "" {
		s += "; " + d.Hint
	}
	return s
}

// Diagnostics is every problem found in a topology file, sorted by position. It is the
// error Load and Parse return for a file that is not a valid topology.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

func (ds Diagnostics) sort() {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}

// Pos is a position in the topology file, kept on every parsed element so that checks
// made after parsing can point at it.
type Pos struct {
	Line, Column int
}

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

// suggest returns the known word closest to s, when one is close enough to be a typo.
func suggest(s string, known []string) string {
	best, bestDist := "", len(s)/2+1
	for _, k := range known {
		if d := editDistance(strings.ToLower(s), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
