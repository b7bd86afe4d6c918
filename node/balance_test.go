package node

import "testing"

// Leadership that moved away from a partition's preferred replica goes
// back to it at the next balance check once it is in sync, by leader
// transfer.
func TestPreferredLeaderBalance(t *testing.T) {
	c := newCluster(t, 5, 3, func(cfg *Config) { cfg.LeaderBalanceTicks = 50 })
	ti := c.createTopic("pref", 1, 3, [][]int32{{1, 2, 3}})
	c.ticks(10)
	if l := c.leaderOf("pref", 0); l != 1 {
		t.Fatalf("leader %d of a new partition, want its first replica 1", l)
	}
	g := c.nodes[1].group(ti, 0)
	c.nodes[1].hosts[g].p.TransferLeadership(2)
	c.ticks(5)
	if l := c.leaderOf("pref", 0); l != 2 {
		t.Fatalf("leader %d after a transfer to 2", l)
	}
	c.ticks(60)
	if l := c.leaderOf("pref", 0); l != 1 {
		t.Fatalf("leader %d after a balance check, want the preferred replica 1", l)
	}
	c.mustProduce(1, "pref", 0, makeBatch(1, "x", 1))
}
