package checker

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Helpers to write histories by hand. Times are in milliseconds of virtual
// time; every send is idempotent (producer id = process) unless noted.

func ms(t int64) int64 {
	if t < 0 {
		return -1
	}
	return t * int64(time.Millisecond)
}

// ok is an acks=all send acknowledged at offset.
func ok(proc int, v string, inv, comp, offset int64) Send {
	return Send{Process: proc, Value: v, Invoke: ms(inv), Complete: ms(comp), Outcome: OK, Offset: offset,
		Idempotent: true, ProducerID: int64(proc), Seq: seq(v)}
}

// unknown is an acks=all send whose outcome never arrived.
func unknown(proc int, v string, inv int64) Send {
	return Send{Process: proc, Value: v, Invoke: ms(inv), Complete: -1, Outcome: Unknown, Offset: -1,
		Idempotent: true, ProducerID: int64(proc), Seq: seq(v)}
}

// failed is an acks=all send the broker refused.
func failed(proc int, v string, inv, comp int64) Send {
	return Send{Process: proc, Value: v, Invoke: ms(inv), Complete: ms(comp), Outcome: Fail, Offset: -1,
		Idempotent: true, ProducerID: int64(proc), Seq: seq(v)}
}

// seq derives a distinct sequence number from a value name, so that two
// hand-written sends are two identities.
func seq(v string) int32 {
	var h int32
	for _, c := range v {
		h = h*31 + c
	}
	return h
}

// poll returns the records "value@offset" with high watermark hw at epoch 1.
func poll(proc int, inv, comp, from, hw int64, recs ...string) Poll {
	p := Poll{Process: proc, Invoke: ms(inv), Complete: ms(comp), Outcome: OK, From: from, HighWatermark: hw, LeaderEpoch: 1}
	for _, r := range recs {
		v, o, _ := strings.Cut(r, "@")
		off, err := strconv.ParseInt(o, 10, 64)
		if err != nil {
			panic(r)
		}
		p.Records = append(p.Records, Record{Offset: off, Value: v})
	}
	return p
}

func final(p Poll) Poll { p.Final = true; return p }
func logStart(p Poll, s int64) Poll {
	p.LogStart = s
	return p
}
func seek(p Poll) Poll { p.Seek = true; return p }
func epoch(p Poll, e int32) Poll {
	p.LeaderEpoch = e
	return p
}
func batch(b int, ss ...Send) []Send {
	for i := range ss {
		ss[i].Batch = b
	}
	return ss
}

func hist(sends []Send, polls ...Poll) History { return History{Sends: sends, Polls: polls} }

// latestHist: a@0 acknowledged, b@1 in flight (outcome unknown), one
// ListOffsets LATEST, and polls.
func latestHist(l Latest, polls ...Poll) History {
	h := hist(sends(ok(1, "a", 0, 10, 0), unknown(1, "b", 15)), polls...)
	h.Latests = []Latest{l}
	return h
}

func latest(proc int, inv, comp, offset int64, e int32) Latest {
	return Latest{Process: proc, Invoke: ms(inv), Complete: ms(comp), Offset: offset, LeaderEpoch: e}
}
func sends(ss ...Send) []Send { return ss }

// del is a DeleteRecords of partition 0 to offset, answered with low
// watermark lw (-1: never answered).
func del(proc int, inv, comp, offset, lw int64) DeleteRecords {
	return DeleteRecords{Process: proc, Invoke: ms(inv), Complete: ms(comp), Offset: offset, LowWatermark: lw}
}

// deleteHist: a@0, b@1, c@2 acknowledged, DeleteRecords, and polls.
func deleteHist(ds []DeleteRecords, polls ...Poll) History {
	h := hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 11, 12, 1), ok(1, "c", 13, 14, 2)), polls...)
	h.Deletes = ds
	return h
}

func found(r Result, a Anomaly) bool { return r.Counts[a] > 0 }

// TestAnomalies: one hand-made history per anomaly, each flagged by name.
func TestAnomalies(t *testing.T) {
	cases := []struct {
		want Anomaly
		h    History
	}{
		{InconsistentOffsets, hist(sends(ok(1, "a", 0, 10, 0), unknown(2, "b", 0)),
			poll(3, 20, 30, 0, 1, "b@0"))},
		{Duplicate, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1)),
			poll(3, 40, 50, 0, 3, "a@0", "b@1"), poll(4, 40, 50, 2, 3, "a@2"))},
		{LostWrite, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1)),
			final(poll(3, 40, 50, 1, 2, "b@1")))},
		{LostWrite, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1)), // the tail: the final read ends before b
			final(poll(3, 40, 50, 0, 1, "a@0")))},
		{G1a, hist(sends(failed(1, "a", 0, 10)),
			poll(3, 20, 30, 0, 1, "a@0"))},
		{PollSkip, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1), ok(1, "c", 40, 50, 2)),
			poll(3, 60, 70, 0, 3, "a@0"), poll(3, 80, 90, 2, 3, "c@2"))},
		{NonmonotonicPoll, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1)),
			poll(3, 40, 50, 0, 2, "a@0", "b@1"), poll(3, 60, 70, 1, 2, "b@1"))},
		{IntPollSkip, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1), ok(1, "c", 40, 50, 2)),
			poll(3, 60, 70, 0, 3, "a@0", "c@2"))},
		{IntNonmonotonicPoll, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1)),
			poll(3, 40, 50, 0, 2, "b@1", "a@0"))},
		{NonmonotonicSend, hist(sends(ok(1, "a", 0, 30, 1), ok(1, "b", 10, 40, 0)), // pipelined: no realtime order
			poll(3, 50, 60, 0, 2, "b@0", "a@1"))},
		{IntNonmonotonicSend, hist(batch(7, ok(1, "a", 0, 10, 1), ok(1, "b", 0, 10, 0)),
			poll(3, 50, 60, 0, 2, "b@0", "a@1"))},
		{IncompatibleOrder, hist(sends(unknown(1, "a", 0), unknown(2, "b", 0)),
			poll(3, 40, 50, 0, 2, "a@0", "b@1"), poll(4, 40, 50, 0, 2, "b@0", "a@1"))},
		{DuplicateOffset, hist(sends(ok(1, "a", 0, 10, 0), ok(2, "b", 0, 10, 0)))},
		{RealtimeOrder, hist(sends(ok(1, "a", 0, 10, 1), ok(2, "b", 20, 30, 0)),
			poll(3, 40, 50, 0, 2, "b@0", "a@1"))},
		{UnexplainedGap, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "c", 20, 30, 2)),
			poll(3, 40, 50, 0, 3, "a@0"), seek(poll(3, 60, 70, 2, 3, "c@2")))},
		{UnexplainedGap, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "c", 20, 30, 2), unknown(2, "u", 100)), // u came too late to fill 1
			poll(3, 40, 50, 0, 3, "a@0"), seek(poll(3, 60, 70, 2, 3, "c@2")))},
		{Phantom, hist(sends(ok(1, "a", 0, 10, 0)),
			poll(3, 20, 30, 0, 2, "a@0", "z@1"))},
		{HWRegression, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1)),
			poll(3, 40, 50, 0, 2, "a@0"), poll(3, 60, 70, 1, 1))},
		{LogStartRegression, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1)),
			logStart(poll(3, 40, 50, 1, 2, "b@1"), 1), logStart(epoch(poll(4, 60, 70, 0, 2, "a@0"), 2), 0))},
		{LogStartRegression, hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1)), // the same epoch
			logStart(poll(3, 40, 50, 1, 2, "b@1"), 1), logStart(poll(4, 51, 70, 0, 2, "a@0"), 0))},
		{ReadAboveHW, hist(sends(ok(1, "a", 0, 10, 0)),
			poll(3, 20, 30, 0, 0, "a@0"))},
		{LatestAboveHW, latestHist(latest(4, 20, 25, 2, 1), // LATEST 2 (the log end), then another process sees hw 1
			poll(3, 30, 40, 0, 1, "a@0"))},
		{UnrequestedLogStart, deleteHist([]DeleteRecords{del(5, 20, 30, 2, 1)}, // acknowledged to 2, done to 1
			poll(3, 40, 50, 1, 3, "b@1", "c@2"))},
		{Nonlinearizable, realtimeRead()},
		{CommitRegression, groupHist(nil, []Commit{commit(4, 2, 0, 10, OK)}, read(5, 1, 20, 30))},
		{CommitRegression, groupHist(nil, []Commit{termed(commit(4, 2, 0, 10, OK), 3)}, termed(read(5, 1, 20, 30), 4))}, // a later term must know it
		{PhantomCommit, groupHist(nil, []Commit{commit(4, 2, 0, 10, OK)}, read(5, 3, 20, 30))},
		{PhantomCommit, groupHist(nil, []Commit{commit(4, 3, 0, 10, Fail)}, read(5, 3, 20, 30))}, // a refused commit stored nothing
		{GroupMissed, groupHist([]Poll{poll(4, 0, 5, 0, 3, "a@0")}, []Commit{commit(4, 2, 10, 20, OK)})},
		{GroupRedelivered, groupHist([]Poll{poll(4, 0, 5, 0, 3, "a@0", "b@1"), genPoll(poll(5, 30, 40, 1, 3, "b@1", "c@2"), 2)},
			[]Commit{genCommit(commit(4, 2, 10, 20, OK), 1)})},
		{StaleCommit, groupHist(nil, []Commit{genCommit(commit(5, 2, 0, 10, OK), 2), genCommit(commit(4, 1, 20, 30, OK), 1)})}, // sent after generation 2 committed
	}
	for _, c := range cases {
		t.Run(string(c.want), func(t *testing.T) {
			r := Check(c.h, Options{})
			if r.Valid || !found(r, c.want) {
				t.Fatalf("want %s flagged, got:\n%v", c.want, r)
			}
			for _, v := range r.Violations {
				if len(v.Ops) == 0 || v.Detail == "" {
					t.Errorf("violation without operations or detail: %v", v)
				}
			}
		})
	}
	covered := map[Anomaly]bool{}
	for _, c := range cases {
		covered[c.want] = true
	}
	for _, a := range Anomalies {
		if !covered[a] {
			t.Errorf("no hand-made history for %s", a)
		}
	}
}

// realtimeRead: send a is acknowledged at offset 1 before send u (outcome
// unknown) is even invoked, yet a poll returns u at offset 0, below a. No
// direct check sees it (the offsets agree, there is no gap, realtime-order
// compares acknowledged sends only); the log model cannot place u's append
// before a's.
func realtimeRead() History {
	return hist(sends(ok(1, "a", 0, 10, 1), unknown(2, "u", 20)),
		poll(3, 30, 40, 0, 2, "u@0", "a@1"))
}

func TestPorcupineCatchesRealtimeContradiction(t *testing.T) {
	h := realtimeRead()
	if r := Check(h, Options{SkipLinearizability: true}); !r.Valid {
		t.Fatalf("direct checks alone should find nothing here, got:\n%v", r)
	}
	r := Check(h, Options{})
	if r.Valid || len(r.Counts) != 1 || r.Counts[Nonlinearizable] != 1 {
		t.Fatalf("want exactly one nonlinearizable window, got:\n%v", r)
	}
	if v := r.Violations[0]; !strings.Contains(v.String(), `"u"`) {
		t.Errorf("the violation should name u, which cannot be placed: %v", v)
	}
	var html bytes.Buffer
	if err := Visualize(h, 0, Options{}, &html); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "<html") {
		t.Errorf("Visualize wrote no HTML (%d bytes)", html.Len())
	}
	if err := Visualize(validUnknowns(), 0, Options{}, &html); !errors.Is(err, ErrNoFailingWindow) {
		t.Errorf("Visualize of a valid history: %v, want ErrNoFailingWindow", err)
	}
}

// A poll that returns a value before its send was invoked.
func TestPorcupineCatchesReadFromTheFuture(t *testing.T) {
	h := hist(sends(unknown(2, "u", 20)), poll(3, 0, 10, 0, 1, "u@0"))
	r := Check(h, Options{})
	if r.Counts[Nonlinearizable] != 1 || len(r.Counts) != 1 {
		t.Fatalf("want exactly one nonlinearizable window, got:\n%v", r)
	}
}

func validUnknowns() History {
	return hist(sends(unknown(1, "u", 0), ok(1, "a", 10, 20, 1), unknown(2, "never", 5)),
		poll(3, 30, 40, 0, 2, "u@0", "a@1"), final(poll(4, 50, 60, 0, 2, "u@0", "a@1")))
}

// TestValid: histories that must pass.
func TestValid(t *testing.T) {
	weakLost := Send{Process: 5, Value: "w", Invoke: ms(0), Complete: ms(10), Outcome: OK, Offset: 0, Acks: AcksLeader}
	weakKept := Send{Process: 5, Value: "k", Invoke: ms(50), Complete: ms(60), Outcome: OK, Offset: 1, Acks: AcksLeader}
	acks0 := Send{Process: 5, Value: "z", Invoke: ms(70), Complete: ms(71), Outcome: OK, Offset: -1, Acks: AcksNone}
	retry := ok(1, "a", 0, 10, 0)
	retry.Invoke, retry.Complete = ms(15), ms(25)
	cases := []struct {
		name string
		h    History
		stat func(Stats) error
	}{
		{"unknown outcomes that happened or not", validUnknowns(), func(s Stats) error {
			if s.UnknownRead != 1 || s.SendsUnknown != 2 {
				return fmt.Errorf("unknown read %d of %d, want 1 of 2", s.UnknownRead, s.SendsUnknown)
			}
			return nil
		}},
		{"an unknown send that landed after the client gave up", hist(
			sends(Send{Process: 1, Value: "late", Invoke: ms(0), Complete: ms(5), Outcome: Unknown, Offset: -1}),
			poll(3, 30, 40, 0, 1, "late@0")), nil},
		{"offset gaps covered by unknown sends", hist(
			sends(ok(1, "a", 0, 10, 0), unknown(2, "u1", 5), unknown(2, "u2", 6), ok(1, "d", 20, 30, 3)),
			poll(3, 40, 50, 0, 4, "a@0"), seek(poll(3, 60, 70, 3, 4, "d@3"))), nil},
		{"leader changes: a stale leader's lower high watermark at a lower epoch", hist(
			sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1), ok(1, "c", 40, 50, 2)),
			epoch(poll(3, 35, 38, 0, 2, "a@0", "b@1"), 2),
			epoch(poll(3, 55, 58, 2, 1), 1), // stale leader of epoch 1: hw 1, nothing to return from 2
			epoch(poll(3, 60, 70, 2, 3, "c@2"), 3)), nil},
		{"an idempotent retry answered with the original offset", hist(
			sends(ok(1, "a", 0, 10, 0), retry, ok(1, "b", 30, 40, 1)),
			final(poll(3, 50, 60, 0, 2, "a@0", "b@1"))), func(s Stats) error {
			if s.Sends != 3 || s.LogicalSends != 2 {
				return fmt.Errorf("sends %d logical %d, want 3 and 2", s.Sends, s.LogicalSends)
			}
			return nil
		}},
		{"acks=1 and acks=0 sends lost", hist(
			sends(weakLost, ok(1, "a", 20, 30, 0), weakKept, acks0),
			final(poll(3, 80, 90, 0, 2, "a@0", "k@1"))), func(s Stats) error {
			if s.WeakSends != 3 || s.WeakRead != 1 || s.WeakLost != 2 {
				return fmt.Errorf("weak sends %d read %d lost %d, want 3, 1, 2", s.WeakSends, s.WeakRead, s.WeakLost)
			}
			return nil
		}},
		{"a failed send that nobody read", hist(
			sends(failed(1, "f", 0, 10), ok(1, "a", 20, 30, 0)),
			final(poll(3, 40, 50, 0, 1, "a@0"))), nil},
		{"concurrent acknowledged sends in either order", hist(
			sends(ok(1, "a", 0, 30, 1), ok(2, "b", 10, 20, 0)),
			poll(3, 40, 50, 0, 2, "b@0", "a@1")), nil},
		{"a batch", hist(
			batch(9, ok(1, "a", 0, 10, 0), ok(1, "b", 0, 10, 1), ok(1, "c", 0, 10, 2)),
			poll(3, 20, 30, 0, 3, "a@0", "b@1"), poll(3, 40, 50, 2, 3, "c@2")), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Check(c.h, Options{})
			if !r.Valid {
				t.Fatalf("want valid, got:\n%v", r)
			}
			if c.stat != nil {
				if err := c.stat(r.Stats); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestNonIdempotentRetriesOption(t *testing.T) {
	a := Send{Process: 1, Value: "a", Invoke: ms(0), Complete: ms(10), Outcome: OK, Offset: 0}
	h := hist(sends(a), poll(3, 20, 30, 0, 2, "a@0", "a@1"))
	if r := Check(h, Options{}); !found(r, Duplicate) {
		t.Errorf("strict: want duplicate, got:\n%v", r)
	}
	r := Check(h, Options{NonIdempotentRetries: true})
	if found(r, Duplicate) || r.Stats.LawfulDuplicates != 1 {
		t.Errorf("with retries: want a lawful duplicate, got:\n%v", r)
	}
}

func TestMalformedIsNeverAPass(t *testing.T) {
	h := hist(sends(ok(1, "a", 0, 10, 0), ok(2, "a", 0, 10, 0)))
	if r := Check(h, Options{}); r.Valid || len(r.Unknown) == 0 {
		t.Errorf("two sends of one value: want an unknown verdict, got:\n%v", r)
	}
}

func TestTimeoutIsNeverAPass(t *testing.T) {
	cfg := defaultGen()
	cfg.sends, cfg.polls = 600, 600
	h := generate(rand.New(rand.NewPCG(1, 2)), cfg)
	r := Check(h, Options{WindowTimeout: time.Nanosecond, WindowOps: 40})
	if r.Stats.WindowsTimedOut == 0 {
		t.Skip("no window timed out within a nanosecond") // practically impossible
	}
	if r.Valid || len(r.Unknown) != r.Stats.WindowsTimedOut {
		t.Fatalf("timed-out windows must make the result unknown, got:\n%v", r)
	}
}

func TestWindowsStayBounded(t *testing.T) {
	cfg := defaultGen()
	cfg.sends, cfg.polls = 2000, 2000
	h := generate(rand.New(rand.NewPCG(3, 4)), cfg)
	r := Check(h, Options{WindowOps: 60})
	if !r.Valid {
		t.Fatalf("generated history rejected:\n%v", r)
	}
	if r.Stats.Windows < 10 || r.Stats.MaxWindowOps > 60+4*cfg.consumers {
		t.Errorf("windows %d, largest %d ops; want many, each about 60", r.Stats.Windows, r.Stats.MaxWindowOps)
	}
}

func drawGen(t *rapid.T) genConfig {
	cfg := defaultGen()
	cfg.partitions = rapid.IntRange(1, 3).Draw(t, "partitions")
	cfg.producers = rapid.IntRange(1, 4).Draw(t, "producers")
	cfg.weak = rapid.IntRange(0, 2).Draw(t, "weak")
	cfg.consumers = rapid.IntRange(1, 4).Draw(t, "consumers")
	cfg.sends = rapid.IntRange(1, 80).Draw(t, "sends")
	cfg.polls = rapid.IntRange(0, 80).Draw(t, "polls")
	cfg.maxBatch = rapid.IntRange(1, 4).Draw(t, "maxBatch")
	cfg.pUnknown = rapid.Float64Range(0, 0.5).Draw(t, "pUnknown")
	cfg.final = rapid.Bool().Draw(t, "final")
	return cfg
}

// TestPropertyValidHistoriesPass: every history of a correct log passes.
func TestPropertyValidHistoriesPass(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := drawGen(t)
		h := generate(rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 0)), cfg)
		if r := Check(h, Options{}); !r.Valid {
			t.Fatalf("valid history rejected:\n%v", r)
		}
	})
}

// TestPropertyMutationsCaught: breaking a valid history is noticed.
func TestPropertyMutationsCaught(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := drawGen(t)
		cfg.final = true
		cfg.sends = rapid.IntRange(5, 80).Draw(t, "sends")
		h := generate(rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 0)), cfg)
		kind := rapid.SampledFrom([]string{"swap", "drop", "duplicate"}).Draw(t, "mutation")
		want, ok := mutate(t, &h, kind)
		if !ok {
			t.Skip("nothing to mutate")
		}
		r := Check(h, Options{})
		if r.Valid || !found(r, want) {
			t.Fatalf("%s: want %s, got:\n%v", kind, want, r)
		}
	})
}

// mutate breaks h in place and returns the anomaly that must be flagged.
func mutate(t *rapid.T, h *History, kind string) (Anomaly, bool) {
	acked := map[string]bool{}
	for _, s := range h.Sends {
		if s.Outcome == OK && s.Acks == AcksAll {
			acked[s.Value] = true
		}
	}
	// Candidate final polls with enough acknowledged records.
	type at struct{ p, r int }
	var cands []at
	for pi, p := range h.Polls {
		if !p.Final {
			continue
		}
		for ri, r := range p.Records {
			if acked[r.Value] {
				cands = append(cands, at{pi, ri})
			}
		}
	}
	switch kind {
	case "swap":
		// Two acknowledged values of one poll trade offsets: each offset
		// now holds two values.
		var pairs [][2]at
		for i := 1; i < len(cands); i++ {
			if cands[i].p == cands[i-1].p {
				pairs = append(pairs, [2]at{cands[i-1], cands[i]})
			}
		}
		if len(pairs) == 0 {
			return "", false
		}
		pr := rapid.SampledFrom(pairs).Draw(t, "pair")
		rs := h.Polls[pr[0].p].Records
		rs[pr[0].r].Value, rs[pr[1].r].Value = rs[pr[1].r].Value, rs[pr[0].r].Value
		return InconsistentOffsets, true
	case "drop":
		// An acknowledged record vanishes from the middle of the final read.
		var mid []at
		for _, c := range cands {
			if c.r+1 < len(h.Polls[c.p].Records) {
				mid = append(mid, c)
			}
		}
		if len(mid) == 0 {
			return "", false
		}
		c := rapid.SampledFrom(mid).Draw(t, "record")
		h.Polls[c.p].Records = slices.Delete(h.Polls[c.p].Records, c.r, c.r+1)
		return IntPollSkip, true
	default:
		// An acknowledged value shows up a second time, at the end of the
		// final read.
		if len(cands) == 0 {
			return "", false
		}
		c := rapid.SampledFrom(cands).Draw(t, "record")
		p := &h.Polls[c.p]
		last := p.Records[len(p.Records)-1].Offset
		p.Records = append(p.Records, Record{Offset: last + 1, Value: p.Records[c.r].Value})
		return Duplicate, true
	}
}

// TestDeterministic: the same history gives the same report.
func TestDeterministic(t *testing.T) {
	cfg := defaultGen()
	cfg.sends, cfg.polls = 300, 300
	h := generate(rand.New(rand.NewPCG(7, 7)), cfg)
	h.Polls[len(h.Polls)-1].Records = nil // make it fail somewhere
	a, b := Check(h, Options{}), Check(h, Options{Workers: 1})
	if a.String() != b.String() {
		t.Fatalf("two runs differ:\n%v\n---\n%v", a, b)
	}
}

// BenchmarkCheck: 100k sends and 100k polls over 6 partitions.
func BenchmarkCheck(b *testing.B) {
	cfg := defaultGen()
	cfg.partitions, cfg.producers, cfg.weak, cfg.consumers = 6, 10, 2, 12
	cfg.sends, cfg.polls, cfg.maxBatch = 100_000, 100_000, 1
	h := generate(rand.New(rand.NewPCG(42, 42)), cfg)
	b.Logf("%d send records, %d polls", len(h.Sends), len(h.Polls))
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			if r := Check(h, Options{SkipLinearizability: true}); !r.Valid {
				b.Fatalf("rejected:\n%v", r)
			}
		}
	})
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			r := Check(h, Options{})
			if !r.Valid {
				b.Fatalf("rejected:\n%v", r)
			}
			b.ReportMetric(float64(r.Stats.Windows), "windows")
		}
	})
}

// groupHist is a history of group "g" with members 4 and 5 over partition
// 0, whose log holds a@0, b@1, c@2.
func groupHist(polls []Poll, commits []Commit, reads ...OffsetRead) History {
	h := hist(sends(ok(1, "a", 0, 1, 0), ok(1, "b", 0, 1, 1), ok(1, "c", 0, 1, 2)), polls...)
	h.Commits, h.OffsetReads = commits, reads
	h.Members = []GroupMember{{Process: 4, Group: "g"}, {Process: 5, Group: "g"}}
	return h
}

func commit(proc int, offset, inv, comp int64, o Outcome) Commit {
	return Commit{Group: "g", Process: proc, Offset: offset, Invoke: ms(inv), Complete: ms(comp), Outcome: o}
}

func read(proc int, offset, inv, comp int64) OffsetRead {
	return OffsetRead{Group: "g", Process: proc, Offset: offset, Invoke: ms(inv), Complete: ms(comp)}
}

// TestGroupsValid: lawful group histories pass: a read sees the latest
// acknowledged commit (or one still in flight, or none yet), and members
// together were delivered everything below the commits.
func TestGroupsValid(t *testing.T) {
	for name, h := range map[string]History{
		"read after commit": groupHist([]Poll{poll(4, 0, 5, 0, 3, "a@0", "b@1")},
			[]Commit{commit(4, 2, 10, 20, OK)}, read(5, 2, 30, 40)),
		"read overlapping a commit sees it or not": groupHist([]Poll{poll(4, 0, 5, 0, 3, "a@0", "b@1")},
			[]Commit{commit(4, 1, 6, 8, OK), commit(4, 2, 10, 40, OK)}, read(5, 1, 20, 30), read(5, 2, 25, 35)),
		"unknown commit may be read": groupHist([]Poll{poll(4, 0, 5, 0, 3, "a@0", "b@1")},
			[]Commit{commit(4, 2, 10, -1, Unknown)}, read(5, 2, 30, 40)),
		"nothing committed yet": groupHist(nil, nil, read(5, -1, 0, 1)),
		"a deposed coordinator answers stale": groupHist([]Poll{poll(4, 0, 5, 0, 3, "a@0", "b@1")},
			[]Commit{termed(commit(4, 1, 6, 8, OK), 2), termed(commit(4, 2, 10, 20, OK), 3)}, termed(read(5, 1, 30, 40), 2)),
		"a member of an old generation reads what a newer one committed": groupHist([]Poll{genPoll(poll(5, 0, 5, 0, 3, "a@0", "b@1"), 2),
			genPoll(poll(4, 30, 40, 0, 3, "a@0", "b@1", "c@2"), 1)},
			[]Commit{genCommit(commit(5, 2, 10, 20, OK), 2)}),
		"deliveries split across members": groupHist([]Poll{poll(4, 0, 5, 0, 3, "a@0"), poll(5, 0, 5, 1, 3, "b@1", "c@2")},
			[]Commit{commit(5, 3, 10, 20, OK)}, read(4, 3, 30, 40)),
		"an old generation's commit sent before the new one's was acknowledged": groupHist([]Poll{poll(4, 0, 5, 0, 3, "a@0", "b@1")},
			[]Commit{genCommit(commit(5, 2, 0, 10, OK), 2), genCommit(commit(4, 1, 5, 30, OK), 1)}),
		"an old generation's late commit refused": groupHist([]Poll{poll(4, 0, 5, 0, 3, "a@0", "b@1")},
			[]Commit{genCommit(commit(5, 2, 0, 10, OK), 2), genCommit(commit(4, 1, 20, 30, Fail), 1)}),
	} {
		t.Run(name, func(t *testing.T) {
			for i := range h.Commits {
				if h.Commits[i].Complete < 0 {
					h.Commits[i].Complete = -1
				}
			}
			if r := Check(h, Options{}); !r.Valid {
				t.Fatalf("flagged a lawful history:\n%v", r)
			}
		})
	}
}

// termed sets the answering coordinator's term of a commit or a read.
func termed[T Commit | OffsetRead](x T, term uint64) T {
	switch v := any(&x).(type) {
	case *Commit:
		v.Term = term
	case *OffsetRead:
		v.Term = term
	}
	return x
}

func genPoll(p Poll, g int32) Poll       { p.Generation = g; return p }
func genCommit(c Commit, g int32) Commit { c.Generation = g; return c }

// With Options.DeleteOnly, a log start above 0 that no DeleteRecords asked
// for, in a poll or in an answer, is an unrequested-log-start (the planted
// bug delete-records-one-more deleted one record more than asked); log
// starts at offsets asked for are lawful, in any order of the requests,
// including an answer above the offset a request asked when another asked
// for more. Without DeleteOnly (retention may cut anywhere at a segment
// boundary) only an answer below its own offset is flagged.
func TestDeleteOnlyHoldsLogStartsToRequests(t *testing.T) {
	opts := Options{Retention: true, DeleteOnly: true}
	lawful := deleteHist([]DeleteRecords{del(5, 20, 30, 2, 2), del(6, 25, 35, 1, 2), del(7, 40, -1, 3, -1)},
		final(logStart(poll(3, 50, 60, 2, 3, "c@2"), 2)), logStart(poll(4, 21, 22, 0, 3, "a@0", "b@1", "c@2"), 0))
	if r := Check(lawful, opts); !r.Valid {
		t.Fatalf("log starts at offsets asked for: %v", r)
	}
	unasked := deleteHist([]DeleteRecords{del(5, 20, 30, 1, 2)},
		final(logStart(poll(3, 50, 60, 2, 3, "c@2"), 2)))
	r := Check(unasked, opts)
	if r.Valid || r.Counts[UnrequestedLogStart] != 2 {
		t.Fatalf("delete to 1 answered and seen as 2: %d unrequested-log-start, want 2 (the answer and the poll): %v", r.Counts[UnrequestedLogStart], r)
	}
	if r := Check(unasked, Options{Retention: true}); !r.Valid {
		t.Fatalf("without DeleteOnly, retention explains log start 2: %v", r)
	}
	// A log start seen before any request for it was sent.
	early := deleteHist([]DeleteRecords{del(5, 20, 30, 2, 2)},
		logStart(poll(3, 10, 15, 2, 3, "c@2"), 2))
	if r := Check(early, opts); r.Counts[UnrequestedLogStart] != 1 {
		t.Fatalf("log start 2 seen before the delete to 2 was sent: %d unrequested-log-start, want 1: %v", r.Counts[UnrequestedLogStart], r)
	}
	// Acknowledged and not done: the final reader's last poll, after the
	// answer, still reports log start 0 (checked with or without
	// DeleteOnly); an earlier poll (not End) may reach a deposed leader.
	end := func(p Poll) Poll { p.End = true; return p }
	undone := deleteHist([]DeleteRecords{del(5, 20, 30, 2, 2)},
		logStart(poll(4, 31, 35, 0, 3, "a@0", "b@1", "c@2"), 0), end(logStart(poll(3, 50, 60, 0, 3, "a@0", "b@1", "c@2"), 0)))
	for _, o := range []Options{opts, {Retention: true}} {
		if r := Check(undone, o); r.Counts[UnrequestedLogStart] != 1 {
			t.Fatalf("%+v: delete to 2 answered, End poll at log start 0: %d unrequested-log-start, want 1: %v", o, r.Counts[UnrequestedLogStart], r)
		}
	}
}

// With Options.Retention, acknowledged records below the log start the
// final read reported, never read, were deleted by retention: counted in
// Stats.Expired, neither lost-writes nor gaps. Without it, or above the log
// start, they are lost-writes.
func TestRetentionExcusesOnlyBelowLogStart(t *testing.T) {
	withStart := func(p Poll, start int64) Poll { p.LogStart = start; return p }
	h := hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1), ok(1, "c", 40, 50, 2), ok(1, "d", 60, 70, 3)),
		final(withStart(poll(3, 80, 90, 2, 4, "c@2", "d@3"), 2)))
	res := Check(h, Options{Retention: true})
	if !res.Valid || res.Stats.Expired != 2 {
		t.Fatalf("retention: valid %v, expired %d, violations %v", res.Valid, res.Stats.Expired, res.Violations)
	}
	if res := Check(h, Options{}); res.Valid || res.Counts[LostWrite] != 2 {
		t.Fatalf("no retention: valid %v, lost-writes %d", res.Valid, res.Counts[LostWrite])
	}
	// A record at or above the log start is still owed to the reader.
	h2 := hist(sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1), ok(1, "c", 40, 50, 2)),
		final(withStart(poll(3, 80, 90, 1, 3, "c@2"), 1)))
	if res := Check(h2, Options{Retention: true}); res.Valid || res.Counts[LostWrite] != 1 || res.Stats.Expired != 1 {
		t.Fatalf("b above the log start: valid %v, lost-writes %d, expired %d", res.Valid, res.Counts[LostWrite], res.Stats.Expired)
	}
}

// Retention goes on after the final read: a group member that resets past
// records the final read saw, because retention deleted them later, skipped
// them lawfully when an End poll (after the group settled) reports a log
// start above them; without one it is a group-missed.
func TestRetentionAfterTheFinalReadExcusesGroupSkips(t *testing.T) {
	withStart := func(p Poll, start int64) Poll { p.LogStart = start; return p }
	end := func(p Poll) Poll { p.End = true; return p }
	// The final reader (process 9) reads a, b, c with the log start at 0;
	// member 4 reads only c, after a reset to the log start 2, and commits 3.
	polls := []Poll{
		final(withStart(poll(9, 20, 30, 0, 3, "a@0", "b@1", "c@2"), 0)),
		seek(withStart(poll(4, 40, 50, 2, 3, "c@2"), 2)),
	}
	h := groupHist(polls, []Commit{commit(4, 3, 60, 70, OK)})
	if r := Check(h, Options{Retention: true}); r.Valid || !found(r, GroupMissed) {
		t.Fatalf("without an End poll: valid %v, violations %v; want group-missed", r.Valid, r.Violations)
	}
	h = groupHist(append(polls, end(withStart(poll(9, 80, 90, 3, 3), 2))), []Commit{commit(4, 3, 60, 70, OK)})
	if r := Check(h, Options{Retention: true}); !r.Valid {
		t.Fatalf("with an End poll at log start 2: %v", r.Violations)
	}
	if r := Check(h, Options{}); r.Valid || !found(r, GroupMissed) {
		t.Fatalf("without Options.Retention the End poll excuses nothing: valid %v", r.Valid)
	}
	// An End poll excuses only what lies below its log start.
	h = groupHist(append(polls, end(withStart(poll(9, 80, 90, 3, 3), 1))), []Commit{commit(4, 3, 60, 70, OK)})
	if r := Check(h, Options{Retention: true}); r.Valid || !found(r, GroupMissed) {
		t.Fatalf("with an End poll at log start 1, offset 1 is still owed: valid %v", r.Valid)
	}
}

// Offset expiry counts as a reset: with Options.OffsetsRetention, a group
// that reads no offset long enough after its last commit lost it lawfully,
// and may then commit and read lower offsets; read any sooner, or without
// the option, it is a commit-regression.
func TestOffsetExpiryIsAReset(t *testing.T) {
	polls := []Poll{poll(4, 0, 5, 0, 3, "a@0", "b@1", "c@2")}
	expired := groupHist(polls, []Commit{commit(4, 3, 10, 20, OK), commit(4, 1, 11_000, 11_010, OK)},
		read(5, -1, 10_000, 10_010), read(5, 1, 12_000, 12_010))
	if r := Check(expired, Options{OffsetsRetention: 5 * time.Second}); !r.Valid {
		t.Fatalf("expiry after the retention flagged:\n%v", r)
	}
	if r := Check(expired, Options{}); r.Valid || r.Counts[CommitRegression] == 0 {
		t.Fatalf("without offsets retention, no commit-regression:\n%v", r)
	}
	early := groupHist(polls, []Commit{commit(4, 3, 10, 20, OK)}, read(5, -1, 1_000, 1_010))
	if r := Check(early, Options{OffsetsRetention: 5 * time.Second}); r.Valid || r.Counts[CommitRegression] == 0 {
		t.Fatalf("an offset gone before the retention passed was not flagged:\n%v", r)
	}
}

// A lower log start is no regression when the polls overlap in time, or
// when the later one was answered at an older leader epoch (a deposed
// leader that has not yet learned of its successor).
func TestLogStartRegressionNeedsOrder(t *testing.T) {
	s := sends(ok(1, "a", 0, 10, 0), ok(1, "b", 20, 30, 1))
	for name, h := range map[string]History{
		"overlapping": hist(s, logStart(poll(3, 40, 70, 1, 2, "b@1"), 1), logStart(poll(4, 60, 80, 0, 2, "a@0"), 0)),
		"touching":    hist(s, logStart(poll(3, 40, 60, 1, 2, "b@1"), 1), logStart(poll(4, 60, 80, 0, 2, "a@0"), 0)),
		"older epoch": hist(s, logStart(epoch(poll(3, 40, 50, 1, 2, "b@1"), 2), 1), logStart(poll(4, 60, 70, 0, 2, "a@0"), 0)),
		"forward":     hist(s, logStart(poll(3, 40, 50, 0, 2, "a@0", "b@1"), 0), logStart(poll(4, 60, 70, 1, 2, "b@1"), 1)),
		"unknown":     hist(s, logStart(poll(3, 40, 50, 1, 2, "b@1"), 1), logStart(poll(4, 60, 70, 0, 2, "a@0"), -1)),
	} {
		if r := Check(h, Options{}); !r.Valid {
			t.Errorf("%s: flagged:\n%v", name, r)
		}
	}
}

// TestLatestValid: LATEST answers the checker must not flag: a poll at or
// above the answer, one at another leader epoch, one invoked before the
// answer came back.
func TestLatestValid(t *testing.T) {
	for name, h := range map[string]History{
		"poll at the answer":             latestHist(latest(4, 20, 25, 1, 1), poll(3, 30, 40, 0, 1, "a@0")),
		"poll past the answer":           latestHist(latest(4, 20, 25, 0, 1), poll(3, 30, 40, 0, 1, "a@0")),
		"another leader epoch":           latestHist(latest(4, 20, 25, 2, 1), epoch(poll(3, 30, 40, 0, 1, "a@0"), 2)),
		"poll invoked before the answer": latestHist(latest(4, 20, 25, 2, 1), poll(3, 24, 40, 0, 1, "a@0")),
	} {
		t.Run(name, func(t *testing.T) {
			if r := Check(h, Options{}); r.Counts[LatestAboveHW] != 0 {
				t.Fatalf("flagged:\n%v", r)
			}
		})
	}
}
