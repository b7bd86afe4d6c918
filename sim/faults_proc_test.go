package sim

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
)

// runKind runs a scenario of fault kind name alone, seed after seed (from
// first, up to maxSeeds of them), until one of its spans (named by any of
// spans) is on the timeline; it fails the test on any violation the world
// sees, and returns the worlds it ran.
func runKind(t *testing.T, name string, durationMs int64, first, maxSeeds uint64, spans ...string) []*World {
	t.Helper()
	var worlds []*World
	fired := 0
	for seed := first; seed < first+maxSeeds && fired == 0; seed++ {
		w := MustNew(Config{Seed: seed, DurationMs: durationMs, LivenessMs: 20_000, Faults: true,
			Scenario: Scenario{Name: name, Faults: []Weighted{{name, 1}}, EveryMs: [2]int64{300, 1000}}})
		r := w.Run()
		for _, f := range r.Failures {
			t.Errorf("%s seed %d: %.500s", name, seed, f)
		}
		for _, sp := range r.Timeline {
			for _, k := range spans {
				if sp.Kind == k {
					fired++
				}
			}
		}
		worlds = append(worlds, w)
	}
	if fired == 0 {
		t.Errorf("%s: no %v span in %d seeds of %d ms", name, spans, maxSeeds, durationMs)
	}
	return worlds
}

// healed checks what every fault must have undone by the end of a run:
// every broker is up and running, nothing is cut off, no crash is armed,
// no disk is damaged, and no clock runs at a changed rate.
func healed(t *testing.T, w *World) {
	t.Helper()
	for _, sn := range w.nodes {
		switch {
		case sn.n == nil:
			t.Errorf("seed %d: broker %d is down at the end", w.cfg.Seed, sn.id)
		case sn.paused:
			t.Errorf("seed %d: broker %d is paused at the end", w.cfg.Seed, sn.id)
		case sn.disk.arm != nil:
			t.Errorf("seed %d: broker %d still has a crash armed", w.cfg.Seed, sn.id)
		case sn.damage != nil:
			t.Errorf("seed %d: broker %d's disk is still damaged", w.cfg.Seed, sn.id)
		case sn.skewChangedUntil > w.nowNs || sn.rate < 0.9 || sn.rate > 1.1:
			t.Errorf("seed %d: broker %d's clock runs at %.3f at the end", w.cfg.Seed, sn.id, sn.rate)
		}
	}
	for _, k := range w.linkKeys() {
		if w.net.links[k].cut {
			t.Errorf("seed %d: link %v is cut at the end", w.cfg.Seed, k)
		}
	}
}

func TestProcFaultsFireAndHeal(t *testing.T) {
	for _, tc := range []struct {
		kind  string
		spans []string
	}{
		{"crash-in-fsync", []string{"crash-in-fsync"}},
		{"crash-in-roll", []string{"crash-in-roll"}},
		{"crash-in-snapshot", []string{"crash-in-snapshot"}},
		{"skew-change", []string{"skew-change"}},
		{"long-pause", []string{"long-pause", "long-isolate"}},
		{"leader-transfer", []string{"leader-transfer"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			for _, w := range runKind(t, tc.kind, 6000, 1, 4, tc.spans...) {
				healed(t, w)
			}
		})
	}
}

// A crash armed for a roll fires only on a round that creates or seals a
// segment: rolls tells them from the rest.
func TestRolls(t *testing.T) {
	m := vfs.NewMem(1)
	f, err := m.Create("00000000000000000002.seg")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r    raftlog.Round
		want bool
	}{
		{raftlog.Round{Writes: []raftlog.WriteOp{{File: f, Off: 4096, Data: []byte("x")}}}, false},
		{raftlog.Round{Writes: []raftlog.WriteOp{{File: f, Off: 0, Data: []byte("header")}}}, true},
		{raftlog.Round{Files: []raftlog.FileWrite{{Path: "p/checkpoint"}}}, false},
		{raftlog.Round{Files: []raftlog.FileWrite{{Path: "p/00000000000000000001.idx"}}}, true},
	} {
		if got := rolls(&tc.r); got != tc.want {
			t.Errorf("rolls(%+v) = %v, want %v", tc.r, got, tc.want)
		}
	}
}

// A broker's clock bends when its rate changes: no jump, and it runs at
// the new rate from then on.
func TestNodeClockRateChange(t *testing.T) {
	w := MustNew(Config{Seed: 1})
	sn := &simNode{w: w, rate: 1.05}
	w.nowNs = 2e9
	before := nodeClock{sn}.NowNs()
	w.setRate(sn, 0.5)
	if got := (nodeClock{sn}).NowNs(); got != before {
		t.Fatalf("the clock jumped from %d to %d at a rate change", before, got)
	}
	w.nowNs += 1e9
	if got := (nodeClock{sn}).NowNs(); got != before+5e8 {
		t.Fatalf("after 1 s at rate 0.5 the clock reads %d, want %d", got, before+5e8)
	}
	w.setRate(sn, 1.05)
	w.nowNs += 1e9
	if got := (nodeClock{sn}).NowNs(); got != before+5e8+1.05e9 {
		t.Fatalf("after 1 s more at rate 1.05 the clock reads %d, want %d", got, before+5e8+1.05e9)
	}
}

// leader-transfer moves leadership: the target leads the group soon after.
func TestLeaderTransferMovesLeadership(t *testing.T) {
	w := MustNew(Config{Seed: 3, DurationMs: 5000})
	w.setup()
	w.startWorkload(5e9)
	w.runUntil(w.nowNs + 1e9)
	for range 3 {
		g, from, to, ok := w.transferLeader()
		if !ok {
			t.Fatal("no group to transfer")
		}
		w.runUntil(w.nowNs + 1e9)
		if lead, _ := w.nodes[to-1].n.Replica(g).Leader(); lead != to {
			t.Errorf("group %v: transferred from %d to %d, leader now %d", g, from, to, lead)
		}
	}
}

// One seed reproduces a run of the new faults bit for bit.
func TestNewFaultsSameSeedSameTrace(t *testing.T) {
	var s Scenario
	s.Name = "new-faults"
	for _, f := range append(append([]faultKind{}, procFaults...), diskFaults...) {
		s.Faults = append(s.Faults, Weighted{f.name, 1})
	}
	s.EveryMs = [2]int64{200, 600}
	run := func(seed uint64) Result {
		return MustNew(Config{Seed: seed, DurationMs: 3000, Faults: true, Scenario: s}).Run()
	}
	a, b := run(5), run(5)
	if a.TraceHash != b.TraceHash || len(a.Timeline) != len(b.Timeline) {
		t.Fatalf("seed 5 ran twice: trace hashes %x and %x, %d and %d faults", a.TraceHash, b.TraceHash, len(a.Timeline), len(b.Timeline))
	}
	if len(a.Timeline) == 0 {
		t.Fatal("no fault fired")
	}
	if c := run(6); c.TraceHash == a.TraceHash {
		t.Fatalf("seeds 5 and 6 gave the same trace hash %x", a.TraceHash)
	}
}

// A crash armed for a snapshot install fires only on a round that writes a
// snapshot from the leader; a crash armed for a roll, only on rounds that
// create or seal segments. Both told apart on a real log's rounds.
func TestInstallsAndRollsOnALog(t *testing.T) {
	m := vfs.NewMem(1)
	l, err := raftlog.Open(m, "p", raftlog.Options{SegmentBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	run := func(r *raftlog.Round, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Complete(r, r.Run(m)); err != nil {
			t.Fatal(err)
		}
	}
	one, voter := uint64(1), []uint64{1, 2, 3}
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: &one, Term: &one, ConfState: &pb.ConfState{Voters: voter}}}
	r, err := l.Append(raftlog.Batch{Snapshot: snap})
	if err == nil && !installs(r) {
		t.Error("installs is false for a round installing a snapshot")
	}
	run(r, err)
	var plain, rolled int
	for i := uint64(2); i < 40; i++ {
		term := uint64(1)
		r, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{{Index: &i, Term: &term, Data: make([]byte, 500)}},
			HardState: &pb.HardState{Term: &term, Commit: &i}})
		if err == nil && installs(r) {
			t.Errorf("installs is true for the append of entry %d", i)
		}
		if err == nil && rolls(r) {
			rolled++
		} else {
			plain++
		}
		run(r, err)
	}
	if rolled == 0 || plain == 0 {
		t.Errorf("%d rounds rolled, %d did not, of 38 appends of 500 B to 4 KiB segments", rolled, plain)
	}
}
