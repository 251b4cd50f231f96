package topology_test

import (
	"testing"

	"github.com/netlab-go/netlab/bench/labgen"
	"github.com/netlab-go/netlab/topology"
)

// BenchmarkParseStar1000 parses the benchmark's star lab of 1000 namespaces: what every
// plan, apply and destroy of it does first.
func BenchmarkParseStar1000(b *testing.B) {
	data := []byte(labgen.StarYAML(1000))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := topology.ParseWith("star.yaml", data, topology.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDesiredStar1000 computes the desired state of that lab.
func BenchmarkDesiredStar1000(b *testing.B) {
	t, err := topology.ParseWith("star.yaml", []byte(labgen.StarYAML(1000)), topology.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		t.Desired()
	}
}
