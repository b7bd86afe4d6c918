package node

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchBatches fetches topic/0 from offset 0 and decodes its batches.
func fetchBatches(t *testing.T, c *cluster, topic string) []kmsg.RecordBatch {
	t.Helper()
	f := c.do(1, fetchReq(12, topic, [16]byte{}, 0, 0, 0, 0, 1<<20, 1<<20)).(*kmsg.FetchResponse)
	var out []kmsg.RecordBatch
	for _, b := range splitBatches(t, f.Topics[0].Partitions[0].RecordBatches) {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, rb)
	}
	return out
}

// The LogAppendTime a produce response reports is the timestamp the leader
// stamped into the stored batch, after a quiet spell too (found by review:
// a quiesced partition, not ticked, stamped its stale clock).
func TestLogAppendTimeAfterQuiesce(t *testing.T) {
	c := newCluster(t, 73, 1)
	c.createTopic("lat", 1, 1, nil, "message.timestamp.type", "LogAppendTime")
	c.ticks(3)
	c.mustProduce(1, "lat", 0, makeBatch(1, "a", 5))
	c.ticks(600) // idle: the partition quiesces
	if !c.hostedOn(1, "lat", 0).p.Quiesced() {
		t.Log("partition did not quiesce")
	}
	op := c.produce(1, "lat", 0, makeBatch(1, "b", 5))
	checkCode(t, "produce", op.ErrorCode, nil)
	bs := fetchBatches(t, c, "lat")
	stored := bs[len(bs)-1].MaxTimestamp
	if stored != op.LogAppendTime {
		t.Fatalf("response LogAppendTime %d (now %d), stored record timestamp %d: %d ms stale", op.LogAppendTime, c.nowMs, stored, op.LogAppendTime-stored)
	}
}

// Default producer.id.expiration.ms (24 h): after a partition was idle for
// a day, a new idempotent producer's second batch, one tick after its
// first, is accepted (found by review: the quiesced partition stamped the
// first with the clock of a day ago, and the second was refused
// UNKNOWN_PRODUCER_ID).
func TestIdempotentProducerAfterIdleDay(t *testing.T) {
	c := newCluster(t, 73, 1)
	c.createTopic("t", 1, 1, nil)
	c.ticks(3)
	c.mustProduce(1, "t", 0, makeBatch(1, "old", 5))
	c.ticks(24*60*60*10 + 100) // a day and 10 s
	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipid.Version = 4
	pr := c.do(1, ipid).(*kmsg.InitProducerIDResponse)
	b := func(seq int32) []byte {
		return makeBatchWith(1, "x", 5, func(rb *kmsg.RecordBatch) {
			rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = pr.ProducerID, pr.ProducerEpoch, seq
		})
	}
	checkCode(t, "first batch", c.produce(1, "t", 0, b(0)).ErrorCode, nil)
	c.ticks(1)
	checkCode(t, "second batch, 100 ms later", c.produce(1, "t", 0, b(1)).ErrorCode, nil)
}
