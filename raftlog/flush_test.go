package raftlog

import (
	"bytes"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// Relaxed flush policy (Batch.Relaxed, DESIGN.md step 7): a relaxed round
// writes without syncing and its entries count as stable, not synced; a
// change of raft's term or vote is synced whatever the batch asks; a later
// synced round (or Sync) makes the relaxed data durable.

func relaxedLog(t *testing.T) (*vfs.Mem, *Log) {
	t.Helper()
	mem := vfs.NewMem(7)
	l, err := Open(mem, "p0", Options{SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// Term 1, vote 1: synced, whatever the batch asks.
	r, err := l.Append(Batch{HardState: &pb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(0))}, Relaxed: true})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Synced() || len(r.Syncs) == 0 {
		t.Fatalf("first term/vote round: synced %v, syncs %d; want a sync", r.Synced(), len(r.Syncs))
	}
	mustRun(t, l, r, nil)
	return mem, l
}

func appendRelaxed(t *testing.T, l *Log, i, term uint64, vote uint64) *Round {
	t.Helper()
	r, err := l.Append(Batch{Entries: []*pb.Entry{ent(i, term, bytes.Repeat([]byte{byte(i)}, 100))},
		HardState: &pb.HardState{Term: new(term), Vote: new(vote), Commit: new(i - 1)}, Relaxed: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRelaxedRoundHasNoDataSync(t *testing.T) {
	_, l := relaxedLog(t)
	for i := uint64(1); i <= 5; i++ {
		r := appendRelaxed(t, l, i, 1, 1)
		if r.Synced() || len(r.Syncs) != 0 || len(r.Writes) == 0 {
			t.Fatalf("entry %d: relaxed round synced %v, syncs %d, writes %d; want writes and no sync", i, r.Synced(), len(r.Syncs), len(r.Writes))
		}
		mustRun(t, l, r, nil)
		if got := l.StableIndex(); got != i {
			t.Fatalf("stable index %d after relaxed entry %d", got, i)
		}
	}
	if l.SyncedIndex() != 0 || l.UnsyncedEntries() != 5 || !l.Unsynced() {
		t.Fatalf("synced index %d, unsynced entries %d (%v); want 0, 5, true", l.SyncedIndex(), l.UnsyncedEntries(), l.Unsynced())
	}
}

func TestRelaxedRoundSyncsTermAndVote(t *testing.T) {
	_, l := relaxedLog(t)
	mustRun(t, l, appendRelaxed(t, l, 1, 1, 1), nil)
	for _, tc := range []struct {
		name       string
		term, vote uint64
	}{{"new term", 2, 0}, {"new vote", 2, 3}} {
		r, err := l.Append(Batch{HardState: &pb.HardState{Term: new(tc.term), Vote: new(tc.vote), Commit: new(uint64(1))}, Relaxed: true})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Synced() || len(r.Syncs) == 0 {
			t.Fatalf("%s: relaxed round synced %v with %d syncs; a term or vote change must sync", tc.name, r.Synced(), len(r.Syncs))
		}
		mustRun(t, l, r, nil)
		if l.SyncedIndex() != 1 || l.Unsynced() {
			t.Fatalf("%s: synced index %d, unsynced %v: the sync must cover the earlier relaxed entry", tc.name, l.SyncedIndex(), l.Unsynced())
		}
	}
	// A commit-only change stays relaxed.
	r, err := l.Append(Batch{HardState: &pb.HardState{Term: new(uint64(2)), Vote: new(uint64(3)), Commit: new(uint64(1))}, Relaxed: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Synced() {
		t.Fatal("a relaxed round that keeps term and vote synced")
	}
	mustRun(t, l, r, nil)
}

func TestRelaxedPowerLossKeepsOnlySynced(t *testing.T) {
	mem, l := relaxedLog(t)
	for i := uint64(1); i <= 3; i++ {
		mustRun(t, l, appendRelaxed(t, l, i, 1, 1), nil)
	}
	r, err := l.Sync()
	if err != nil || r == nil || !r.Synced() || len(r.Syncs) != 1 || len(r.Writes) != 0 {
		t.Fatalf("Sync: %+v, %v; want one sync and no writes", r, err)
	}
	mustRun(t, l, r, nil)
	if l.SyncedIndex() != 3 || l.Unsynced() {
		t.Fatalf("after Sync: synced index %d, unsynced %v", l.SyncedIndex(), l.Unsynced())
	}
	if r, err := l.Sync(); r != nil || err != nil {
		t.Fatalf("Sync with nothing unsynced: %v, %v; want nil", r, err)
	}
	for i := uint64(4); i <= 6; i++ {
		mustRun(t, l, appendRelaxed(t, l, i, 1, 1), nil)
	}
	mem.CrashClean()
	l2, err := Open(mem, "p0", Options{SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatalf("reopen after power loss: %v", err)
	}
	if got, _ := l2.LastIndex(); got != 3 {
		t.Fatalf("after power loss the log ends at %d; want 3 (the synced entries)", got)
	}
	hs, _, err := l2.InitialState()
	if err != nil || hs.GetTerm() != 1 || hs.GetVote() != 1 {
		t.Fatalf("hard state after power loss %v, %v; want term 1 vote 1", hs, err)
	}
}
