package partition

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// The leader accepts MsgProp from the network: an unstamped/mis-stamped batch
// from a peer bypasses validation and stamping, and every replica panics at apply.
func TestRegressPeerMsgProp(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	l := c.waitLeader()
	var f uint64
	for _, id := range c.ids {
		if id != l.cfg.ID {
			f = id
		}
	}
	b := makeBatch(1, "x", 1)
	stamp(b, 999, 1)
	m := &pb.Message{Type: pb.MsgProp.Enum(), From: new(f), To: new(l.cfg.ID),
		Entries: []*pb.Entry{{Data: encodeEnvelope(77, 0, b)}}}
	if err := l.Step(m); err != nil {
		t.Logf("rejected: %v", err)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("peer MsgProp accepted; panic at apply: %v", r)
		}
	}()
	for i := 0; i < 10; i++ {
		c.step()
	}
}
