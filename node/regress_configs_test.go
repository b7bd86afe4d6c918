package node

// Found by review of the config APIs (fixed): max.message.bytes accepted
// values up to 64 MiB, but a batch near that size is more than a log frame
// and a raft message can carry (a 64 MiB batch stopped the leader's
// replica; one 80 bytes smaller was stored and never replicated, and the
// partition refused every acks=all produce until its leader changed); and
// min.insync.replicas above the replication factor was refused, where
// Kafka creates the topic and refuses acks=all produce.

import (
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/partition"
)

// batchOfSize is one uncompressed batch of one record, exactly size bytes.
func batchOfSize(t *testing.T, size int) []byte {
	t.Helper()
	over := len(makeBatch(1, strings.Repeat("x", size-512), 1000)) - (size - 512)
	for _, o := range []int{over, over + 1, over - 1} {
		if b := makeBatch(1, strings.Repeat("x", size-o), 1000); len(b) == size {
			return b
		}
	}
	t.Fatalf("cannot build a batch of %d bytes", size)
	return nil
}

func createTopicWithConfig(t *testing.T, c *cluster, name string, rf int16, key, value string) int16 {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, rf
	rt.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: key, Value: kmsg.StringPtr(value)}}
	req.Topics = append(req.Topics, rt)
	return c.do(c.controller(), req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
}

// TestMaxMessageBytesTopOfRangeIsStoredAndReplicated: the largest
// max.message.bytes accepted is partition.MaxBatchBytes, and a batch of
// exactly that size is stored, replicated (acks=all with
// min.insync.replicas 2) and leaves the partition taking more; one byte
// more of max.message.bytes is INVALID_CONFIG.
func TestMaxMessageBytesTopOfRangeIsStoredAndReplicated(t *testing.T) {
	c := newCluster(t, 901, 3)
	if code := createTopicWithConfig(t, c, "over", 3, "max.message.bytes", strconv.Itoa(partition.MaxBatchBytes+1)); code != kerr.InvalidConfig.Code {
		t.Fatalf("max.message.bytes %d: error %d (%s), want INVALID_CONFIG", partition.MaxBatchBytes+1, code, errName(code))
	}
	if code := createTopicWithConfig(t, c, "huge", 3, "max.message.bytes", strconv.Itoa(partition.MaxBatchBytes)); code != 0 {
		t.Fatalf("max.message.bytes %d: error %d (%s)", partition.MaxBatchBytes, code, errName(code))
	}
	c.waitTopic("huge")
	leader := c.leaderOf("huge", 0)
	big := batchOfSize(t, partition.MaxBatchBytes)
	r := c.await(c.handle(leader, produceReq(12, -1, 5000, "huge", [16]byte{}, map[int32][]byte{0: big})), 200)
	checkCode(t, "a batch of max.message.bytes, acks=all", r.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode, nil)
	for _, id := range c.ids {
		if h := c.hostedOn(id, "huge", 0); h != nil && h.p.Err() != nil {
			t.Errorf("broker %d: replica stopped by a legal produce: %v", id, h.p.Err())
		}
	}
	r = c.await(c.handle(leader, produceReq(12, -1, 5000, "huge", [16]byte{}, map[int32][]byte{0: makeBatch(1, "small", 1000)})), 200)
	checkCode(t, "a small batch after it", r.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode, nil)
}

// TestMinInsyncAboveReplicationFactor: as in Kafka, the topic is created;
// acks=all is refused with NOT_ENOUGH_REPLICAS and acks=1 works.
func TestMinInsyncAboveReplicationFactor(t *testing.T) {
	c := newCluster(t, 903, 3)
	checkCode(t, "create rf 1 with min.insync.replicas 2", createTopicWithConfig(t, c, "mir", 1, "min.insync.replicas", "2"), nil)
	c.waitTopic("mir")
	leader := c.leaderOf("mir", 0)
	checkCode(t, "acks=all with 1 replica and min.insync.replicas 2", c.produce(leader, "mir", 0, makeBatch(1, "x", 1000)).ErrorCode, kerr.NotEnoughReplicas)
	r := c.do(leader, produceReq(12, 1, 5000, "mir", [16]byte{}, map[int32][]byte{0: makeBatch(1, "x", 1000)})).(*kmsg.ProduceResponse)
	checkCode(t, "acks=1", r.Topics[0].Partitions[0].ErrorCode, nil)
}
