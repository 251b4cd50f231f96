// Package gcbudget keeps a short-lived process's heap near a budget: after each
// collection it sets GOGC so that the next one comes when the heap reaches the budget,
// but never below one and a half times the live heap (GOGC 50) nor above five times
// (GOGC 400). A small lab so collects rarely and stays within the budget; a large one,
// whose live heap alone passes the budget, is collected about as by default rather than
// all the time, as a fixed memory limit would (GOMEMLIMIT's death spiral). It is the
// approach of Uber's GOGC tuner, in a few lines. A soft memory limit, always twice the
// live heap at least (Limit), bounds what a cycle can overshoot while goroutines
// allocate during its marking.
package gcbudget

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// The bounds of GOGC that Start sets.
const (
	minPercent = 50
	maxPercent = 400
)

// Start tunes GOGC after every collection from now on so that the heap stays within
// budget bytes where it can. Until the first collection GOGC is the default, 100, so
// that it comes early (at the runtime's first goal, a heap of 4 MiB): before anything
// is known of the live heap, a late first collection is the one that overshoots most.
func Start(budget uint64) {
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(int64(Limit(budget, 0)))
	arm(budget)
}

// sentinel is garbage as soon as it is made: its finalizer runs after the next
// collection, sets GOGC, and makes the next sentinel.
type sentinel struct{ _ [16]byte }

func arm(budget uint64) {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		live := liveHeap()
		debug.SetGCPercent(Percent(budget, live))
		debug.SetMemoryLimit(int64(Limit(budget, live)))
		arm(budget)
	})
}

// Limit is the soft memory limit after a collection that left live bytes: twice the
// budget, or, once the live heap passes three quarters of the budget, twice the live
// heap and half the budget more. It is not the goal (GOGC is) but a bound on a
// cycle's overshoot: goroutines that allocate while the collector marks (the topology
// parsed while the host is read, say) once took a heap of 16 MiB to 27. Being always
// twice the live heap at least, it never makes the collector run all the time.
func Limit(budget, live uint64) uint64 {
	return max(2*budget, 2*live+budget/2)
}

// Percent is the GOGC that makes the heap goal budget for a live heap of live bytes,
// within [50, 400].
func Percent(budget, live uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := int((float64(budget) - float64(live)) / float64(live) * 100)
	return min(max(p, minPercent), maxPercent)
}

var sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

func liveHeap() uint64 {
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}
