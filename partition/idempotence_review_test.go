package partition

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A retry of an acks=all batch that failed with NOT_ENOUGH_REPLICAS_AFTER_APPEND
// (committed on a quorum, short of min.insync.replicas) is not
// acknowledged while the ISR is still below min.insync.replicas: as Kafka
// (Partition.appendRecordsToLeader checks min ISR before the log's
// duplicate detection), the retry gets NOT_ENOUGH_REPLICAS. Found by
// review: it was answered a success.
func TestDuplicateRefusedBelowMinInsync(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 3, ReplicaLagTicks: 10}, 1, 2, 3)
	l := c.waitLeader()
	victim := c.firstFollower(l)
	c.crash(victim) // still in the ISR until it lags ReplicaLagTicks
	l.Produce(ProduceRequest{ID: 1, Batch: idemBatch(1, "x", 42, 0, 0), Acks: AcksAll})
	for i := 0; i < 100 && c.res[1] == (ProduceResult{}); i++ {
		c.tick()
	}
	r := c.res[1]
	if !errors.Is(r.Err, kerr.NotEnoughReplicasAfterAppend) {
		t.Fatalf("first attempt: %+v, want NOT_ENOUGH_REPLICAS_AFTER_APPEND", r)
	}
	// Fresh batch: refused, the ISR is 2 < 3.
	if r := c.send(2, idemBatch(1, "other", 43, 0, 0)); !errors.Is(r.Err, kerr.NotEnoughReplicas) {
		t.Fatalf("new batch: %+v, want NOT_ENOUGH_REPLICAS", r)
	}
	// The client retries the same batch: the record is on 2 disks only.
	if r := c.send(3, idemBatch(1, "x", 42, 0, 0)); r.Err == nil {
		t.Fatalf("retry acknowledged at offset %d with acks=all while the ISR (%d) is below min.insync.replicas 3", r.BaseOffset, c.waitLeader().insync())
	}
}

// Kafka's LogValidator.validateBatch refuses a client batch that has a
// producer id but a negative base sequence with INVALID_RECORD.
func TestIdempotentBatchWithoutSequence(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	if r := c.send(1, idemBatch(1, "x", 9, 0, -1)); !errors.Is(r.Err, kerr.InvalidRecord) {
		t.Errorf("unknown producer, sequence -1: %v, want INVALID_RECORD", r.Err)
	}
	if r := c.send(2, idemBatch(1, "x", 9, 0, 0)); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := c.send(3, idemBatch(1, "x", 9, 0, -1)); !errors.Is(r.Err, kerr.InvalidRecord) {
		t.Errorf("known producer, sequence -1: %v, want INVALID_RECORD", r.Err)
	}
}

// nodeTick is the broker's tick (node.Tick): a quiesced replica is not
// ticked, only given the time (SetClock).
func (c *cluster) nodeTick() {
	c.nowMs += 100
	for _, id := range c.ids {
		switch {
		case c.down[id]:
		case !c.parts[id].Quiesced():
			c.parts[id].Tick(c.nowMs)
		default:
			c.parts[id].SetClock(c.nowMs)
		}
	}
	c.step()
}

func (c *cluster) nodeSend(id uint64, batch []byte) ProduceResult {
	c.t.Helper()
	c.leader().Produce(ProduceRequest{ID: id, Batch: batch, Acks: AcksAll})
	for i := 0; i < 200; i++ {
		if r, ok := c.res[id]; ok {
			return r
		}
		c.step()
		if i%5 == 4 {
			c.nodeTick()
		}
	}
	c.t.Fatalf("request %d not answered", id)
	return ProduceResult{}
}

// A produce that wakes a quiesced leader is stamped with the current time,
// which the node gives it (SetClock) while it is not ticked. Found by
// review: it was stamped with the clock of its last tick, so the producer
// looked idle since the partition went quiet and was expired
// (UNKNOWN_PRODUCER_ID) long before producer.id.expiration.ms.
func TestQuiescedPartitionStampsCurrentTime(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2, ProducerExpiryMs: 10_000}, 1, 2, 3)
	c.waitLeader()
	if r := c.nodeSend(1, idemBatch(1, "a", 7, 0, 0)); r.Err != nil {
		t.Fatal(r.Err)
	}
	for i := 0; i < 200; i++ { // 20 s idle: the partition quiesces early on
		c.nodeTick()
	}
	if !c.leader().Quiesced() {
		t.Fatal("leader did not quiesce")
	}
	start := c.nowMs
	if r := c.nodeSend(2, idemBatch(1, "p0", 9, 0, 0)); r.Err != nil { // producer 9's first write
		t.Fatal(r.Err)
	}
	// Another producer keeps the partition busy for 3 s.
	for k := int32(0); k < 6; k++ {
		if r := c.nodeSend(uint64(10+k), idemBatch(1, "q", 11, 0, k)); r.Err != nil {
			t.Fatal(r.Err)
		}
		for i := 0; i < 5; i++ {
			c.nodeTick()
		}
	}
	idle := c.nowMs - start
	if r := c.nodeSend(30, idemBatch(1, "p1", 9, 0, 1)); r.Err != nil {
		t.Fatalf("producer 9, idle %d ms of a 10000 ms expiry, next batch: %v", idle, r.Err)
	}
}
