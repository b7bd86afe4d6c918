package partition

import (
	"fmt"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// deposeLeader cuts the leader L off without its noticing (it does not
// tick) until another leader N has applied past L's last index k, and
// returns the MsgApp with which N overwrites L's log after k.
func (c *cluster) deposeLeader() (L, N *Partition, overwrite *pb.Message) {
	c.t.Helper()
	for i := 0; i < 5; i++ {
		c.tick()
	}
	L = c.waitLeader()
	k, _ := L.log.LastIndex()
	T, _ := L.log.Term(k)
	c.down[L.cfg.ID] = true
	for i := 0; i < 300 && N == nil; i++ {
		c.tick()
		if l := c.leader(); l != nil && l != L && l.applied > k {
			N = l
		}
	}
	if N == nil {
		c.t.Fatal("no new leader")
	}
	_, NT := N.Leader()
	ents, err := N.log.ReadEntries(k+1, k+2, 1<<20)
	if err != nil {
		c.t.Fatal(err)
	}
	return L, N, &pb.Message{Type: pb.MsgApp.Enum(), From: new(N.cfg.ID), To: new(L.cfg.ID), Term: new(NT),
		LogTerm: new(T), Index: new(k), Entries: ents, Commit: new(k)}
}

// stuckProposal: leader L proposes P; before L's next Ready, the new leader
// N's MsgApp truncates P out of raft's unstable log. P keeps index 0.
func stuckProposal(t *testing.T) (*cluster, *Partition, *Partition) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.produce(1, 1, AcksAll)
	c.settle(1)
	c.produce(2, 1, AcksAll)
	c.settle(2)
	L, N, m := c.deposeLeader()
	// L still believes it leads (it has not ticked): it takes P.
	L.Produce(ProduceRequest{ID: 100, Batch: makeBatch(3, "P", 1), Acks: AcksLeader})
	if len(L.proposals) != 1 {
		t.Fatalf("P not proposed: %+v", L.out.Results)
	}
	// N's append reaches L before L's next Ready (same loop iteration).
	if err := L.Step(m); err != nil {
		t.Fatal(err)
	}
	c.down[L.cfg.ID] = false
	return c, L, N
}

// P never completes (index 0 forever) and inflates L's stamps if L leads again.
func TestRegressStuckProposalOverStamps(t *testing.T) {
	c, L, _ := stuckProposal(t)
	for i := 0; i < 50; i++ {
		c.tick()
	}
	if r, ok := c.res[100]; ok {
		t.Logf("P completed: %+v", r)
	} else {
		t.Logf("P never completed; L.proposals=%d index=%d", len(L.proposals), L.proposals[0].index)
	}
	// Make L the leader again.
	for attempt := 0; attempt < 20; attempt++ {
		l := c.waitLeader()
		if l == L {
			break
		}
		for _, id := range c.ids {
			c.down[id] = false
		}
		for i := 0; i < 20; i++ {
			c.tick()
		}
		if l = c.waitLeader(); l == L {
			break
		}
		c.down[l.cfg.ID] = true
		for i := 0; i < 40; i++ {
			c.tick()
		}
	}
	for _, id := range c.ids {
		c.down[id] = false
	}
	if c.waitLeader() != L {
		t.Skip("L not re-elected")
	}
	t.Logf("L leads again: leo %d uncommittedProposed %d", L.leo, L.uncommittedProposed())
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("PANIC: %v", r)
		}
	}()
	L.Produce(ProduceRequest{ID: 200, Batch: makeBatch(1, "Q", 1), Acks: AcksAll})
	c.settle(200)
	t.Logf("Q result %+v", c.res[200])
}

// A stale index-0 proposal on a deposed leader matches another leader's entry
// by proposal id (pids restart at 1 on each node): false success.
func TestRegressPidCollisionFalseSuccess(t *testing.T) {
	c, L, N := stuckProposal(t)
	pid := L.proposals[0].pid
	t.Logf("P pid %d; N.nextPID %d", pid, N.nextPID)
	for id := uint64(300); id < 305; id++ {
		N.Produce(ProduceRequest{ID: id, Batch: makeBatch(1, fmt.Sprintf("N%d", id), 1), Acks: AcksAll})
		c.settle(id)
		t.Logf("N produced %d: %+v", id, c.res[id])
	}
	for i := 0; i < 20; i++ {
		c.tick()
	}
	r, ok := c.res[100]
	t.Logf("P result present=%v %+v", ok, r)
	if ok && r.Err == nil {
		bs, _ := c.waitLeader().Read(r.BaseOffset, 1)
		t.Fatalf("P (3 records 'P') reported success at offset %d; the log holds there: %q", r.BaseOffset, bs)
	}
}
