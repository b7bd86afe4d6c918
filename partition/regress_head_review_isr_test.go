package partition

import "testing"

// HEAD: caughtUp is rebuilt only in Tick, so a freshly elected leader has an
// ISR of itself until its first tick as leader.
func TestRegressNewLeaderISR(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.send(1, makeBatch(1, "x", 1))
	old := c.waitLeader()
	c.down[old.cfg.ID] = true
	for i := 0; i < 300; i++ {
		for _, id := range c.ids {
			if c.down[id] {
				continue
			}
			c.parts[id].Tick(0)
			c.step()
			if l := c.leader(); l != nil && l != old {
				t.Logf("new leader %d ISR %v insync %d required %d", l.cfg.ID, l.ISR(), l.insync(), l.requiredReplicas())
				l.Produce(ProduceRequest{ID: 2, Batch: makeBatch(1, "x", 1), Acks: AcksAll})
				c.settle(2)
				if c.res[2].Err != nil {
					t.Fatalf("healthy new leader (2 of 3 up, min.insync 2) refuses acks=all: %+v", c.res[2])
				}
				return
			}
		}
	}
}
