package plan_test

import (
	"testing"

	"github.com/netlab-go/netlab/bench/labgen"
	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/topology"
)

// BenchmarkDiffStar1000 diffs the bench's star lab of 1000 namespaces against a kernel
// that has it all: the diff a no-op plan makes, and apply's verification.
func BenchmarkDiffStar1000(b *testing.B) {
	topo, err := topology.Parse("star.yaml", []byte(labgen.StarYAML(1000)))
	if err != nil {
		b.Fatal(err)
	}
	desired := topo.Desired()
	actual, owned := desired.Recorded(), desired.Recorded() // files as observed: digests
	for b.Loop() {
		p, err := plan.Diff(topo.Name, desired, actual, owned)
		if err != nil || !p.Empty() {
			b.Fatalf("plan %v, err %v", p.Actions, err)
		}
	}
}

// BenchmarkDiffStar1000Fresh diffs the bench's star lab of 1000 namespaces against a
// kernel that has none of it: the diff of a first apply.
func BenchmarkDiffStar1000Fresh(b *testing.B) {
	topo, err := topology.Parse("star.yaml", []byte(labgen.StarYAML(1000)))
	if err != nil {
		b.Fatal(err)
	}
	desired := topo.Desired()
	for b.Loop() {
		p, err := plan.Diff(topo.Name, desired, plan.NewState(), plan.NewState())
		if err != nil || len(p.Actions) == 0 {
			b.Fatalf("plan %d actions, err %v", len(p.Actions), err)
		}
	}
}
