package partition

import "testing"

// Bug: ownTermCommitted is set on followers (applying the leader's no-op of
// the current term) and never reset, so a new leader reports ok=true with a
// stale high watermark before committing in its own term (KIP-207).
func TestRegressKIP207StaleHW(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	for id := uint64(1); id <= 5; id++ {
		c.produce(id, 2, AcksAll)
		c.settle(id)
	}
	old := c.waitLeader()
	for i := 0; i < 5; i++ {
		c.tick()
	}
	H, _ := old.HighWatermark()
	t.Logf("old leader %d hw %d", old.cfg.ID, H)
	c.down[old.cfg.ID] = true
	for i := 0; i < 200; i++ {
		c.tick()
		if l := c.leader(); l != nil && l != old {
			hw, ok := l.HighWatermark()
			_, term := l.Leader()
			t.Logf("tick %d: new leader %d term %d hw %d ok %v applied %d", i, l.cfg.ID, term, hw, ok, l.applied)
			if ok && hw < H {
				t.Fatalf("new leader %d reports high watermark %d (ok) < previous %d", l.cfg.ID, hw, H)
			}
			if ok {
				return
			}
		}
	}
}
