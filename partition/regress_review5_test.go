package partition

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// insync() uses raft's RecentActive, which CheckQuorum clears every election
// timeout: healthy followers look out of sync until their next heartbeat
// response, and an acks=all produce arriving then is refused.
func TestRegressSpuriousNotEnoughReplicas(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.waitLeader()
	id := uint64(1000)
	fails := 0
	for i := 0; i < 40; i++ {
		l := c.waitLeader()
		for _, n := range c.ids {
			c.parts[n].Tick(0) // a tick, then a produce request, in one loop pass
		}
		id++
		l.Produce(ProduceRequest{ID: id, Batch: makeBatch(1, "x", 1), Acks: AcksAll})
		c.settle(id)
		if errors.Is(c.res[id].Err, kerr.NotEnoughReplicas) {
			fails++
		}
	}
	if fails > 0 {
		t.Fatalf("%d of 40 acks=all produces on a healthy 3-replica group failed NOT_ENOUGH_REPLICAS", fails)
	}
}
