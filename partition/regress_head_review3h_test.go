package partition

import "testing"

func TestRegressStuckProposalOverStampsHEAD(t *testing.T) {
	c, L, N := stuckProposal(t)
	for i := 0; i < 30; i++ {
		c.tick()
	}
	if r, done := c.res[100]; !done || r.Err == nil {
		t.Fatalf("P, truncated before it reached a Ready, completed=%v with %+v; want NOT_LEADER_OR_FOLLOWER", done, r)
	}
	N.TransferLeadership(L.cfg.ID)
	for i := 0; i < 50 && !L.isLeader(); i++ {
		c.tick()
	}
	if !L.isLeader() {
		t.Skip("transfer failed")
	}
	for i := 0; i < 5; i++ {
		c.tick()
	}
	t.Logf("L leads again: leo %d uncommittedProposed %d ISR %v", L.leo, L.uncommittedProposed(), L.ISR())
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("PANIC: %v", r)
		}
	}()
	L.Produce(ProduceRequest{ID: 200, Batch: makeBatch(1, "Q", 1), Acks: AcksAll})
	c.settle(200)
	if r := c.res[200]; r.Err != nil || r.BaseOffset != L.LogEndOffset()-1 {
		t.Fatalf("Q after L leads again: %+v, log end offset %d", r, L.LogEndOffset())
	}
}
