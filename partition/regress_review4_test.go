package partition

import "testing"

// A deposed leader's acks=all request whose entry survives and is applied
// never completes: hw is only updated on the leader.
func TestRegressDeposedLeaderAcksAllHangs(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.produce(1, 1, AcksAll)
	c.settle(1)
	for i := 0; i < 5; i++ {
		c.tick()
	}
	L := c.waitLeader()
	L.Produce(ProduceRequest{ID: 100, Batch: makeBatch(2, "P", 1), Acks: AcksAll})
	out := L.Ready()
	for _, w := range out.Writes {
		L.WriteDone(w, w.Round.Run(c.fs[L.cfg.ID]))
	}
	out2 := L.Ready()
	for _, o := range []Output{out, out2} {
		for _, m := range o.Messages {
			if err := c.parts[m.GetTo()].Step(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.down[L.cfg.ID] = true // followers' responses are lost; L is cut off
	for i := 0; i < 100; i++ {
		c.tick()
		if l := c.leader(); l != nil && l != L && l.applied > L.applied+1 {
			break
		}
	}
	c.down[L.cfg.ID] = false
	for i := 0; i < 100; i++ {
		c.tick()
	}
	pr := L.proposals
	_, ok := c.res[100]
	t.Logf("L leader=%v applied=%d; P completed=%v; waiting proposals=%d", L.isLeader(), L.applied, ok, len(pr))
	if !ok && len(pr) == 1 && pr[0].index <= L.applied {
		t.Fatalf("acks=all request at index %d (applied, same term %d) never completes on the deposed leader", pr[0].index, pr[0].term)
	}
}
