package partition

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A topic's configs changed on open replicas take effect at the next
// produce: min.insync.replicas raised to 3 with a replica down fails
// acks=all with NOT_ENOUGH_REPLICAS (acks=1 still succeeds), lowered again
// succeeds; max.message.bytes lowered refuses a batch above it;
// LogAppendTime stamps the leader's clock.
func TestSetTopicConfig(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	l := c.waitLeader()
	var down uint64
	for _, id := range c.ids {
		if c.parts[id] != l {
			down = id
			break
		}
	}
	c.down[down] = true
	// Let the leader notice: the stopped follower leaves the ISR.
	for range 400 {
		if len(l.ISR()) == 2 {
			break
		}
		c.tick()
	}
	if len(l.ISR()) != 2 {
		t.Fatalf("ISR %v with replica %d down", l.ISR(), down)
	}
	produce := func(id uint64, acks Acks, n int) error {
		t.Helper()
		c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(n, "v", 1000), Acks: acks})
		c.settle(id)
		return c.res[id].Err
	}
	if err := produce(1, AcksAll, 1); err != nil {
		t.Fatalf("acks=all with min.insync.replicas 2 and 2 in sync: %v", err)
	}
	for _, id := range c.ids {
		c.parts[id].SetTopicConfig(3, 0, false)
	}
	if err := produce(2, AcksAll, 1); !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("acks=all with min.insync.replicas 3 and 2 in sync: %v, want NOT_ENOUGH_REPLICAS", err)
	}
	if err := produce(3, AcksLeader, 1); err != nil {
		t.Fatalf("acks=1 with min.insync.replicas 3: %v", err)
	}
	for _, id := range c.ids {
		c.parts[id].SetTopicConfig(2, 0, false)
	}
	if err := produce(4, AcksAll, 1); err != nil {
		t.Fatalf("acks=all with min.insync.replicas lowered to 2: %v", err)
	}

	size := len(makeBatch(20, "v", 1000))
	for _, id := range c.ids {
		c.parts[id].SetTopicConfig(2, size-1, false)
	}
	if err := produce(5, AcksAll, 20); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("a %d-byte batch with max.message.bytes %d: %v, want MESSAGE_TOO_LARGE", size, size-1, err)
	}
	for _, id := range c.ids {
		c.parts[id].SetTopicConfig(2, size, true)
	}
	if err := produce(6, AcksAll, 20); err != nil {
		t.Fatalf("a %d-byte batch with max.message.bytes %d: %v", size, size, err)
	}
	if got := c.waitLeader().cfg; got.MaxMessageBytes != size || !got.LogAppendTime || got.MinInsyncReplicas != 2 {
		t.Fatalf("config after SetTopicConfig: %+v", got)
	}
	c.down[down] = false
}
