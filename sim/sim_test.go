package sim

import (
	"slices"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// quickCheck is a minimal history check for the kernel's own tests (the
// real judge is package checker): every acknowledged idempotent send is
// read exactly once, at its acknowledged offset.
func quickCheck(t *testing.T, h *History) {
	t.Helper()
	at := map[string]int64{}
	for _, p := range h.Polls {
		for _, r := range p.Records {
			if o, ok := at[r.Value]; ok && o != r.Offset {
				t.Errorf("value %s read at offsets %d and %d", r.Value, o, r.Offset)
			}
			at[r.Value] = r.Offset
		}
	}
	acked := 0
	for _, s := range h.Sends {
		if s.Outcome != OK || !s.Idempotent {
			continue
		}
		acked++
		o, ok := at[s.Value]
		switch {
		case !ok:
			t.Errorf("acknowledged %s (partition %d offset %d) never read", s.Value, s.Partition, s.Offset)
		case o != s.Offset:
			t.Errorf("acknowledged %s at offset %d, read at %d", s.Value, s.Offset, o)
		}
	}
	if acked == 0 {
		t.Errorf("no send was acknowledged")
	}
	if len(h.Members) > 0 {
		ok := 0
		for _, c := range h.Commits {
			if c.Outcome == OK {
				ok++
			}
		}
		if ok == 0 || len(h.OffsetReads) == 0 {
			t.Errorf("the consumer group made %d acknowledged commits and %d offset reads", ok, len(h.OffsetReads))
		}
	}
}

func TestRunNoFaults(t *testing.T) {
	r := MustNew(Config{Seed: 1, DurationMs: 3000}).Run()
	for _, f := range r.Failures {
		t.Error(f)
	}
	t.Logf("stats %+v hash %x", r.Stats, r.TraceHash)
	quickCheck(t, r.History)
}

func TestRunFaults(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		r := MustNew(Config{Seed: seed, DurationMs: 10000, Faults: true}).Run()
		for _, f := range r.Failures {
			t.Errorf("seed %d: %s", seed, f)
		}
		t.Logf("seed %d: stats %+v", seed, r.Stats)
		quickCheck(t, r.History)
	}
}

func TestSameSeedSameTrace(t *testing.T) {
	run := func(seed uint64) uint64 {
		return MustNew(Config{Seed: seed, DurationMs: 2000, Faults: true}).Run().TraceHash
	}
	a, b := run(7), run(7)
	if a != b {
		t.Fatalf("seed 7 ran twice: trace hashes %x and %x", a, b)
	}
	if c := run(8); c == a {
		t.Fatalf("seeds 7 and 8 gave the same trace hash %x", a)
	}
}

func TestFirstDifference(t *testing.T) {
	e := func(i, term uint64, d string) *pb.Entry { return &pb.Entry{Index: &i, Term: &term, Data: []byte(d)} }
	a := []*pb.Entry{e(1, 1, "x"), e(2, 1, "y"), e(3, 2, "z")}
	for _, tc := range []struct {
		b    []*pb.Entry
		want int
	}{
		{[]*pb.Entry{e(1, 1, "x"), e(2, 1, "y"), e(3, 2, "z")}, -1},
		{[]*pb.Entry{e(1, 1, "x"), e(2, 1, "Y"), e(3, 2, "z")}, 1},
		{[]*pb.Entry{e(1, 1, "x"), e(2, 1, "y"), e(3, 3, "z")}, 2},
		{[]*pb.Entry{e(1, 1, "x")}, 1},
	} {
		if got := firstDifference(a, tc.b); got != tc.want {
			t.Errorf("firstDifference = %d, want %d", got, tc.want)
		}
	}
}

// Runs with disk wipes: each wiped broker rejoins under a new incarnation,
// never votes before its groups re-add it (the simulator's identity check),
// is a voter of every group again by the end of the liveness phase, and
// every acknowledged record is read.
func TestRunWipes(t *testing.T) {
	runs := 0
	for seed := uint64(1); seed <= 40 && runs < 3; seed++ {
		r := MustNew(Config{Seed: seed, DurationMs: 10000, Faults: true}).Run()
		if r.Stats.Wipes == 0 {
			continue
		}
		runs++
		for _, f := range r.Failures {
			t.Errorf("seed %d: %s", seed, f)
		}
		t.Logf("seed %d: stats %+v", seed, r.Stats)
		quickCheck(t, r.History)
	}
	if runs < 3 {
		t.Fatalf("only %d of 40 seeds wiped a disk", runs)
	}
}

// Swarm mode: the seed picks the faults and knobs, prints them, and
// replays them exactly; two seeds choose differently.
func TestSwarm(t *testing.T) {
	run := func(seed uint64) Result {
		return MustNew(Config{Seed: seed, DurationMs: 3000, Faults: true, Swarm: true}).Run()
	}
	a, b := run(7), run(7)
	if a.TraceHash != b.TraceHash || !slices.Equal(a.Swarm, b.Swarm) {
		t.Fatalf("seed 7 twice: traces %016x and %016x, choices %q and %q", a.TraceHash, b.TraceHash, a.Swarm, b.Swarm)
	}
	if len(a.Swarm) != 2 || !strings.Contains(a.Swarm[0], "+swarm") || !strings.Contains(a.Swarm[1], "raft.max-inflight-msgs=") {
		t.Fatalf("swarm choices not described: %q", a.Swarm)
	}
	if len(a.Failures) > 0 {
		t.Fatalf("seed 7: %v", a.Failures)
	}
	differ := false
	for seed := uint64(8); seed < 12 && !differ; seed++ {
		differ = !slices.Equal(run(seed).Swarm, a.Swarm)
	}
	if !differ {
		t.Fatal("seeds 7-11 all chose the same faults and knobs")
	}
	plain := MustNew(Config{Seed: 7, DurationMs: 3000, Faults: true}).Run()
	if len(plain.Swarm) != 0 || plain.TraceHash == a.TraceHash {
		t.Fatalf("without -swarm: choices %q, trace %016x (swarm's %016x)", plain.Swarm, plain.TraceHash, a.TraceHash)
	}
}
