package raftlog

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

func TestCompactKeepsExplicitConfState(t *testing.T) {
	fs := vfs.NewMem(1)
	l, _ := Open(fs, "p", Options{})
	appendN(t, l, 1, 10, 1, 10)
	r, err := l.Append(Batch{ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}) // applied conf change at 10
	mustRun(t, l, r, err)
	r, err = l.Compact(5, &pb.ConfState{Voters: []uint64{1}}, nil) // conf state as of index 5
	mustRun(t, l, r, err)
	_, cs, _ := l.InitialState()
	if len(cs.Voters) != 3 {
		t.Fatalf("InitialState conf state after Compact(5): %v (latest applied was voters 1,2,3)", cs)
	}
}
