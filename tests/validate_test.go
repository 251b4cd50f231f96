package tests

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func runCmdShell(t *testing.T, script string) result {
	t.Helper()
	return runCmd(t, exec.Command("bash", "-c", script))
}

// TestBadInputChangesNothing: a topology with errors gets exit 1 with positioned
// messages, from every command, and nothing changes.
func TestBadInputChangesNothing(t *testing.T) {
	cleanSandbox(t)
	file := writeFile(t, "bad.yaml", "name: bad\nnodes:\n  host:\n    interfaces:\n      m1: {addresses: [10.0.0.300/24]}\n  ns1:\n    interfaces: {e0: {}}\nlinks:\n  - [host:m1, ns1:e0]\n")
	before := snapshot(t)
	for _, cmd := range []string{"validate", "plan", "apply", "destroy"} {
		r := netlab(t, cmd, file)
		if r.code != 1 || !strings.Contains(r.stderr, "bad.yaml:5:24: bad address \"10.0.0.300/24\"") {
			t.Errorf("%s: want exit 1 with a positioned error: %s", cmd, r)
		}
	}
	if after := snapshot(t); after != before {
		t.Error("bad input changed the sandbox")
	}
}
