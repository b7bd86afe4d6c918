package node

import "testing"

// Found by review of the first bounce limit (fixed: a group that comes back
// goes to another voter next). Two of three brokers stopping at once (e.g.
// a rolling restart's overlap, or two SIGTERMs): the third replica is alive
// and could take every group, but resignTarget named the same first
// in-sync follower each time, so the two stopping brokers hand groups to each other until
// maxResignBounces, then keep them: they stop as leaders and the live
// broker waits an election timeout per group.
func TestResignTwoOfThreeHandsToTheLiveBroker(t *testing.T) {
	c := newCluster(t, 4, 3)
	c.waitController()
	c.createTopic("r", 6, 3, nil)
	c.ticks(20)
	live := c.ids[2]
	stopping := c.ids[:2]
	for ticks := 0; ; ticks++ {
		left := 0
		for _, id := range stopping {
			left += c.nodes[id].Resign()
		}
		if left == 0 {
			break
		}
		if ticks >= 100 {
			t.Fatalf("still %d groups to hand over after %d ticks", left, ticks)
		}
		c.settle()
		c.tick()
	}
	c.settle()
	for _, p := range c.nodes[live].Partitions() {
		if p.Leader != uint64(live) {
			t.Errorf("group %v (%s) still led by %d, a stopping broker; broker %d is alive and in sync",
				p.Group, p.Topic, p.Leader, live)
		}
	}
}
