package partition

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// A wiped follower rejects every append at or below the match index its
// leader still holds for its old self, and raft answers such a reject with
// the same probe at once: until the re-add, the two exchanged messages as
// fast as the network carried them, and the follower wrote a round for
// each. (In an in-process cluster under testing/synctest no clock advanced
// while they did, so the announcement that starts the re-add never went
// out.) The leader probes such a follower once per heartbeat instead.
func TestWipedFollowerProbedPerHeartbeat(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.sendRecords(1, 10, "x")
	l := c.waitLeader()
	wiped := l.cfg.ID%3 + 1
	// It misses records while down, then comes back with its disk wiped:
	// the leader holds a match index below its last index for it.
	c.crash(wiped)
	c.sendRecords(11, 15, "y")
	c.wipe(wiped)
	sent := 0
	c.observe = func(m *pb.Message) {
		if m.GetFrom() == wiped || m.GetTo() == wiped {
			sent++
		}
	}
	for i := 0; i < 30; i++ {
		c.tick()
		// The network delivers without delay: between two ticks the
		// exchange must die down.
		quiet := false
		for s := 0; s < 50 && !quiet; s++ {
			before := sent
			c.step()
			quiet = sent == before
		}
		if !quiet {
			t.Fatalf("tick %d: leader %d and wiped replica %d still exchange messages after 50 deliveries without a tick", i, l.cfg.ID, wiped)
		}
	}
	if !c.parts[wiped].Amnesic() || c.waitLeader() != l {
		t.Fatalf("after the wipe: amnesic %v, leader %d (was %d)", c.parts[wiped].Amnesic(), c.waitLeader().cfg.ID, l.cfg.ID)
	}
	// The re-add still goes through.
	l.ReplaceIncarnation(wiped, c.incarnation[wiped])
	w := c.parts[wiped]
	for i := 0; i < 200 && (w.Amnesic() || len(l.ConfState().GetVoters()) != 3); i++ {
		c.tick()
	}
	if w.Amnesic() || len(l.ConfState().GetVoters()) != 3 {
		t.Fatalf("not re-added: amnesic %v, membership %v", w.Amnesic(), l.ConfState())
	}
	c.checkReplicasAgree()
}
