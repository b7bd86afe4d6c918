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
	cs := [][]cycle{
		{{0, ms(2)}, {ms(2), ms(4)}},                      // arrivals at 1 and 2 ms: durable at 4 ms (3, 2 ms)
		{{0, ms(1)}, {ms(1), ms(5)}, {ms(5), ms(6)}},      // at 5 and 6 ms (4, 4 ms)
		{{0, ms(50)}, {ms(50), ms(60)}, {ms(60), ms(61)}}, // at 60 ms (59, 58 ms)
	}
	for _, c := range []struct {
		quorum   int
		min, max time.Duration
	}{{1, ms(2), ms(3)}, {2, ms(4), ms(4)}, {3, ms(58), ms(59)}} {
		// Arrivals at 1 and 2 ms: the first writer begins no cycle after 2 ms.
		h := quorumAcks(cs, c.quorum, ms(1), ms(1))
		if h.TotalCount() != 2 {
			t.Fatalf("quorum %d: %d arrivals, want 2", c.quorum, h.TotalCount())
		}
		near := func(got int64, want time.Duration) bool {
			w := want.Microseconds()
			return got >= w-w/500 && got <= w+w/500
		}
		if !near(h.Min(), c.min) || !near(h.Max(), c.max) {
			t.Errorf("quorum %d: acks %d–%d µs, want %v–%v", c.quorum, h.Min(), h.Max(), c.min, c.max)
		}
	}
	if h := quorumAcks([][]cycle{cs[0], nil}, 1, 0, ms(1)); h.TotalCount() != 0 {
		t.Errorf("a writer without cycles: %d arrivals counted, want none", h.TotalCount())
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
	// Each writer wrote what arrived up to its last cycle's start: nearly
	// rate × d, never more.
	total := sd.MeanCycleBytes * float64(sd.Cycles)
	if want := 3 * rate * d.Seconds(); total > want || total < want/2 {
		t.Errorf("wrote %.0f B in all, want about %.0f", total, want)
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
	if sd == nil || sd.BytesPerS != 1000*float64(o.Workload.RecordBytes) || sd.AckP99Us <= 0 {
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

func TestCPUBusy(t *testing.T) {
	a, ok := readCPUCounters()
	if !ok {
		t.Skip("no /proc/stat here")
	}
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	b, _ := readCPUCounters()
	if f := cpuBusy(a, b); f <= 0 || f > 1 {
		t.Errorf("busy %.3f with one goroutine spinning, want in (0, 1]", f)
	}
	if f := cpuBusy(b, b); f != 0 || percent(f) != "n/a" {
		t.Errorf("no time between readings: %v (%s)", f, percent(f))
	}
}
