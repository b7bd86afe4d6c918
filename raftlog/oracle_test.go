package raftlog

// The oracle test: etcd raft's own MemoryStorage receives the same calls as
// a Log, and every raft.Storage answer of the two must agree — entries
// (with raft's maxSize limiting), terms, ErrCompacted and ErrUnavailable,
// first and last index, snapshot and initial state — also after the Log is
// closed and opened again.
//
// MemoryStorage.Compact ≡ Log.Compact (after MemoryStorage.CreateSnapshot),
// MemoryStorage.ApplySnapshot ≡ Log.Append(Batch{Snapshot}), and
// MemoryStorage.SetHardState ≡ Log.Append(Batch{HardState}). Where
// MemoryStorage panics (hi beyond last+1) the Log must return an error.
// Entries(lo, lo) is not compared: MemoryStorage answers an empty slice,
// the Log ErrUnavailable, and raft never asks.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"sluice/raftlog/vfs"
)

type oracleHarness struct {
	fs   *vfs.Mem
	opts Options
	l    *Log
	ms   *raft.MemoryStorage
	term uint64
	hs   *pb.HardState
}

func TestOracle(t *testing.T) {
	defaultRapidSteps(t, 200)
	rapid.Check(t, func(t *rapid.T) {
		h := &oracleHarness{
			fs: vfs.NewMem(1),
			opts: Options{
				SegmentBytes:       rapid.Int64Range(2<<10, 8<<10).Draw(t, "segmentBytes"),
				TailCacheBytes:     rapid.SampledFrom([]int64{1, 4 << 10}).Draw(t, "tailCacheBytes"),
				IndexIntervalBytes: rapid.SampledFrom([]int64{64, 4 << 10}).Draw(t, "indexIntervalBytes"),
			},
			ms:   raft.NewMemoryStorage(),
			term: 1,
			hs:   &pb.HardState{},
		}
		h.reopen(t)
		t.Repeat(map[string]func(*rapid.T){
			"append":        h.actAppend,
			"compact":       h.actCompact,
			"compactStale":  h.actCompactStale,
			"applySnapshot": h.actApplySnapshot,
			"snapshotStale": h.actSnapshotStale,
			"setHardState":  h.actSetHardState,
			"reopen":        h.reopen,
			"":              h.check,
		})
	})
}

func (h *oracleHarness) run(t *rapid.T, r *Round, err error) {
	if err != nil {
		t.Fatalf("log: %v", err)
	}
	if r == nil {
		return
	}
	if err := h.l.Complete(r, r.Run(h.fs)); err != nil {
		t.Fatalf("round: %v", err)
	}
}

func (h *oracleHarness) reopen(t *rapid.T) {
	if h.l != nil {
		h.l.Close()
	}
	l, err := Open(h.fs, "p0", h.opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	h.l = l
}

func (h *oracleHarness) bounds(t *rapid.T) (first, last uint64) {
	first, err := h.ms.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err = h.ms.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	return first, last
}

// drawEntry draws an entry; its optional fields are sometimes unset, which
// changes its encoded size (raft limits Entries by it).
func drawOracleEntry(t *rapid.T, i, term uint64) *pb.Entry {
	e := &pb.Entry{Index: new(i), Term: new(term), Data: drawData(t, "data", 1200)}
	if rapid.IntRange(0, 3).Draw(t, "typeSet") > 0 {
		e.Type = new(pb.EntryType(rapid.IntRange(0, 2).Draw(t, "type")))
	}
	return e
}

// actAppend appends after, over (a conflict) or partly below the first
// index, as raft's MsgStorageAppend may.
func (h *oracleHarness) actAppend(t *rapid.T) {
	first, last := h.bounds(t)
	lo := uint64(1)
	if first > 3 {
		lo = first - 2
	}
	start := rapid.Uint64Range(lo, last+1).Draw(t, "start")
	n := rapid.IntRange(1, 5).Draw(t, "n")
	h.term += rapid.Uint64Range(0, 1).Draw(t, "termBump")
	var ents []*pb.Entry
	for k := range n {
		ents = append(ents, drawOracleEntry(t, start+uint64(k), h.term))
	}
	if err := h.ms.Append(ents); err != nil {
		t.Fatal(err)
	}
	r, err := h.l.Append(Batch{Entries: ents})
	h.run(t, r, err)
}

func (h *oracleHarness) actCompact(t *rapid.T) {
	first, last := h.bounds(t)
	if last < first {
		t.Skip("nothing to compact")
	}
	i := rapid.Uint64Range(first, last).Draw(t, "compactAt")
	var cs *pb.ConfState
	if rapid.Bool().Draw(t, "withConfState") {
		cs = drawConfState(t, "confState")
	}
	data := drawData(t, "snapData", 200)
	if _, err := h.ms.CreateSnapshot(i, cs, data); err != nil {
		t.Fatal(err)
	}
	if err := h.ms.Compact(i); err != nil {
		t.Fatal(err)
	}
	r, err := h.l.Compact(i, cs, data)
	h.run(t, r, err)
}

// actCompactStale compacts at or below the snapshot: both refuse.
func (h *oracleHarness) actCompactStale(t *rapid.T) {
	first, _ := h.bounds(t)
	i := rapid.Uint64Range(0, first-1).Draw(t, "staleCompactAt")
	_, errMS := h.ms.CreateSnapshot(i, nil, nil)
	_, err := h.l.Compact(i, nil, nil)
	if !errors.Is(errMS, raft.ErrSnapOutOfDate) || !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("compact %d at or below snapshot %d: memory storage %v, log %v", i, first-1, errMS, err)
	}
	if h.l.Err() != nil {
		t.Fatalf("a refused compaction stopped the log: %v", h.l.Err())
	}
}

func (h *oracleHarness) actApplySnapshot(t *rapid.T) {
	first, last := h.bounds(t)
	idx := rapid.Uint64Range(first, last+3).Draw(t, "snapIndex")
	h.term += rapid.Uint64Range(0, 1).Draw(t, "termBump")
	snap := &pb.Snapshot{
		Data:     drawData(t, "snapData", 200),
		Metadata: &pb.SnapshotMetadata{Index: new(idx), Term: new(h.term), ConfState: drawConfState(t, "confState")},
	}
	if err := h.ms.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	r, err := h.l.Append(Batch{Snapshot: snap})
	h.run(t, r, err)
}

func (h *oracleHarness) actSnapshotStale(t *rapid.T) {
	first, _ := h.bounds(t)
	if first == 1 {
		t.Skip("no snapshot yet") // MemoryStorage accepts any snapshot then
	}
	idx := rapid.Uint64Range(0, first-1).Draw(t, "staleSnapIndex")
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(idx), Term: new(h.term), ConfState: &pb.ConfState{}}}
	errMS := h.ms.ApplySnapshot(snap)
	_, err := h.l.Append(Batch{Snapshot: snap})
	if !errors.Is(errMS, raft.ErrSnapOutOfDate) || !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("snapshot %d at or below %d: memory storage %v, log %v", idx, first-1, errMS, err)
	}
	if h.l.Err() != nil {
		t.Fatalf("a refused snapshot stopped the log: %v", h.l.Err())
	}
}

func (h *oracleHarness) actSetHardState(t *rapid.T) {
	hs := &pb.HardState{
		Term:   new(rapid.Uint64Range(max(h.hs.GetTerm(), 1), h.term+1).Draw(t, "term")),
		Vote:   new(rapid.Uint64Range(0, 3).Draw(t, "vote")),
		Commit: new(rapid.Uint64Range(h.hs.GetCommit(), h.hs.GetCommit()+5).Draw(t, "commit")),
	}
	h.hs = hs
	if err := h.ms.SetHardState(hs); err != nil {
		t.Fatal(err)
	}
	r, err := h.l.Append(Batch{HardState: hs})
	h.run(t, r, err)
}

func (h *oracleHarness) check(t *rapid.T) {
	first, last := h.bounds(t)
	if got, err := h.l.FirstIndex(); got != first || err != nil {
		t.Fatalf("first index %d %v, want %d", got, err, first)
	}
	if got, err := h.l.LastIndex(); got != last || err != nil {
		t.Fatalf("last index %d %v, want %d", got, err, last)
	}
	lo := uint64(0)
	if first > 3 {
		lo = first - 3
	}
	for i := lo; i <= last+2; i++ {
		want, errMS := h.ms.Term(i)
		got, err := h.l.Term(i)
		if got != want || !sameErr(err, errMS) {
			t.Fatalf("term(%d) = %d %v, want %d %v", i, got, err, want, errMS)
		}
	}
	for range 3 {
		h.checkEntries(t, first, last)
	}
	want, _ := h.ms.Snapshot()
	got, err := h.l.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if d := diffSnapshot(got, want); d != "" {
		t.Fatalf("snapshot: %s", d)
	}
	hsMS, csMS, _ := h.ms.InitialState()
	hs, cs, err := h.l.InitialState()
	if err != nil {
		t.Fatal(err)
	}
	if hs.GetTerm() != hsMS.GetTerm() || hs.GetVote() != hsMS.GetVote() || hs.GetCommit() != hsMS.GetCommit() {
		t.Fatalf("hard state %v, want %v", hs, hsMS)
	}
	if !proto.Equal(cs, pb.EnsureConfState(csMS)) {
		t.Fatalf("conf state %v, want %v", cs, csMS)
	}
}

func (h *oracleHarness) checkEntries(t *rapid.T, first, last uint64) {
	lo := rapid.Uint64Range(max(first, 2)-1, last+1).Draw(t, "lo")
	hi := rapid.Uint64Range(lo+1, last+2).Draw(t, "hi")
	maxSize := rapid.Uint64Range(0, 4000).Draw(t, "maxSize")
	if rapid.IntRange(0, 3).Draw(t, "unlimited") == 0 {
		maxSize = math.MaxUint64
	}
	got, err := h.l.Entries(lo, hi, maxSize)
	if hi > last+1 {
		// MemoryStorage panics here (unless lo is compacted, which it checks first).
		if err == nil || (lo < first && !errors.Is(err, raft.ErrCompacted)) {
			t.Fatalf("entries [%d,%d) beyond last %d: %d entries, %v", lo, hi, last, len(got), err)
		}
		return
	}
	want, errMS := h.ms.Entries(lo, hi, maxSize)
	if !sameErr(err, errMS) {
		t.Fatalf("entries [%d,%d) max %d: error %v, want %v", lo, hi, maxSize, err, errMS)
	}
	if len(got) != len(want) {
		t.Fatalf("entries [%d,%d) max %d: %d entries, want %d", lo, hi, maxSize, len(got), len(want))
	}
	for k := range got {
		if !proto.Equal(got[k], want[k]) {
			t.Fatalf("entries [%d,%d): entry %d is %v, want %v", lo, hi, lo+uint64(k), got[k], want[k])
		}
	}
}

func sameErr(err, want error) bool {
	switch {
	case want == nil:
		return err == nil
	case errors.Is(want, raft.ErrCompacted):
		return errors.Is(err, raft.ErrCompacted)
	case errors.Is(want, raft.ErrUnavailable):
		return errors.Is(err, raft.ErrUnavailable)
	}
	return err != nil
}

func diffSnapshot(got, want *pb.Snapshot) string {
	g, w := got.GetMetadata(), want.GetMetadata()
	if g.GetIndex() != w.GetIndex() || g.GetTerm() != w.GetTerm() || !bytes.Equal(got.GetData(), want.GetData()) ||
		!proto.Equal(pb.EnsureConfState(g.GetConfState()), pb.EnsureConfState(w.GetConfState())) {
		return fmt.Sprintf("%d/%d %dB %v, want %d/%d %dB %v", g.GetIndex(), g.GetTerm(), len(got.GetData()), g.GetConfState(),
			w.GetIndex(), w.GetTerm(), len(want.GetData()), w.GetConfState())
	}
	return ""
}
