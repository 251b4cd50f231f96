package graph

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden draws every example in both formats and compares with testdata/.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	formats := map[string]func(*strings.Builder, *topology.Topology) error{
		"dot":     func(b *strings.Builder, t *topology.Topology) error { return WriteDOT(b, t) },
		"mermaid": func(b *strings.Builder, t *topology.Topology) error { return WriteMermaid(b, t) },
	}
	for _, f := range files {
		topo, err := topology.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		for ext, write := range formats {
			var b strings.Builder
			if err := write(&b, topo); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(filepath.Base(f), ".yaml")+"."+ext)
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./graph -update)", err)
			}
			if b.String() != string(want) {
				t.Errorf("%s differs from the drawing:\n%s", golden, b.String())
			}
		}
	}
}

func TestMermaidIDsDiffer(t *testing.T) {
	if mermaidID("a.b") == mermaidID("a_b") || mermaidID("a-b") == mermaidID("a.b") {
		t.Error("two node names share a Mermaid id")
	}
}
