package record_test

import (
	"testing"

	"github.com/netlab-go/netlab/bench/labgen"
	"github.com/netlab-go/netlab/record"
	"github.com/netlab-go/netlab/topology"
)

// BenchmarkLoadStar1000 reads back the record of the bench's star lab of 1000
// namespaces (3000 links, 2000 addresses, 1000 routes, 2001 files): what every plan,
// apply and destroy of the applied lab reads before observing.
func BenchmarkLoadStar1000(b *testing.B) {
	topo, err := topology.Parse("star.yaml", []byte(labgen.StarYAML(1000)))
	if err != nil {
		b.Fatal(err)
	}
	s := record.Store{Dir: b.TempDir()}
	if err := s.Save(record.Record{Lab: topo.Name, Topology: "/star.yaml", Owned: topo.Desired().Recorded()}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r, err := s.Load(topo.Name); err != nil || len(r.Owned.Links) != 3000 {
			b.Fatalf("%d links, err %v", len(r.Owned.Links), err)
		}
	}
}
