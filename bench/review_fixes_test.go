package bench

import (
	"context"
	"io"
	"testing"
	"time"
)

// A catch-up run's write rates are over the write phase and its read rate
// over the read phase (found by review: the read phase's start was reused
// for the write rate, which came out negative).
func TestCatchUpRatesPositive(t *testing.T) {
	o := quickOptions(t, TargetKfake)
	o.NoFloors = true
	o.Workload.Mode, o.Workload.BacklogBytes = CatchUp, 2<<20
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Targets[0]
	t.Logf("measured_s %.4f records_per_s %.0f mb_per_s %.1f consumed_per_s %.0f catch_up %.1f MB/s",
		tr.MeasuredS, tr.RecordsPerS, tr.MBPerS, tr.ConsumedPerS, tr.CatchUpMBPerS)
	if tr.MeasuredS <= 0 || tr.RecordsPerS <= 0 || tr.MBPerS <= 0 {
		t.Errorf("catch-up: measured_s %.4f, records/s %.0f, MB/s %.1f: want positive", tr.MeasuredS, tr.RecordsPerS, tr.MBPerS)
	}
}

// A catch-up run's ratio is of the read rates, what the mode measures
// (found by review: it compared the backlog's write rates).
func TestCatchUpCheckUsesReadRate(t *testing.T) {
	res := &Results{Workload: Workload{Mode: CatchUp, Acks: "all", RecordBytes: 1000},
		Targets: []TargetResult{
			{Target: TargetSluice, RecordsPerS: 10_000, CatchUpMBPerS: 400},
			{Target: TargetKfake, RecordsPerS: 20_000, CatchUpMBPerS: 100},
		}}
	cs := checks(res)
	if len(cs) == 0 {
		t.Fatal("no checks")
	}
	t.Logf("%s = %.2f (%s)", cs[0].Name, cs[0].Value, cs[0].Detail)
	if want := 4.0; cs[0].Value != want {
		t.Errorf("catch-up ratio %.2f, want read-rate ratio %.2f", cs[0].Value, want)
	}
}

// A fake target whose producer can send only `capacity` records/s.
type slowSys struct {
	per time.Duration
	ch  chan []byte
}

func (s *slowSys) setup(context.Context, Workload) error { return nil }
func (s *slowSys) newProducer(Workload, int) (producer, error) {
	return &slowProd{s}, nil
}
func (s *slowSys) newConsumer(Workload, int, []int32) (consumer, error) { return &slowCons{s}, nil }
func (s *slowSys) batchBytes() float64                                  { return 0 }
func (s *slowSys) close()                                               {}

type slowProd struct{ s *slowSys }

func (p *slowProd) send(ctx context.Context, _ int32, v []byte, done func(error)) error {
	time.Sleep(p.s.per) // back-pressure: the client accepts one record per `per`
	c := append([]byte(nil), v...)
	done(nil)
	p.s.ch <- c
	return nil
}
func (p *slowProd) flush(context.Context) error { return nil }
func (p *slowProd) close()                      {}

type slowCons struct{ s *slowSys }

func (c *slowCons) run(ctx context.Context, fn func([]byte), _ func(error)) error {
	for {
		select {
		case v := <-c.s.ch:
			fn(v)
		case <-ctx.Done():
			return nil
		}
	}
}
func (c *slowCons) close() {}

// At a fixed rate, a target that cannot keep up has its backlog (records
// due in the window, never sent) counted in the latencies at their age when
// the window ended, and the shortfall is reported (found by review: they
// were left out, dropping the longest waits, and nothing said so).
func TestFixedRateBacklogCounted(t *testing.T) {
	w := Workload{Name: "t", Partitions: 1, RecordBytes: 64, Producers: 1, Consumers: 1, Acks: "all", Mode: FixedRate, Rate: 1000}
	o := Options{Duration: 2 * time.Second, Warmup: 0, Progress: io.Discard, ProgressEvery: time.Hour, DrainWait: 5 * time.Second, DataDir: t.TempDir()}
	l := &load{o: o, w: w, name: "slow", sys: &slowSys{per: 2 * time.Millisecond, ch: make(chan []byte, 1<<16)}}
	tr, err := l.run(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	scheduled := int64(w.Rate * o.Duration.Seconds())
	t.Logf("rate target %.0f/s, acked %.0f/s in window; ack latencies recorded %d of %d scheduled in the window; p50 %.0f ms p99 %.0f ms max %.0f ms",
		tr.RateTarget, tr.RecordsPerS, tr.Ack.Count, scheduled, tr.Ack.P50Ms, tr.Ack.P99Ms, tr.Ack.MaxMs)
	if tr.Ack.Count < scheduled*9/10 {
		t.Errorf("only %d of %d records scheduled in the window have a latency: the backlog's latencies (the longest) are omitted; p99 %.0f ms while a record due at the window's end would wait ~%.0f ms",
			tr.Ack.Count, scheduled, tr.Ack.P99Ms, o.Duration.Seconds()*1e3)
	}
	if len(tr.Errors) == 0 {
		t.Errorf("achieved %.0f records/s of a %.0f target: not flagged", tr.RecordsPerS, tr.RateTarget)
	}
}
