package topology

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds the loader arbitrary files. It must never panic; every diagnostic
// has a position; and whatever it accepts compiles to a State whose record passes the
// record loader's own checks (what validate takes, a record may hold).
func FuzzParse(f *testing.F) {
	examples, _ := filepath.Glob("../examples/*.yaml")
	for _, e := range examples {
		if data, err := os.ReadFile(e); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(valid))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := Parse("fuzz.yaml", data)
		if err != nil {
			diags, ok := err.(Diagnostics)
			if !ok {
				t.Fatalf("error is a %T, not Diagnostics", err)
			}
			if len(diags) == 0 || len(diags) > MaxDiagnostics+1 {
				t.Fatalf("%d diagnostics", len(diags))
			}
			for _, d := range diags {
				if d.Line < 1 || d.Column < 1 || !strings.HasPrefix(d.String(), "fuzz.yaml:") {
					t.Fatalf("diagnostic without a position: %q", d.String())
				}
			}
			return
		}
		if err := topo.Desired().Recorded().Validate(); err != nil {
			t.Fatalf("an accepted topology makes a record the record loader refuses: %v", err)
		}
	})
}
