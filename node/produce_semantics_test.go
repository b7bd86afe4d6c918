package node

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A zstd batch in a produce request below v7 is UNSUPPORTED_COMPRESSION_TYPE
// (zstd arrived with produce v7, KIP-110) and nothing is appended, as
// Kafka's ProduceRequest.validateRecords (found by review: it was
// appended).
func TestProduceZstdBelowV7(t *testing.T) {
	c, _ := oneBroker(t)
	for _, v := range []int16{3, 6} {
		resp := c.do(1, produceReq(v, -1, 5000, "t", [16]byte{}, map[int32][]byte{0: compressBatch(t, 4, 2, "z")})).(*kmsg.ProduceResponse)
		checkCode(t, "zstd batch in produce v"+string(rune('0'+v)), resp.Topics[0].Partitions[0].ErrorCode, kerr.UnsupportedCompressionType)
	}
	if got := c.hostedOn(1, "t", 0).p.LogEndOffset(); got != 0 {
		t.Errorf("log end offset %d after refused zstd produce below v7, want 0", got)
	}
}

// Clients may not produce to __consumer_offsets, by name or by id;
// acks=0 closes the connection.
func TestProduceToOffsetsTopicRefused(t *testing.T) {
	c := newCluster(t, 1, 1)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g"
	c.do(1, fc)
	c.ticks(30)
	ot := c.topic(1, OffsetsTopic)
	if ot == nil {
		t.Fatal("no offsets topic")
	}
	r := c.do(1, produceReq(12, -1, 5000, OffsetsTopic, [16]byte{}, map[int32][]byte{0: makeBatch(1, "x", 1)})).(*kmsg.ProduceResponse)
	checkCode(t, "v12", r.Topics[0].Partitions[0].ErrorCode, kerr.InvalidTopicException)
	r = c.do(1, produceReq(13, -1, 5000, "", ot.id, map[int32][]byte{0: makeBatch(1, "x", 1)})).(*kmsg.ProduceResponse)
	checkCode(t, "v13", r.Topics[0].Partitions[0].ErrorCode, kerr.InvalidTopicException)
	k := c.handle(1, produceReq(12, 0, 5000, OffsetsTopic, [16]byte{}, map[int32][]byte{0: makeBatch(1, "x", 1)}))
	c.settle()
	if rr, ok := c.answered(k); !ok || !rr.Close {
		t.Errorf("acks=0 to offsets topic: answered %v close %v", ok, rr.Close)
	}
}

// A failed partition's answer reports no append time and no log start
// (-1), as Kafka's UNKNOWN_LOG_APPEND_INFO (found by review: a time never
// stamped into the log was reported).
func TestProduceErrorFields(t *testing.T) {
	c := newCluster(t, 73, 1)
	c.createTopic("lat", 1, 1, nil, "message.timestamp.type", "LogAppendTime")
	c.ticks(3)
	b := makeBatch(1, "x", 1)
	b[len(b)-1] ^= 1
	op := c.produce(1, "lat", 0, b)
	checkCode(t, "bad CRC", op.ErrorCode, kerr.CorruptMessage)
	// Kafka answers a failed partition with LogAppendInfo.UNKNOWN_LOG_APPEND_INFO:
	// base offset, log append time and log start offset all -1.
	if op.BaseOffset != -1 || op.LogAppendTime != -1 || op.LogStartOffset != -1 {
		t.Errorf("failed produce: base %d, LogAppendTime %d, LogStartOffset %d; want -1, -1, -1",
			op.BaseOffset, op.LogAppendTime, op.LogStartOffset)
	}
}
