package raftlog

import (
	"bytes"
	_ "fmt"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

func appendN(t *testing.T, l *Log, from, to, term uint64, size int) {
	t.Helper()
	for i := from; i <= to; i++ {
		r, err := l.Append(Batch{Entries: []*pb.Entry{ent(i, term, bytes.Repeat([]byte{byte(i)}, size))},
			HardState: &pb.HardState{Term: new(term), Vote: new(uint64(2)), Commit: new(i)}})
		mustRun(t, l, r, err)
	}
}

func logSegs(t *testing.T, l *Log) {
	t.Helper()
	for _, s := range l.segs {
		t.Logf("  seg %d [%d,%d] size %d sealed %v", s.gen, s.first, s.last, s.size, s.sealed)
	}
}

func TestReadAfterReopenOneClosed(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{SegmentBytes: 1 << 20, TailCacheBytes: 1}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 10, 1, 100)
	l.Close()
	l, err = Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Entries(1, 11, 1<<30); err != nil {
		t.Fatalf("Entries after reopen: %v", err)
	}
}

func TestReopenAfterReset(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{SegmentBytes: 4096}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 60, 1, 100)
	snap := &pb.Snapshot{Data: []byte("s"), Metadata: &pb.SnapshotMetadata{Index: new(uint64(1000)), Term: new(uint64(3)), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}
	r, err := l.Append(Batch{Snapshot: snap, HardState: &pb.HardState{Term: new(uint64(3)), Vote: new(uint64(2)), Commit: new(uint64(1000))}})
	mustRun(t, l, r, err)
	l.Close()
	for i := 0; i < 3; i++ {
		l, err = Open(fs, "p", opts)
		if err != nil {
			t.Fatalf("reopen %d after reset: %v", i, err)
		}
		if fi, _ := l.FirstIndex(); fi != 1001 {
			t.Fatalf("first %d", fi)
		}
		l.Close()
	}
}

func TestReopenAfterDeleteAllClosed(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{SegmentBytes: 4096}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 100, 1, 100)
	var closedLast uint64
	for _, s := range l.segs[:len(l.segs)-1] {
		closedLast = s.last
	}
	r, err := l.Compact(closedLast, nil, []byte("state"))
	mustRun(t, l, r, err)
	r, err = l.DeleteBefore(closedLast + 1)
	mustRun(t, l, r, err)
	l.Close()
	for i := 0; i < 3; i++ {
		l, err = Open(fs, "p", opts)
		if err != nil {
			t.Fatalf("reopen after DeleteBefore: %v", err)
		}
		got, err := l.Entries(closedLast+1, 101, 1<<30)
		if err != nil || len(got) != int(100-closedLast) {
			t.Fatalf("entries %d %v", len(got), err)
		}
		l.Close()
	}
}

// A bit flip in a durable frame of the active segment, below a later sync
// mark, is silently treated as a torn tail.
func TestCorruptionBelowWatermarkFailsOpen(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 50, 1, 100)
	r, err := l.Append(Batch{HardState: &pb.HardState{Term: new(uint64(7)), Vote: new(uint64(3)), Commit: new(uint64(50))}})
	mustRun(t, l, r, err)
	act := l.active()
	path, pos := act.path, act.dense[10].pos // entry 11
	l.Close()
	f, _ := fs.OpenReadWrite(path)
	b := make([]byte, 1)
	f.ReadAt(b, pos+20)
	b[0] ^= 0x40
	f.WriteAt(b, pos+20)
	f.Sync()
	f.Close()
	l, err = Open(fs, "p", opts)
	if err == nil {
		li, _ := l.LastIndex()
		hs, _, _ := l.InitialState()
		t.Fatalf("opened despite corruption below watermark: last index %d (was 50), hard state %v (was term 7 vote 3)", li, hs)
	}
	t.Logf("ok: %v", err)
}
