package reach

import (
	"bytes"
	"context"
	"flag"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

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

// TestCheckJSONAndJUnit: the machine forms of a check that fails one expectation
// (b's IPv6 address does not answer): JSON with every ping, JUnit with one case per
// expectation, compared with testdata/check.{json,xml}.
func TestCheckJSONAndJUnit(t *testing.T) {
	topo, err := topology.Parse("r.yaml", []byte(lab))
	if err != nil {
		t.Fatal(err)
	}
	ping := func(_ context.Context, from string, addr netip.Addr) (bool, error) {
		return addr != netip.MustParseAddr("fd00::2") && addr != netip.MustParseAddr("10.0.1.1"), nil
	}
	results, err := Run(context.Background(), Probes(topo, false), ping, 4)
	if err != nil {
		t.Fatal(err)
	}
	if ToJSON("r", results).Passed {
		t.Error("a check with an expectation that does not hold passed")
	}
	for file, write := range map[string]func(*bytes.Buffer) error{
		"testdata/check.json": func(b *bytes.Buffer) error { return WriteJSON(b, "r", results) },
		"testdata/check.xml":  func(b *bytes.Buffer) error { return WriteJUnit(b, "r", results) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		if *update {
			os.MkdirAll("testdata", 0o755)
			os.WriteFile(file, b.Bytes(), 0o644)
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (go test ./reach -update)", err)
		}
		if b.String() != string(want) {
			t.Errorf("%s differs:\n%s", file, b.String())
		}
	}
}
