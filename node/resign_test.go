package node

import "testing"

// Resign hands every leadership over by raft's leader transfer: within a
// few ticks — fewer than an election timeout, so no group waits for an
// election — the broker leads nothing and the others name a live leader
// for every group, the metadata group included. A group of one replica
// cannot move and is not counted.
func TestResign(t *testing.T) {
	c := newCluster(t, 1, 3)
	c.waitController()
	c.createTopic("r", 6, 3, nil)
	c.createTopic("solo", 1, 1, nil)
	c.ticks(20)
	led := func(id int32) (n int) {
		for _, p := range c.nodes[id].Partitions() {
			if p.Leader == uint64(id) {
				n++
			}
		}
		return n
	}
	victim := c.ids[0]
	for _, id := range c.ids {
		if led(id) > led(victim) {
			victim = id
		}
	}
	if led(victim) == 0 {
		t.Fatal("no broker leads anything")
	}
	soloOnVictim := 0
	for _, p := range c.nodes[victim].Partitions() {
		if p.Topic == "solo" && p.Leader == uint64(victim) {
			soloOnVictim = 1
		}
	}
	t.Logf("broker %d leads %d groups (%d of them cannot move)", victim, led(victim), soloOnVictim)
	ticks := 0
	for left := c.nodes[victim].Resign(); left > 0; left = c.nodes[victim].Resign() {
		c.settle()
		c.tick()
		if ticks++; ticks >= 10 {
			t.Fatalf("still leading %d groups after %d ticks (an election timeout)", left, ticks)
		}
	}
	c.settle()
	t.Logf("handed over in %d tick(s)", ticks)
	if got := led(victim); got != soloOnVictim {
		t.Fatalf("broker %d still leads %d groups after Resign returned 0", victim, got)
	}
	for _, id := range c.ids {
		if id == victim {
			continue
		}
		for _, p := range c.nodes[id].Partitions() {
			if p.Topic == "solo" {
				continue
			}
			if p.Leader == 0 || p.Leader == uint64(victim) {
				t.Errorf("broker %d sees group %v (%s) led by %d", id, p.Group, p.Topic, p.Leader)
			}
		}
	}
	// Resigning, the broker does not take leadership back.
	c.ticks(50)
	if got := led(victim); got != soloOnVictim {
		t.Errorf("50 ticks later broker %d leads %d groups again", victim, got)
	}
}

func TestResignTarget(t *testing.T) {
	for _, tc := range []struct {
		self                 uint64
		isr, voters, bounced []uint64
		want                 uint64
	}{
		{1, []uint64{1, 2, 3}, []uint64{1, 2, 3}, nil, 2},
		{2, []uint64{2, 3}, []uint64{1, 2, 3}, nil, 3},
		{1, []uint64{1}, []uint64{1, 2, 3}, nil, 2}, // no follower in sync: any voter
		{1, []uint64{1, 4}, []uint64{1, 2}, nil, 2}, // 4 is no voter (a learner)
		{1, nil, []uint64{1}, nil, 0},
		{1, []uint64{1, 2, 3}, []uint64{1, 2, 3}, []uint64{2}, 3},    // 2 handed it back
		{1, []uint64{1, 2}, []uint64{1, 2, 3}, []uint64{2}, 3},       // the one left, though out of sync
		{1, []uint64{1, 2, 3}, []uint64{1, 2, 3}, []uint64{2, 3}, 0}, // every other voter handed it back
	} {
		if got := resignTarget(tc.self, tc.isr, tc.voters, tc.bounced); got != tc.want {
			t.Errorf("resignTarget(%d, %v, %v, bounced %v) = %d, want %d", tc.self, tc.isr, tc.voters, tc.bounced, got, tc.want)
		}
	}
}

// TestResignWholeCluster: every broker resigning at once (a whole cluster
// stopped with SIGTERM) ends within a bounded number of ticks, each broker
// keeping what keeps coming back. Found by a README walkthrough: two
// `sluice serve` brokers stopped together handed the metadata group back
// and forth (term 62 to 302) until their 30 s shutdown deadlines.
func TestResignWholeCluster(t *testing.T) {
	c := newCluster(t, 2, 3)
	c.waitController()
	c.createTopic("r", 6, 3, nil)
	c.ticks(20)
	for ticks := 0; ; ticks++ {
		left := 0
		for _, id := range c.ids {
			left += c.nodes[id].Resign()
		}
		if left == 0 {
			t.Logf("every broker done resigning after %d ticks", ticks)
			break
		}
		if ticks >= 100 {
			t.Fatalf("after %d ticks the brokers still hand %d groups to each other", ticks, left)
		}
		c.settle()
		c.tick()
	}
}
