package gcbudget

import "testing"

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		budget, live uint64
		want         int
	}{
		{16 * mib, 0, 400},
		{16 * mib, 2 * mib, 400}, // a small heap: collect rarely
		{16 * mib, 8 * mib, 100}, // the goal is the budget
		{16 * mib, 12 * mib, 50}, // one and a half times the live heap at least
		{16 * mib, 80 * mib, 50}, // past the budget: never collecting all the time
	} {
		if got := Percent(tc.budget, tc.live); got != tc.want {
			t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", tc.budget/mib, tc.live/mib, got, tc.want)
		}
	}
}

func TestLimit(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		budget, live, want uint64
	}{
		{16 * mib, 0, 32 * mib},        // twice the budget
		{16 * mib, 8 * mib, 32 * mib},  // live at half the budget
		{16 * mib, 12 * mib, 32 * mib}, // twice the live heap and half the budget
		{16 * mib, 80 * mib, 168 * mib},
	} {
		if got := Limit(tc.budget, tc.live); got != tc.want {
			t.Errorf("Limit(%d MiB, %d MiB) = %d MiB, want %d MiB", tc.budget/mib, tc.live/mib, got/mib, tc.want/mib)
		}
	}
}
