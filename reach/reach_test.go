package reach

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/topology"
)

const lab = `name: r
nodes:
  host:
    interfaces: {m1: {addresses: [10.0.0.1/24]}, m2: {addresses: [10.0.1.1/24]}}
  a:
    interfaces: {e0: {addresses: [10.0.0.2/24]}}
  b:
    interfaces: {e0: {addresses: [10.0.1.2/24, "fd00::2/64"]}}
links: [[host:m1, a:e0], [host:m2, b:e0]]
expect:
  - {from: a, reach: [10.0.0.1, b], unreachable: [10.0.1.1]}
`

func TestCheckTable(t *testing.T) {
	topo, err := topology.Parse("r.yaml", []byte(lab))
	if err != nil {
		t.Fatal(err)
	}
	// The fake network answers everything but b's IPv6 address and 10.0.1.1.
	ping := func(_ context.Context, from string, addr netip.Addr) (bool, error) {
		return addr != netip.MustParseAddr("fd00::2") && addr != netip.MustParseAddr("10.0.1.1"), nil
	}
	cases := []struct {
		name   string
		all    bool
		want   string
		failed int
	}{
		{"expectations", false, `OK from a ping to 10.0.0.1      as expected
OK from a ping to b (10.0.1.2)  as expected
NG from a ping to b (fd00::2)   UNEXPECTED: should answer
NG from a ping to 10.0.1.1      as expected

Check failed: 1 of 4 expectation(s) do not hold.
`, 1},
		{"all", true, "", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			results, err := Run(context.Background(), Probes(topo, c.all), ping, 3)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			failed, err := WriteTable(&b, results)
			if err != nil || failed != c.failed {
				t.Errorf("failed = %d, %v; want %d", failed, err, c.failed)
			}
			if c.want != "" && b.String() != c.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), c.want)
			}
			// Expectations first, then every node to every address not yet covered.
			if c.all && (len(results) != 4+3*5-4 || !strings.Contains(b.String(), "OK from host ping to 10.0.0.2\n")) {
				t.Errorf("matrix of %d results:\n%s", len(results), b.String())
			}
		})
	}
}
