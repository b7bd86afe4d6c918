package bench

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smallWorkload is a short, small run: enough to exercise every part.
func smallWorkload() Workload {
	return Workload{Name: "test", Partitions: 3, RecordBytes: 256, Producers: 2, Consumers: 2, Acks: "all", Mode: MaxRate, Inflight: 512}
}

func quickOptions(t *testing.T, targets ...string) Options {
	return Options{Targets: targets, Workload: smallWorkload(), Duration: 1500 * time.Millisecond, Warmup: 200 * time.Millisecond,
		DataDir: t.TempDir(), ProfileDir: t.TempDir(), ProgressEvery: 500 * time.Millisecond, Progress: testWriter{t},
		Floors: FloorOptions{SizesBytes: []int{4 << 10, 64 << 10}, PerSize: 150 * time.Millisecond, FileBytes: 4 << 20, RTT: 150 * time.Millisecond}}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// checkTarget asserts a target's results are sane: records went through,
// every acknowledged record was consumed, latencies were recorded.
func checkTarget(t *testing.T, tr TargetResult) {
	t.Helper()
	if tr.Acked == 0 || tr.RecordsPerS <= 0 {
		t.Errorf("%s: nothing acknowledged: %+v", tr.Target, tr)
	}
	if tr.AckErrors != 0 || tr.Sent != tr.Acked {
		t.Errorf("%s: sent %d, acked %d, %d errors: %v", tr.Target, tr.Sent, tr.Acked, tr.AckErrors, tr.Errors)
	}
	if tr.Consumed != tr.Acked {
		t.Errorf("%s: produced %d, consumed %d", tr.Target, tr.Acked, tr.Consumed)
	}
	if _, ok := readCPUCounters(); ok && (tr.CPUBusy <= 0 || tr.CPUBusy > 1) {
		t.Errorf("%s: CPUs %.3f busy during the window", tr.Target, tr.CPUBusy)
	}
	if tr.Ack.Count == 0 || tr.Ack.P99Ms <= 0 || tr.Ack.P50Ms > tr.Ack.P99Ms || len(tr.Ack.Curve) == 0 {
		t.Errorf("%s: ack latency not recorded: %+v", tr.Target, tr.Ack)
	}
	if tr.E2E.Count == 0 || tr.E2E.P99Ms <= 0 {
		t.Errorf("%s: end-to-end latency not recorded: %+v", tr.Target, tr.E2E)
	}
	if len(tr.Series) == 0 {
		t.Errorf("%s: no throughput series", tr.Target)
	}
}

// TestRunSluiceAndKfake runs the workload for real against the in-process
// sluice cluster and kfake, writes the report and reads it back.
func TestRunSluiceAndKfake(t *testing.T) {
	o := quickOptions(t, TargetSluice, TargetKfake)
	o.Profile = "cpu"
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Targets) != 2 {
		t.Fatalf("ran %d targets, want 2 (skipped: %v)", len(res.Targets), res.Skipped)
	}
	for _, tr := range res.Targets {
		checkTarget(t, tr)
	}
	s := res.Targets[0]
	if s.MeanBatchBytes <= 0 {
		t.Errorf("sluice: no mean batch size")
	}
	if _, err := os.Stat(s.Profile); err != nil {
		t.Errorf("sluice: cpu profile: %v", err)
	}
	if res.Floors == nil || len(res.Floors.Disk) != 3 || res.Floors.RTT.RoundTrips == 0 {
		t.Fatalf("floors: %+v", res.Floors)
	}
	for _, d := range res.Floors.Disk {
		if d.Syncs == 0 || d.MBPerS <= 0 || d.P99Us <= 0 {
			t.Errorf("disk floor: %+v", d)
		}
	}
	names := map[string]bool{}
	for _, c := range res.Checks {
		names[c.Name] = true
	}
	for _, want := range []string{"throughput: sluice ÷ kfake", "throughput: sluice ÷ single-disk ceiling"} {
		if !names[want] {
			t.Errorf("check %q missing from %v", want, res.Checks)
		}
	}

	dir := t.TempDir()
	if err := WriteReport(dir, res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if len(back.Targets) != 2 || back.Targets[0].Acked != s.Acked {
		t.Errorf("results.json does not round-trip: %+v", back.Targets)
	}
	html, err := os.ReadFile(filepath.Join(dir, FileHTML))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileThroughput, FileLatency, FileRatios, FileCSV, FileSeriesCSV} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
		if !strings.Contains(string(html), f) {
			t.Errorf("index.html does not reference %s", f)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(dir, FileCSV))
	if lines := strings.Count(string(csv), "\n"); lines != 3 {
		t.Errorf("results.csv: %d lines, want header + 2", lines)
	}
}

// TestFixedRateAndCatchUp runs the other two modes, briefly, on kfake.
func TestFixedRateAndCatchUp(t *testing.T) {
	o := quickOptions(t, TargetKfake)
	o.NoFloors = true
	o.Duration = time.Second
	o.Workload.Mode, o.Workload.Rate = FixedRate, 2000
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Targets[0]
	checkTarget(t, tr)
	if tr.RateTarget != 2000 || tr.RecordsPerS < 500 || tr.RecordsPerS > 4000 {
		t.Errorf("fixed rate 2000/s: acknowledged %.0f records/s", tr.RecordsPerS)
	}

	// Five produce requests in flight per broker (not idempotent): every
	// record still acknowledged and consumed.
	o.Workload.Requests = 5
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkTarget(t, res.Targets[0])
	if tr := res.Targets[0]; tr.Acked == 0 || tr.Consumed != tr.Acked {
		t.Errorf("5 requests in flight: acked %d, consumed %d", tr.Acked, tr.Consumed)
	}
	o.Workload.Requests = 0

	o.Workload.Mode, o.Workload.Rate, o.Workload.BacklogBytes = CatchUp, 0, 2<<20
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	tr = res.Targets[0]
	want := int64(o.Workload.Partitions) + (2<<20)/int64(o.Workload.RecordBytes) // warm-up + backlog
	if tr.Acked != want || tr.Consumed != want || tr.CatchUpMBPerS <= 0 {
		t.Errorf("catch-up: acked %d, consumed %d (want %d), %.1f MB/s", tr.Acked, tr.Consumed, want, tr.CatchUpMBPerS)
	}
}

// TestJetStream runs JetStream (sync always; the default setting differs
// only in its config line) when nats-server is installed.
func TestJetStream(t *testing.T) {
	if _, err := FindNatsServer(""); err != nil {
		t.Skipf("JetStream comparison not tested: %v", err)
	}
	o := quickOptions(t, TargetJSAlways)
	o.NoFloors = true
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Targets) != 1 {
		t.Fatalf("ran %d targets, skipped %v", len(res.Targets), res.Skipped)
	}
	for _, tr := range res.Targets {
		checkTarget(t, tr)
	}
}

// TestMissingNatsServerSkips: a JetStream target without the binary is
// skipped with the install command, not failed.
func TestMissingNatsServerSkips(t *testing.T) {
	o := quickOptions(t, TargetJSDefault)
	o.NoFloors = true
	o.NatsServer = filepath.Join(t.TempDir(), "no-nats-server")
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Targets) != 0 || len(res.Skipped) != 1 {
		t.Fatalf("targets %v, skipped %v", res.Targets, res.Skipped)
	}
	o.NatsServer = ""
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOPATH", t.TempDir())
	if _, err := FindNatsServer(""); !errors.Is(err, ErrNoNatsServer) || !strings.Contains(err.Error(), "go install github.com/nats-io/nats-server/v2@latest") {
		t.Errorf("FindNatsServer without one: %v", err)
	}
}

func TestParseTargetsAndWorkloads(t *testing.T) {
	ts, err := ParseTargets("all")
	if err != nil || strings.Join(ts, ",") != "sluice,kfake,jetstream-default,jetstream-always" {
		t.Errorf("all: %v %v", ts, err)
	}
	if _, err := ParseTargets("kafka"); err == nil {
		t.Error("unknown target accepted")
	}
	for _, w := range Workloads {
		if err := w.Validate(); err != nil {
			t.Error(err)
		}
	}
	if _, err := LookupWorkload("nope"); err == nil || !strings.Contains(err.Error(), "max-1k-12p") {
		t.Errorf("unknown workload: %v", err)
	}
	bad := smallWorkload()
	bad.Consumers = 4
	if bad.Validate() == nil {
		t.Error("more consumers than partitions accepted")
	}
	bad = smallWorkload()
	bad.Requests = MaxRequestsInFlight + 1
	if bad.Validate() == nil {
		t.Error("too many produce requests in flight accepted")
	}
}

func TestDiskAtInterpolates(t *testing.T) {
	f := Floors{Disk: []DiskFloor{{Bytes: 1000, MBPerS: 10, P99Us: 100}, {Bytes: 100000, MBPerS: 1000, P99Us: 10000}}}
	d, ok := f.diskAt(10000)
	if !ok || d.MBPerS < 99 || d.MBPerS > 101 || d.P99Us < 999 || d.P99Us > 1001 || d.Why == "" {
		t.Errorf("diskAt(10000) = %+v", d)
	}
	if d, _ := f.diskAt(1000); d.MBPerS != 10 || d.Why != "" {
		t.Errorf("diskAt(1000) = %+v, want the measured point", d)
	}
	if d, _ := f.diskAt(1e9); d.Bytes != 100000 {
		t.Errorf("diskAt(1e9) = %+v, want the largest measured", d)
	}
}

// TestFixedRateChecksOtherTargetsAgainstFloor: in a fixed-rate acks=all
// run, every other target's p99 is set against sluice's latency floor as
// context (no goal), sluice's own row keeps the goal.
func TestFixedRateChecksOtherTargetsAgainstFloor(t *testing.T) {
	res := &Results{
		Workload: Workload{Name: "lat", Acks: "all", Mode: FixedRate, Rate: 1000},
		Floors: &Floors{Disk: []DiskFloor{{Bytes: 4096, MBPerS: 50, P99Us: 190}},
			RTT: RTTFloor{RoundTrips: 10, P99Us: 10}},
		Targets: []TargetResult{
			{Target: TargetSluice, RecordsPerS: 1000, MeanBatchBytes: 4096, Ack: Latency{P50Ms: 0.4, P99Ms: 0.5}},
			{Target: TargetKfake, Description: "kfake: in memory", RecordsPerS: 1000, Ack: Latency{P50Ms: 1, P99Ms: 3}},
		},
	}
	got := map[string]Check{}
	for _, c := range checks(res) {
		got[c.Name] = c
	}
	own := got["p99 ack latency: sluice ÷ (fdatasync p99 + loopback RTT p99)"]
	if own.Goal == "" || !own.Met || own.Value != 2.5 {
		t.Errorf("sluice's row: %+v, want 2.5× against the goal, met", own)
	}
	k, ok := got["p99 ack latency: kfake ÷ (fdatasync p99 + loopback RTT p99)"]
	if !ok || k.Goal != "" || k.Value != 15 || !strings.Contains(k.Detail, "kfake: in memory") || !strings.Contains(k.Detail, "0.60 ms for 3×") {
		t.Errorf("kfake's row: %+v (ok %v), want 15× as context, with its description and the goal's limit", k, ok)
	}
	if _, ok := got["p99 ack latency: sluice ÷ kfake"]; !ok {
		t.Errorf("the sluice ÷ kfake row went missing: %v", got)
	}
}
