package partition

import (
	"testing"
)

// Bug: offsetAfter(idx) for idx below marks[0].index returns the offset after
// the applied index, so the HW ignores min.insync.replicas > quorum.
func TestRegressMinISRIgnored(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 3}, 1, 2, 3)
	c.produce(1, 1, AcksAll)
	c.settle(1)
	if c.res[1].Err != nil {
		t.Fatalf("first produce: %v", c.res[1].Err)
	}
	l := c.waitLeader()
	f := c.firstFollower(l)
	c.down[f] = true // isolate follower f (no crash): its RecentActive is still true
	fLEO := c.parts[f].LogEndOffset()
	l.Produce(ProduceRequest{ID: 2, Batch: makeBatch(5, "x", 1), Acks: AcksAll})
	for i := 0; i < 50; i++ {
		c.tick()
	}
	r, answered := c.res[2]
	if !answered {
		return // waiting for the third copy, as it must
	}
	t.Logf("result %+v; follower %d LEO %d; leader hw", r, f, fLEO)
	if r.Err == nil && c.parts[f].LogEndOffset() <= r.BaseOffset {
		hw, _ := l.HighWatermark()
		t.Fatalf("acks=all with min.insync.replicas=3 acknowledged offset %d while replica %d has LEO %d; hw=%d", r.BaseOffset, f, c.parts[f].LogEndOffset(), hw)
	}
}
