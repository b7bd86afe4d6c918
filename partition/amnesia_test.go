package partition

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// wipe destroys node id's disk and restarts it as a new incarnation.
func (c *cluster) wipe(id uint64) {
	c.fs[id] = vfs.NewMem(id + 100)
	c.joining[id] = true
	inc := c.incarnation[id]
	inc[0]++
	c.incarnation[id] = inc
	c.start(id)
}

// A replica whose disk was wiped must not vote under its old identity: it
// lost its vote and the entries it acknowledged. The leader re-adds it as a
// learner under its new incarnation and promotes it once caught up.
func TestWipedReplicaDoesNotVote(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	for id := uint64(1); id <= 10; id++ {
		if r := c.send(id, makeBatch(1, "x", 1)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	amnesicVotes := 0
	c.observe = func(m *pb.Message) {
		if m.GetFrom() == 3 && c.parts[3].amnesic && !m.GetReject() &&
			(m.GetType() == pb.MsgVoteResp || m.GetType() == pb.MsgPreVoteResp) {
			amnesicVotes++
		}
	}
	l := c.waitLeader()
	wiped := uint64(3)
	if l.cfg.ID == wiped {
		wiped = 2
	}
	other := 6 - l.cfg.ID - wiped
	c.wipe(wiped)
	// Without the leader, the remaining voter can only win with the wiped
	// replica's vote, which must not come.
	c.crash(l.cfg.ID)
	for i := 0; i < 100; i++ {
		c.tick()
	}
	if c.parts[other].isLeader() {
		t.Fatalf("replica %d became leader with the vote of wiped replica %d", other, wiped)
	}
	if amnesicVotes > 0 {
		t.Fatalf("wiped replica granted %d votes", amnesicVotes)
	}
	// The old leader returns; the wiped replica is re-added and promoted.
	c.start(l.cfg.ID)
	nl := c.waitLeader()
	nl.ReplaceIncarnation(wiped, c.incarnation[wiped])
	for i := 0; i < 200 && (c.parts[wiped].amnesic || len(c.waitLeader().ConfState().GetVoters()) != 3); i++ {
		c.tick()
	}
	if c.parts[wiped].amnesic {
		t.Fatal("wiped replica was never re-added under its new incarnation")
	}
	if cs := c.waitLeader().ConfState(); len(cs.GetVoters()) != 3 || len(cs.GetLearners()) != 0 {
		t.Fatalf("membership after re-add: %v", cs)
	}
	for id := uint64(11); id <= 15; id++ {
		if r := c.send(id, makeBatch(1, "y", 1)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	c.checkReplicasAgree()
	if p := c.parts[wiped]; p.appliedNext != 15 {
		t.Fatalf("re-added replica applied up to offset %d, want 15", p.appliedNext)
	}
	if amnesicVotes > 0 {
		t.Fatalf("wiped replica granted %d votes", amnesicVotes)
	}
}
