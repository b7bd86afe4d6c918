package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestQuorumAcks(t *testing.T) {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	near := func(got int64, want time.Duration) bool {
		w := want.Microseconds()
		return got >= w-w/500 && got <= w+w/500
	}
	// Records arrive at 1 MB/s: the arrival at t ms needs the first 1000·t
	// bytes. Each cycle takes what arrived by its start.
	const rate = 1e6
	cs := [][]cycle{
		{{0, ms(2), 0}, {ms(2), ms(4), 2000}},                              // arrivals at 1 and 2 ms: durable at 4 ms (3, 2 ms)
		{{0, ms(1), 0}, {ms(1), ms(5), 1000}, {ms(5), ms(6), 5000}},        // at 5 and 6 ms (4, 4 ms)
		{{0, ms(50), 0}, {ms(50), ms(60), 50000}, {ms(60), ms(61), 60000}}, // at 60 ms (59, 58 ms)
	}
	for _, c := range []struct {
		quorum   int
		min, max time.Duration
	}{{1, ms(2), ms(3)}, {2, ms(4), ms(4)}, {3, ms(58), ms(59)}} {
		// Arrivals at 1 and 2 ms: the first writer's last cycle covers
		// nothing later.
		h := quorumAcks(cs, c.quorum, rate, ms(1), ms(1))
		if h.TotalCount() != 2 {
			t.Fatalf("quorum %d: %d arrivals, want 2", c.quorum, h.TotalCount())
		}
		if !near(h.Min(), c.min) || !near(h.Max(), c.max) {
			t.Errorf("quorum %d: acks %d–%d µs, want %v–%v", c.quorum, h.Min(), h.Max(), c.min, c.max)
		}
	}
	// A capped cycle leaves a backlog: the cycle from 1 ms wrote only the
	// first 500 bytes, so the arrival at 1 ms waits for the next cycle
	// (durable at 3 ms), not the one that began with it.
	capped := [][]cycle{{{0, ms(1), 0}, {ms(1), ms(2), 500}, {ms(2), ms(3), 1500}, {ms(3), ms(4), 3000}}}
	h := quorumAcks(capped, 1, rate, ms(1), ms(1))
	if h.TotalCount() != 3 || !near(h.Min(), ms(1)) || !near(h.Max(), ms(2)) {
		t.Errorf("backlog: %d arrivals, acks %d–%d µs, want 3 of 1–2 ms", h.TotalCount(), h.Min(), h.Max())
	}
	if h := quorumAcks([][]cycle{cs[0], nil}, 1, rate, 0, ms(1)); h.TotalCount() != 0 {
		t.Errorf("a writer without cycles: %d arrivals counted, want none", h.TotalCount())
	}
	if h := quorumAcks(cs, 1, rate, ms(3), ms(1)); h.TotalCount() != 0 {
		t.Errorf("arrivals after the last covered one: %d counted, want none", h.TotalCount())
	}
}

func TestMeasureSharedDisk(t *testing.T) {
	const rate, d = 2e6, 400 * time.Millisecond
	sd, err := measureSharedDisk(context.Background(), t.TempDir(), 3, 2, rate, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", sd)
	if sd.Writers != 3 || sd.Quorum != 2 || sd.Cycles < 3 {
		t.Fatalf("%+v", sd)
	}
	// The window's cycles (after the first tenth) wrote what arrived in
	// it: nearly rate × 0.9 d per writer, never more than rate × d.
	total := sd.MeanCycleBytes * float64(sd.Cycles)
	if want := 3 * rate * d.Seconds(); total > want || total < want/2 {
		t.Errorf("wrote %.0f B in all, want about %.0f", total, 0.9*want)
	}
	// An arrival waits at least for the cycle it lands in.
	if sd.AckP50Us <= 0 || sd.AckP99Us < sd.AckP50Us || sd.AckP999Us < sd.AckP99Us || sd.CycleP99Us < sd.CycleP50Us {
		t.Errorf("percentiles out of order: %+v", sd)
	}
	if _, err := measureSharedDisk(context.Background(), t.TempDir(), 2, 3, rate, d); err == nil {
		t.Error("a quorum larger than the writers was accepted")
	}
}

// TestFixedRateSluiceBound runs sluice at a fixed rate: the shared-disk
// bound is measured after it and reported beside the latency goal.
func TestFixedRateSluiceBound(t *testing.T) {
	o := quickOptions(t, TargetSluice)
	o.Duration = time.Second
	o.Workload.Mode, o.Workload.Rate = FixedRate, 1000
	o.Floors.SharedDisk = 300 * time.Millisecond
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkTarget(t, res.Targets[0])
	sd := res.Floors.SharedDisk
	if sd == nil || sd.MBPerS != 1000*float64(o.Workload.RecordBytes)/1e6 || sd.AckP99Us <= 0 || len(sd.AckCurve) == 0 {
		t.Fatalf("shared-disk bound: %+v", sd)
	}
	names := map[string]bool{}
	for _, c := range res.Checks {
		names[c.Name] = true
	}
	for _, want := range []string{"p99 ack latency: sluice ÷ (fdatasync p99 + loopback RTT p99)",
		"p99 ack latency: shared-disk bound ÷ (fdatasync p99 + loopback RTT p99)", "p99 ack latency: sluice ÷ shared-disk bound"} {
		if !names[want] {
			t.Errorf("check %q missing from %v", want, res.Checks)
		}
	}
	dir := t.TempDir()
	if err := WriteReport(dir, res); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{FileFloorsCSV: "shared-disk-ack", FileHTML: "Shared-disk bound"} { //lint:maporder-ok independent files
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q (%v)", file, want, err)
		}
	}
}
