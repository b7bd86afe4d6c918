package node

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A compacted topic (cleanup.policy compact, or compact,delete) refuses a
// record without a key, INVALID_RECORD, and appends nothing, as Kafka's
// LogValidator.validateKey (found by review: they were appended).
func TestCompactedTopicRefusesNullKey(t *testing.T) {
	c := newCluster(t, 91, 1)
	c.createTopic("c", 1, 1, nil, "cleanup.policy", "compact")
	c.createTopic("cd", 1, 1, nil, "cleanup.policy", "compact,delete")
	for _, topic := range []string{"c", "cd"} {
		resp := c.do(1, produceReq(12, -1, 5000, topic, [16]byte{}, map[int32][]byte{0: makeBatch(2, "no key", 1000)})).(*kmsg.ProduceResponse)
		op := resp.Topics[0].Partitions[0]
		checkCode(t, topic+": null-key record on a compacted topic", op.ErrorCode, kerr.InvalidRecord)
		if got := c.hostedOn(1, topic, 0).p.LogEndOffset(); got != 0 {
			t.Errorf("%s: log end offset %d after a refused produce", topic, got)
		}
	}
}

// Kafka 4.0 (KIP-1030) raised segment.bytes' minimum from 14 bytes to
// 1 MiB: a smaller value is INVALID_CONFIG. sluice accepts 14, and seals a
// segment after every entry.
