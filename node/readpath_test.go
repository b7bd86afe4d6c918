package node

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A fetch parked on a partition whose topic is deleted is answered when
// the deletion reaches the leader, UNKNOWN_TOPIC_OR_PARTITION, as Kafka
// completes a stopped partition's delayed fetches (found by review: it
// waited out its MaxWait and then answered NOT_LEADER_OR_FOLLOWER).
func TestParkedFetchOnDeletedTopicAnswered(t *testing.T) {
	c := newCluster(t, 71, 3)
	c.createTopic("t", 1, 3, nil)
	ctl := c.controller()
	leader, _ := leaderAndFollower(t, c, "t", 0)
	f := c.handle(leader, fetchReq(12, "t", [16]byte{}, 0, 0, 20000, 1, 1<<20, 1<<20)) // 200 ticks
	c.settle()
	d := c.handle(ctl, deleteReq(6, "t"))
	checkCode(t, "delete", c.await(d, 20).Msg.(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode, nil)
	for i := 0; i < 200; i++ {
		if c.topic(leader, "t") == nil && c.hostedOn(leader, "t", 0) == nil {
			break
		}
		c.tick()
	}
	if c.topic(leader, "t") != nil {
		t.Fatal("leader still knows the topic")
	}
	c.ticks(3)
	r, ok := c.answered(f)
	if !ok {
		r = c.await(f, 250)
		t.Errorf("fetch parked on a deleted topic not answered within 3 ticks of the deletion reaching the leader (answered at its MaxWait)")
	}
	checkCode(t, "parked fetch on a deleted topic", r.Msg.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
}

// OffsetForLeaderEpoch's edges as Kafka's LeaderEpochFileCache.endOffsetFor:
// an epoch below every cached one answers itself and the earliest's start,
// one above the latest (-1, -1) (found by review: the other way round).
func TestOffsetForLeaderEpochBounds(t *testing.T) {
	c, _ := oneBroker(t)
	c.mustProduce(1, "t", 0, makeBatch(3, "a", 1))
	h := c.hostedOn(1, "t", 0)
	term := int32(h.term)
	// Epoch 0 is a valid leader epoch (Kafka's first); here no term 0
	// entry exists, so it is older than every cached epoch, and the first
	// cached epoch starts at offset 0.
	{
		resp := c.do(1, offsetForEpochReq(4, "t", 0, 0, -1)).(*kmsg.OffsetForLeaderEpochResponse)
		op := resp.Topics[0].Partitions[0]
		checkCode(t, "epoch 0", op.ErrorCode, nil)
		if op.LeaderEpoch != 0 || op.EndOffset != 0 {
			t.Errorf("epoch 0 (below the earliest cached; term %d): got epoch %d end %d, want 0 0 (Kafka)", term, op.LeaderEpoch, op.EndOffset)
		}
	}
	resp := c.do(1, offsetForEpochReq(4, "t", 0, term+1, -1)).(*kmsg.OffsetForLeaderEpochResponse)
	op := resp.Topics[0].Partitions[0]
	if op.LeaderEpoch != -1 || op.EndOffset != -1 {
		t.Errorf("epoch %d (above the latest %d): got epoch %d end %d, want -1 -1 (Kafka)", term+1, term, op.LeaderEpoch, op.EndOffset)
	}
}
