package raftlog

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// Conflicting append right after a reopen (fresh active segment, no entry
// frames yet) reaching into a closed segment: no roll, so the active
// segment's header says next=21 but its first entry is 15. Once retention
// removes every closed segment, startAt trusts the header and the log no
// longer opens.
func TestConflictInFreshSegmentThenRetention(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{SegmentBytes: 1 << 20}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 20, 1, 100)
	l.Close()
	l, err = Open(fs, "p", opts) // rolls: closed [1..20], fresh active
	if err != nil {
		t.Fatal(err)
	}
	logSegs(t, l)
	r, err := l.Append(Batch{Entries: []*pb.Entry{ent(15, 2, []byte("a")), ent(16, 2, []byte("b")), ent(17, 2, []byte("c"))},
		HardState: &pb.HardState{Term: new(uint64(2)), Commit: new(uint64(17))}})
	mustRun(t, l, r, err)
	logSegs(t, l)
	r, err = l.Compact(16, nil, []byte("snap"))
	mustRun(t, l, r, err)
	r, err = l.DeleteBefore(17)
	mustRun(t, l, r, err)
	logSegs(t, l)
	l.Close()
	l, err = Open(fs, "p", opts)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	got, err := l.Entries(17, 18, 1<<20)
	if err != nil || len(got) != 1 || string(got[0].GetData()) != "c" {
		t.Fatalf("entries %v %v", got, err)
	}
}
