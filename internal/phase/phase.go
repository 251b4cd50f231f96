// Package phase times the phases of one netlab run (loading, observing, diffing,
// applying, verifying, recording) for `netlab --timings` and the benchmark's
// breakdown. It costs one branch per phase when timing is off.
package phase

import (
	"fmt"
	"io"
	"sync"
	"time"
)

var (
	mu      sync.Mutex
	enabled bool
	start   time.Time
	order   []string
	spent   = map[string]time.Duration{}
)

// Enable starts timing: from now on Begin measures.
func Enable() {
	mu.Lock()
	defer mu.Unlock()
	enabled, start = true, time.Now()
}

// Begin starts the phase name and returns the function that ends it; a phase begun
// several times (or on several goroutines) adds up.
func Begin(name string) (end func()) {
	mu.Lock()
	on := enabled
	mu.Unlock()
	if !on {
		return func() {}
	}
	t := time.Now()
	return func() {
		d := time.Since(t)
		mu.Lock()
		defer mu.Unlock()
		if _, seen := spent[name]; !seen {
			order = append(order, name)
		}
		spent[name] += d
	}
}

// Report writes each phase's time, in the order phases first ended, and the whole
// run's, as "phase NAME MS" lines.
func Report(w io.Writer) {
	mu.Lock()
	defer mu.Unlock()
	if !enabled {
		return
	}
	for _, name := range order {
		fmt.Fprintf(w, "phase %-16s %8.1f ms\n", name, float64(spent[name].Microseconds())/1000)
	}
	fmt.Fprintf(w, "phase %-16s %8.1f ms\n", "total", float64(time.Since(start).Microseconds())/1000)
}
