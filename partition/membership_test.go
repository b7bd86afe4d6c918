package partition

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

func (c *cluster) confChange(changes ...*pb.ConfChangeSingle) {
	c.t.Helper()
	l := c.waitLeader()
	if err := l.ProposeConfChange(&pb.ConfChangeV2{Changes: changes}); err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		c.tick()
	}
}

func change(t pb.ConfChangeType, id uint64) *pb.ConfChangeSingle {
	return &pb.ConfChangeSingle{Type: t.Enum(), NodeId: new(id)}
}

// A reassignment: add replica 4 as a learner, let it catch up, promote it,
// remove replica 3; the partition keeps serving and 4 holds every record.
func TestReassignReplica(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	for id := uint64(1); id <= 10; id++ {
		if r := c.send(id, makeBatch(2, "before", 1)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	c.fs[4] = vfs.NewMem(4)
	c.joining[4] = true
	c.ids = append(c.ids, 4)
	c.start(4)
	c.confChange(change(pb.ConfChangeAddLearnerNode, 4))
	c.confChange(change(pb.ConfChangeAddNode, 4))
	if cs := c.waitLeader().ConfState(); len(cs.GetVoters()) != 4 {
		t.Fatalf("voters after promotion: %v", cs.GetVoters())
	}
	c.confChange(change(pb.ConfChangeRemoveNode, 3))
	c.down[3] = true // removed: stop driving it
	for id := uint64(11); id <= 15; id++ {
		if r := c.send(id, makeBatch(2, "after", 1)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	l := c.waitLeader()
	if cs := l.ConfState(); len(cs.GetVoters()) != 3 {
		t.Fatalf("voters after removal: %v", cs.GetVoters())
	}
	c.checkReplicasAgree()
	p4 := c.parts[4]
	if p4.appliedNext != l.appliedNext || p4.appliedNext != 30 {
		t.Fatalf("replica 4 applied up to offset %d, leader %d, want 30", p4.appliedNext, l.appliedNext)
	}
	// Replica 4 restarts from its own disk with the membership it applied.
	c.crash(4)
	c.start(4)
	if cs := c.parts[4].ConfState(); len(cs.GetVoters()) != 3 {
		t.Fatalf("replica 4 restarted with voters %v", cs.GetVoters())
	}
}
