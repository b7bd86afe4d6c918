package runtime

import (
	"math"
	"testing"
	"time"
)

// TestHWTableLagSeconds checks the interpolation of lag in seconds from
// high-watermark samples (metrics.go).
func TestHWTableLagSeconds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tb := &hwTable{max: 8}
	// 100 records/s for 10 s, then idle for 10 s, then 50 more records.
	for s := 0; s <= 10; s++ {
		tb.add(int64(s*100), at(float64(s)))
	}
	for s := 11; s <= 20; s++ {
		tb.add(1000, at(float64(s)))
	}
	tb.add(1050, at(21))
	if len(tb.s) > tb.max {
		t.Fatalf("table holds %d samples, bound %d", len(tb.s), tb.max)
	}
	now := at(30)
	for _, c := range []struct {
		committed int64
		want      float64 // seconds before now
		tol       float64
	}{
		{1050, 0, 0},       // caught up
		{2000, 0, 0},       // ahead (an explicit reset)
		{1000, 10, 0},      // appended between 20 s (the idle run's end) and 21 s
		{1025, 9.5, 0},     // halfway there
		{500, 25, 0.01},    // inside the thinned busy period
		{0, 30, 0},         // the first sample
		{-100, 32, 0},      // below the table: extrapolated at the table's rate
		{999, 20.01, 0.01}, // just before the idle run
	} {
		got := tb.lagSeconds(c.committed, now)
		if math.Abs(got-c.want) > c.tol+1e-9 {
			t.Errorf("lag of committed %d = %.3f s, want %.3f ± %.1f", c.committed, got, c.want, c.tol)
		}
	}

	// A run at one offset keeps its first and last samples only.
	flat := &hwTable{max: 100}
	for s := 0; s < 10; s++ {
		flat.add(7, at(float64(s)))
	}
	if len(flat.s) != 2 || flat.s[0].atNs != t0.UnixNano() || flat.s[1].atNs != at(9).UnixNano() {
		t.Errorf("flat run: %+v", flat.s)
	}
	// Nothing produced over the table: at least since the first sample.
	if got := flat.lagSeconds(3, at(10)); got != 10 {
		t.Errorf("below a flat table: %v s, want 10", got)
	}
	// The log end going back starts afresh.
	flat.add(2, at(11))
	if len(flat.s) != 1 || flat.lagSeconds(2, at(12)) != 0 {
		t.Errorf("after the log end went back: %+v", flat.s)
	}
}
