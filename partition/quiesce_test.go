package partition

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

func TestIdlePartitionQuiesces(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	if r := c.send(1, makeBatch(1, "a", 1)); r.Err != nil {
		t.Fatal(r.Err)
	}
	for i := 0; i < 40; i++ {
		c.tick()
	}
	for _, id := range c.ids {
		if !c.parts[id].Quiesced() {
			t.Fatalf("replica %d still ticking after 40 idle ticks", id)
		}
		if out := c.parts[id].Ready(); out.NeedsTick || len(out.Messages) > 0 || len(out.Writes) > 0 {
			t.Fatalf("quiesced replica %d: %+v", id, out)
		}
	}
	sent := 0
	c.observe = func(*pb.Message) { sent++ }
	for i := 0; i < 100; i++ {
		c.tick()
	}
	if sent != 0 {
		t.Fatalf("quiesced partition sent %d messages in 100 ticks", sent)
	}
	c.observe = nil
	// A produce wakes it.
	if r := c.send(2, makeBatch(1, "b", 1)); r.Err != nil || r.BaseOffset != 1 {
		t.Fatalf("produce after quiescence: %+v", r)
	}
	// The leader dies while everyone is quiesced: nobody notices until
	// node-level liveness wakes the followers; then they elect.
	for i := 0; i < 40; i++ {
		c.tick()
	}
	l := c.waitLeader()
	c.noLiveness = true
	c.down[l.cfg.ID] = true
	for i := 0; i < 100; i++ {
		c.tick()
	}
	for _, id := range c.ids {
		if id != l.cfg.ID && c.parts[id].isLeader() {
			t.Fatalf("quiesced follower %d elected itself without being woken", id)
		}
	}
	for _, id := range c.ids {
		if id != l.cfg.ID {
			c.parts[id].Wake()
		}
	}
	nl := c.waitLeader()
	if nl.cfg.ID == l.cfg.ID {
		t.Fatal("the dead leader is still the leader")
	}
	if r := c.send(3, makeBatch(1, "c", 1)); r.Err != nil || r.BaseOffset != 2 {
		t.Fatalf("produce to the new leader: %+v", r)
	}
}
