package main

import (
	"os"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/internal/sandbox"
)

// The smoke test runs the whole benchmark at N=10, once, inside the same kind of
// sandbox: every method builds and tears down the lab, and the table renders. It is
// part of make test; the full benchmark (make bench) is not.

func TestMain(m *testing.M) {
	sandbox.Main(m, func() ([]string, func(), error) {
		dir, err := os.MkdirTemp("", "netlab-bench-smoke-")
		if err != nil {
			return nil, nil, err
		}
		os.Chdir("..") // buildTools builds from the module root
		env, err := buildTools(dir)
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return env, func() { os.RemoveAll(dir) }, nil
	})
}

func TestSmoke(t *testing.T) {
	b := &bench{netlab: os.Getenv("BENCH_NETLAB"), floor: os.Getenv("BENCH_FLOOR"), dir: t.TempDir()}
	r, err := b.measure(10, 1)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]sample{"apply": r.apply, "floor build": r.floorBuild, "floor build-lab": r.floorLabBuild, "floor build-batched": r.floorBatchedBuild, "shell build": r.shellBuild,
		"ip -batch build": r.batchBuild, "one change": r.change, "destroy": r.destroy, "chain apply": r.chainApply} {
		if s.wall <= 0 {
			t.Errorf("%s was not measured", name)
		}
	}
	table := render([]row{r}, 1, false)
	if !strings.Contains(table, "| 10 | ") || !strings.Contains(table, "| total |") || !strings.Contains(table, "observe netns") ||
		!strings.Contains(table, "steal in /proc/stat") || !strings.Contains(table, "netlab apply 0.") ||
		!strings.Contains(table, "`floor build-batched`") {
		t.Errorf("table lacks the N=10 row, the phases, the CPU time stolen, the processes' CPU time or the batched floor:\n%s", table)
	}
	if r.steal.capacity <= 0 {
		t.Error("the CPUs' time over the measured steps was not counted")
	}
}
