package labgen

import (
	"testing"

	"github.com/netlab-go/netlab/topology"
)

func TestLabsAreValid(t *testing.T) {
	for _, n := range []int{1, 2, 10, 300} {
		for name, src := range map[string]string{"star": StarYAML(n), "chain": ChainYAML(n + 1)} {
			topo, err := topology.Parse(name+".yaml", []byte(src))
			if err != nil {
				t.Fatalf("%s %d: %v", name, n, err)
			}
			if name == "star" && len(topo.Nodes) != n+1 {
				t.Errorf("star %d has %d nodes", n, len(topo.Nodes))
			}
		}
	}
}

func TestSubnetsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := range 20000 {
		l, r := Subnet(i)
		if seen[l] || seen[r] {
			t.Fatalf("link %d reuses %s or %s", i, l, r)
		}
		seen[l], seen[r] = true, true
	}
}
