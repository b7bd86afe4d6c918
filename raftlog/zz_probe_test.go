package raftlog

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

func probeFill(t *testing.T, l *Log, from, to, term uint64) {
	for i := from; i <= to; i++ {
		r, err := l.Append(Batch{Entries: []*pb.Entry{ent(i, term, rnd(i))}})
		mustRun(t, l, r, err)
	}
}

func rnd(i uint64) []byte {
	b := make([]byte, 300)
	x := i*2654435761 + 1
	for k := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[k] = byte(x)
	}
	return b
}

func TestProbeResetAfterRoll(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{SegmentBytes: 2048}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	probeFill(t, l, 1, 14, 1)
	r, err := l.Append(Batch{Snapshot: &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(20)), Term: new(uint64(2)), ConfState: &pb.ConfState{}}}})
	mustRun(t, l, r, err)
	l.Close()
	if _, err := Open(fs, "p", opts); err != nil {
		t.Fatal(err)
	}
}

func TestProbeRetentionAll(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{SegmentBytes: 2048}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	probeFill(t, l, 1, 12, 1)
	t.Logf("segs %d", len(l.segs))
	for _, s := range l.segs {
		t.Logf("seg %d [%d,%d]", s.gen, s.first, s.last)
	}
	r, err := l.Compact(l.segs[len(l.segs)-1].first, nil, []byte("x"))
	mustRun(t, l, r, err)
	r, err = l.DeleteBefore(100)
	mustRun(t, l, r, err)
	t.Logf("segs %d oldest %d", len(l.segs), l.OldestIndex())
	l.Close()
	if _, err := Open(fs, "p", opts); err != nil {
		t.Fatal(err)
	}
}

func TestProbeReset(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{SegmentBytes: 1 << 20}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	probeFill(t, l, 1, 5, 1)
	r, err := l.Append(Batch{Snapshot: &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(8)), Term: new(uint64(2)), ConfState: &pb.ConfState{}}}})
	mustRun(t, l, r, err)
	l.Close()
	if _, err := Open(fs, "p", opts); err != nil {
		t.Fatal(err)
	}
}

func TestProbeDeepTruncate(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{SegmentBytes: 2048}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	probeFill(t, l, 1, 14, 1)
	for _, s := range l.segs {
		t.Logf("seg %d [%d,%d]", s.gen, s.first, s.last)
	}
	act := l.active()
	cut := act.first - 2
	r, err := l.Append(Batch{Entries: []*pb.Entry{ent(cut, 2, []byte("y"))}})
	mustRun(t, l, r, err)
	r, err = l.Compact(5, nil, nil)
	mustRun(t, l, r, err)
	r, err = l.DeleteBefore(6)
	mustRun(t, l, r, err)
	t.Logf("delete round %v", r != nil)
	l.Close()
	if _, err := Open(fs, "p", opts); err != nil {
		t.Fatal(err)
	}
}
