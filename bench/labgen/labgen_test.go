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

// TestStarChangedIsOneRoute: the changed star is the star with one route more.
func TestStarChangedIsOneRoute(t *testing.T) {
	for _, n := range []int{1, 10, 1000} {
		star, err := topology.Parse("star.yaml", []byte(StarYAML(n)))
		if err != nil {
			t.Fatal(err)
		}
		changed, err := topology.Parse("changed.yaml", []byte(StarChangedYAML(n)))
		if err != nil {
			t.Fatal(err)
		}
		a, b := star.Desired(), changed.Desired()
		if len(b.Routes) != len(a.Routes)+1 || len(b.Links) != len(a.Links) || len(b.Addrs) != len(a.Addrs) {
			t.Errorf("n=%d: %d routes, %d links, %d addresses; the star has %d, %d, %d", n,
				len(b.Routes), len(b.Links), len(b.Addrs), len(a.Routes), len(a.Links), len(a.Addrs))
		}
	}
}
