package reports

import (
	"fmt"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice/checker"
)

const ms = int64(time.Millisecond)

// traffic is a valid history over 3 s: every 10 ms an acks=all send to
// partition 0 acknowledged 4 ms later (20 ms during [1 s, 1.5 s), the
// "fault"), an acks=1 send that is never acknowledged every 100 ms, and a
// poll reading each acknowledged value 21 ms after its send.
func traffic() checker.History {
	var h checker.History
	off := int64(0)
	for t := int64(0); t < 3000; t += 10 {
		lat := int64(4)
		if t >= 1000 && t < 1500 {
			lat = 20
		}
		v := fmt.Sprintf("v%d", t)
		h.Sends = append(h.Sends, checker.Send{Process: 1, Value: v, Invoke: t * ms, Complete: (t + lat) * ms,
			Outcome: checker.OK, Offset: off, Idempotent: true, ProducerID: 1, Seq: int32(off)})
		h.Polls = append(h.Polls, checker.Poll{Process: 2, Invoke: (t + 21) * ms, Complete: (t + 22) * ms,
			Outcome: checker.OK, From: off, HighWatermark: off + 1, LeaderEpoch: 1, Records: []checker.Record{{Offset: off, Value: v}}})
		off++
		if t%100 == 0 {
			h.Sends = append(h.Sends, checker.Send{Process: 3, Value: fmt.Sprintf("w%d", t), Invoke: t * ms, Complete: (t + 5) * ms,
				Outcome: checker.Unknown, Offset: -1, Acks: checker.AcksLeader})
		}
	}
	return h
}

func testRun(h checker.History) *Run {
	res := checker.Check(h, checker.Options{})
	var problems []string
	for _, v := range res.Violations {
		problems = append(problems, v.String())
	}
	return &Run{
		Seed:      7,
		Scenario:  Scenario{Name: "test-scenario", Doc: "a scenario written for the test", Faults: "test-scenario [crash×1]"},
		Problems:  problems,
		Flags:     []Setting{{"duration", "2s"}, {"swarm", "true"}},
		Config:    []Setting{{"Nodes", "3"}, {"Partitions", "1"}},
		SwarmMode: true, Swarm: []string{"swarm: faults crash×3 only", "swarm: MaxInflightMsgs 1"},
		Stats:   []Setting{{"Crashes", "2"}},
		Brokers: []uint64{1, 2, 3},
		Faults: []Span{
			{Kind: "process-crash", Nodes: []uint64{2}, StartNs: 1000 * ms, EndNs: 1500 * ms},
			{Kind: "pause", Nodes: []uint64{2}, StartNs: 1200 * ms, EndNs: 1800 * ms}, // overlaps the crash
			{Kind: "stale", StartNs: 2100 * ms, EndNs: 2100 * ms},                     // the network, instantaneous
			{Kind: "partition", Nodes: []uint64{1, 3}, StartNs: 500 * ms, EndNs: 700 * ms},
		},
		FaultsEndNs: 2500 * ms,
		VirtualNs:   3100 * ms,
		Wall:        1234 * time.Millisecond,
		TraceHash:   0xfeedface,
		Replay:      "go run ./cmd/sluice sim -scenario test-scenario -seed 7 -duration 2s -swarm",
		History:     h,
		Check:       res,
	}
}

// TestWriteRunPage: a passing run's page has every section, the facts a
// reader needs to replay it, and plots that are real PNG images of the
// expected size.
func TestWriteRunPage(t *testing.T) {
	dir := t.TempDir()
	r := testRun(traffic())
	if !r.Check.Valid {
		t.Fatalf("the test history should be valid: %v", r.Check)
	}
	e, err := WriteRun(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if e.Page != "test-scenario-seed-7/index.html" || !e.Passed() || e.Seed != 7 || e.TraceHash != 0xfeedface {
		t.Errorf("entry %+v", e)
	}
	page := read(t, filepath.Join(dir, e.Page))
	for _, want := range []string{
		`id="summary"`, `id="violations"`, `id="config"`, `id="timeline"`, `id="porcupine"`, `id="stats"`,
		"PASS", "seed 7", "a scenario written for the test", "test-scenario [crash×1]", r.Replay, "00000000feedface",
		"swarm: MaxInflightMsgs 1", "<code>-duration</code></td><td>2s", "Partitions", "Crashes",
		"3.100 s", "faults until 2.500 s", "LogicalSends", // the checker's stats
		`src="overview.png"`, `href="timeline.png"`, `href="throughput.png"`, `href="latency.png"`,
		"process-crash", "pause", "stale", "partition", "broker 1, 3", "100 ms buckets", "every window of every partition",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, f := range []struct {
		name string
		h    int // at least
	}{{FileOverview, 1000}, {FileTimeline, 250}, {FileThroughput, 300}, {FileLatency, 300}} {
		file, err := os.Open(filepath.Join(dir, filepath.Dir(e.Page), f.name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(file)
		file.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if cfg.Width != 960 || cfg.Height < f.h {
			t.Errorf("%s is %dx%d, want 960 wide and at least %d high", f.name, cfg.Width, cfg.Height, f.h)
		}
	}
}

// TestWriteRunViolation: a run porcupine rejects embeds porcupine's view
// of the failing window and lists every problem.
func TestWriteRunViolation(t *testing.T) {
	h := traffic()
	// A poll on partition 1 returns a value before its send was invoked.
	h.Sends = append(h.Sends, checker.Send{Process: 4, Partition: 1, Value: "u", Invoke: 2000 * ms, Complete: -1,
		Outcome: checker.Unknown, Offset: -1, Idempotent: true, ProducerID: 4})
	h.Polls = append(h.Polls, checker.Poll{Process: 5, Partition: 1, Invoke: 100 * ms, Complete: 110 * ms, Outcome: checker.OK,
		From: 0, HighWatermark: 1, LeaderEpoch: 1, Records: []checker.Record{{Offset: 0, Value: "u"}}})
	r := testRun(h)
	if r.Check.Counts[checker.Nonlinearizable] == 0 {
		t.Fatalf("porcupine should reject partition 1: %v", r.Check)
	}
	r.Problems = append([]string{"at 1.234s: the simulator's own finding"}, r.Problems...)
	dir := t.TempDir()
	e, err := WriteRun(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if e.Passed() || e.Violations != len(r.Problems) || e.First != "at 1.234s: the simulator's own finding" {
		t.Errorf("entry %+v", e)
	}
	view := read(t, filepath.Join(dir, filepath.Dir(e.Page), "porcupine-partition-1.html"))
	if !strings.Contains(view, "<html") {
		t.Errorf("porcupine's view is not HTML (%d bytes)", len(view))
	}
	page := read(t, filepath.Join(dir, e.Page))
	for _, want := range []string{"FAIL", `<iframe src="porcupine-partition-1.html"`, "nonlinearizable", "the simulator&#39;s own finding"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<pre>"); n < len(r.Problems)+1 { // each problem, and the replay command
		t.Errorf("page shows %d <pre> blocks for %d problems", n, len(r.Problems))
	}
}

// TestWriteIndex: failing runs come first, each linking to its page.
func TestWriteIndex(t *testing.T) {
	dir := t.TempDir()
	ix := Index{Command: "sluice sim -scenario all -seeds 2", Running: true, Runs: []Entry{
		{Scenario: "none", Seed: 1, Page: RunDir("none", 1) + "/index.html", VirtualNs: 2e9},
		{Scenario: "lossy", Seed: 2, Violations: 3, First: "lost-write in partition 4", Page: RunDir("lossy", 2) + "/index.html"},
	}}
	if err := WriteIndex(dir, ix); err != nil {
		t.Fatal(err)
	}
	page := read(t, filepath.Join(dir, FilePage))
	failed, passed := strings.Index(page, "<h2>Failed</h2>"), strings.Index(page, "<h2>Passed</h2>")
	lossy, none := strings.Index(page, `href="lossy-seed-2/index.html"`), strings.Index(page, `href="none-seed-1/index.html"`)
	if failed < 0 || passed < failed || lossy < failed || lossy > passed || none < passed {
		t.Errorf("want the failing run under Failed, before the passing one under Passed:\n%s", page)
	}
	for _, want := range []string{"1 failed", "Still running", ix.Command, "lost-write in partition 4", "2.000 s"} {
		if !strings.Contains(page, want) {
			t.Errorf("index lacks %q", want)
		}
	}
}

// TestSeries: rates per second and latency quantiles per bucket.
func TestSeries(t *testing.T) {
	s := computeSeries(traffic(), 3100*ms)
	if s.bucketNs != 100*ms || len(s.startS) != 31 {
		t.Fatalf("%d buckets of %d ns, want 31 of 100 ms", len(s.startS), s.bucketNs)
	}
	// Bucket 5 ([500, 600) ms): sends invoked at 490..590 complete in it.
	if s.ackedPerS[5] != 100 || s.pollsPerS[5] != 100 || s.gaveUpPerS[5] != 10 {
		t.Errorf("bucket 5: %v acked/s, %v polls/s, %v given up/s; want 100, 100, 10", s.ackedPerS[5], s.pollsPerS[5], s.gaveUpPerS[5])
	}
	if s.p50Ms[5] != 4 || s.p99Ms[5] != 4 || s.p50Ms[12] != 20 {
		t.Errorf("latency p50 %v p99 %v in bucket 5, p50 %v in bucket 12; want 4, 4, 20", s.p50Ms[5], s.p99Ms[5], s.p50Ms[12])
	}
	if !math.IsNaN(s.p50Ms[30]) || s.ackedPerS[30] != 0 {
		t.Errorf("bucket 30 has no sends: p50 %v, acked %v", s.p50Ms[30], s.ackedPerS[30])
	}
	if s.acksAll != 300 {
		t.Errorf("%d acks=all latencies, want 300", s.acksAll)
	}
	if q := quantile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5); q != 5 {
		t.Errorf("p50 of 1..10 = %v, want 5", q)
	}
	for _, c := range []struct{ virtualNs, want int64 }{{2e9, 100e6}, {10e9, 250e6}, {30e9, 500e6}, {90e9, 1e9}} {
		if got := bucketWidthNs(c.virtualNs); got != c.want {
			t.Errorf("bucket width for %d ns: %d, want %d", c.virtualNs, got, c.want)
		}
	}
}

// TestTimelineLanes: overlapping faults on one broker get lanes of their
// own; a fault without brokers goes on the network's row.
func TestTimelineLanes(t *testing.T) {
	r := testRun(checker.History{})
	bars := timelineBars{spans: r.Faults, rows: timelineRows(r)}
	if want := []string{"broker 1", "broker 2", "broker 3", "network"}; strings.Join(bars.rows, ",") != strings.Join(want, ",") {
		t.Fatalf("rows %v, want %v", bars.rows, want)
	}
	lane, count := bars.lanes()
	// crash and pause overlap on broker 2 (row 1); the partition is on
	// brokers 1 and 3; stale on the network.
	if fmt.Sprint(lane) != "[[0] [1] [0] [0 0]]" || fmt.Sprint(count) != "[1 2 1 1]" {
		t.Errorf("lanes %v, counts %v", lane, count)
	}
	if rows := bars.rowsOf(r.Faults[2]); fmt.Sprint(rows) != "[3]" {
		t.Errorf("stale on rows %v, want the network's [3]", rows)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTicks125: a latency axis is labelled at 1, 2 and 5 times each power
// of ten, printed as written.
func TestTicks125(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{{1.5, 60, "2 5 10 20 50"}, {0.003, 0.02, "0.005 0.01 0.02"}, {800, 12000, "1000 2000 5000 10000"}} {
		var labels []string
		for _, tk := range (ticks125{}).Ticks(c.lo, c.hi) {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if got := strings.Join(labels, " "); got != c.want {
			t.Errorf("[%v, %v]: labels %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
}

// TestKindColorsDistinct: every fault kind of a run gets its own colour,
// even past the palette's end.
func TestKindColorsDistinct(t *testing.T) {
	var spans []Span
	for i := range 40 {
		spans = append(spans, Span{Kind: fmt.Sprintf("kind-%02d", i)})
	}
	seen := map[color.RGBA]string{}
	for k, c := range kindColors(spans) {
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share colour %v", k, other, c)
		}
		seen[c] = k
	}
	if len(seen) != 40 {
		t.Errorf("%d colours for 40 kinds", len(seen))
	}
}
