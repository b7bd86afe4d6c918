package partition

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
)

// A power loss that tears the bootstrap round after its snapshot frame (the
// applied-state and hard-state frames lost) leaves a log that never opens
// again: LastIndex is 1 so bootstrap is skipped, the applied index is 0, and
// deriveTail reads below the snapshot.
func TestRegressTornBootstrap(t *testing.T) {
	fs := vfs.NewMem(1)
	l, err := raftlog.Open(fs, "p0", raftlog.Options{SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(1)), Term: new(uint64(1)),
		ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}
	r, err := l.Append(raftlog.Batch{Snapshot: snap,
		HardState: &pb.HardState{Term: new(uint64(1)), Commit: new(uint64(1))},
		States:    []raftlog.State{{Kind: stateApplied, Data: encodeApplied(1, 0, 0, 0, nil, nil)}}})
	if err != nil {
		t.Fatal(err)
	}
	// Tear: the last two frames (state 17+1+16, hard state 17+24) never reach disk.
	w := &r.Writes[len(r.Writes)-1]
	w.Data = w.Data[:len(w.Data)-(17+1+16)-(17+24)]
	if err := r.Run(fs); err != nil {
		t.Fatal(err)
	}
	fs.CrashClean()
	l2, err := raftlog.Open(fs, "p0", raftlog.Options{SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatalf("raftlog reopen: %v", err)
	}
	last, _ := l2.LastIndex()
	hs, _, _ := l2.InitialState()
	t.Logf("after tear: last %d, states %d, hard state %v", last, len(l2.States()), hs)
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Open panicked: %v", r)
		}
	}()
	if _, err := Open(Config{ID: 1, Voters: []uint64{1, 2, 3}}, l2); err != nil {
		t.Fatalf("replica can never open again: %v", err)
	}
}
