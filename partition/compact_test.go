package partition

import (
	"bytes"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// After compaction, a new replica receives the partition's state at the
// snapshot (offsets, epochs, idempotent producers) and the records after it,
// and agrees with the leader on everything.
func TestCompactThenJoin(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	for k := int32(0); k < 10; k++ {
		if r := c.send(uint64(k+1), idemBatch(2, "p", 5, 1, k*2)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	l := c.waitLeader()
	mid := l.applied - 3
	for _, id := range c.ids {
		w, err := c.parts[id].Compact(mid)
		if err != nil {
			t.Fatal(err)
		}
		c.parts[id].WriteDone(w, w.Round.Run(c.fs[id]))
	}
	if first, _ := l.log.FirstIndex(); first != mid+1 {
		t.Fatalf("first index %d after compaction to %d", first, mid)
	}
	c.fs[4] = vfs.NewMem(4)
	c.joining[4] = true
	c.incarnation[4] = [16]byte{4}
	c.ids = append(c.ids, 4)
	c.start(4)
	c.confChange(&pb.ConfChangeSingle{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: new(uint64(4))})
	for i := 0; i < 30; i++ {
		c.tick()
	}
	p4 := c.parts[4]
	l = c.waitLeader()
	if p4.appliedNext != l.appliedNext || p4.applied != l.applied {
		t.Fatalf("replica 4 at index %d offset %d, leader at %d %d", p4.applied, p4.appliedNext, l.applied, l.appliedNext)
	}
	var a, b []byte
	a = p4.producers.encode(a)
	b = l.producers.encode(b)
	if !bytes.Equal(a, b) {
		t.Fatalf("producer state differs: %x vs %x", a, b)
	}
	_, term := l.Leader()
	if e, end := p4.OffsetForLeaderEpoch(int32(term)); e != int32(term) || end != l.LogEndOffset() {
		t.Fatalf("replica 4 epoch cache: %d %d, want the current term %d and the log end %d", e, end, term, l.LogEndOffset())
	}
	// The retried batch is still recognised through the snapshot's state.
	if r := c.send(100, idemBatch(2, "p", 5, 1, 18)); r.Err != nil || r.BaseOffset != 18 {
		t.Fatalf("retry after compaction: %+v", r)
	}
}
