package partition

import "testing"

// HEAD: a follower is "caught up" only if Match >= leader's last index at a
// tick; under steady load with a produce between ticks it never is.
func TestRegressISRShrinksUnderLoad(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2, ReplicaLagTicks: 20}, 1, 2, 3)
	l := c.waitLeader()
	for i := 0; i < 30; i++ {
		c.tick()
	}
	for i := 0; i < 60; i++ {
		l.Produce(ProduceRequest{ID: uint64(1000 + i), Batch: makeBatch(1, "x", 1), Acks: AcksLeader})
		c.step() // the leader appends; followers receive, respond next step
		for _, id := range c.ids {
			c.parts[id].Tick(int64(i))
		}
		c.step()
		c.step()
	}
	t.Logf("ISR %v (all replicas healthy, acks within 2 steps)", l.ISR())
	if len(l.ISR()) < 3 {
		t.Fatalf("healthy followers dropped from the ISR under steady load: %v", l.ISR())
	}
}
