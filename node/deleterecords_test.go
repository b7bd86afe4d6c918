package node

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func deleteRecordsReq(timeoutMs int32, topic string, offsets map[int32]int64) *kmsg.DeleteRecordsRequest {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.Version, req.TimeoutMillis = 2, timeoutMs
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	for p, off := range offsets {
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = p, off
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func deleteRecordsResp(t *testing.T, r kmsg.Response) map[int32]kmsg.DeleteRecordsResponseTopicPartition {
	t.Helper()
	resp := r.(*kmsg.DeleteRecordsResponse)
	out := map[int32]kmsg.DeleteRecordsResponseTopicPartition{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			out[rp.Partition] = rp
		}
	}
	return out
}

// DeleteRecords' answers: the low watermark once the leader's log start is
// applied; an unknown partition, a follower, a compacted topic, the
// internal topic and an offset past the end refused with Kafka's codes;
// REQUEST_TIMED_OUT past timeout_ms when the log start cannot commit.
func TestDeleteRecords(t *testing.T) {
	c := newCluster(t, 53, 3)
	c.createTopic("t", 1, 3, nil)
	c.createTopic("c", 1, 3, nil, "cleanup.policy", "compact")
	leader, follower := leaderAndFollower(t, c, "t", 0)
	for i := 0; i < 3; i++ {
		r := c.do(leader, produceReq(12, -1, 5000, "t", [16]byte{}, map[int32][]byte{0: makeBatch(2, "v", 1)}))
		checkCode(t, "produce", r.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode, nil)
	}

	got := deleteRecordsResp(t, c.do(leader, deleteRecordsReq(5000, "t", map[int32]int64{0: 3, 7: 1})))
	checkCode(t, "delete to 3", got[0].ErrorCode, nil)
	if got[0].LowWatermark != 3 {
		t.Errorf("low watermark %d, want 3", got[0].LowWatermark)
	}
	checkCode(t, "unknown partition", got[7].ErrorCode, kerr.UnknownTopicOrPartition)
	got = deleteRecordsResp(t, c.do(leader, deleteRecordsReq(5000, "t", map[int32]int64{0: 7})))
	checkCode(t, "past the end", got[0].ErrorCode, kerr.OffsetOutOfRange)
	got = deleteRecordsResp(t, c.do(follower, deleteRecordsReq(5000, "t", map[int32]int64{0: 4})))
	checkCode(t, "on a follower", got[0].ErrorCode, kerr.NotLeaderForPartition)
	got = deleteRecordsResp(t, c.do(c.leaderOf("c", 0), deleteRecordsReq(5000, "c", map[int32]int64{0: 0})))
	checkCode(t, "compacted topic", got[0].ErrorCode, kerr.PolicyViolation)
	got = deleteRecordsResp(t, c.do(leader, deleteRecordsReq(5000, "nope", map[int32]int64{0: 0})))
	checkCode(t, "unknown topic", got[0].ErrorCode, kerr.UnknownTopicOrPartition)

	// __consumer_offsets, once a FindCoordinator has created it: its
	// leader refuses with INVALID_TOPIC_EXCEPTION.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g"
	c.do(1, fc)
	c.ticks(30)
	internal := false
	for _, id := range c.ids {
		got = deleteRecordsResp(t, c.do(id, deleteRecordsReq(5000, OffsetsTopic, map[int32]int64{0: 0})))
		switch got[0].ErrorCode {
		case kerr.InvalidTopicException.Code:
			internal = true
		case kerr.NotLeaderForPartition.Code:
		default:
			t.Errorf("broker %d: delete on %s: %s", id, OffsetsTopic, errName(got[0].ErrorCode))
		}
	}
	if !internal {
		t.Errorf("no broker refused %s with INVALID_TOPIC_EXCEPTION", OffsetsTopic)
	}

	// The leader cut off from its followers: the log start cannot commit.
	for _, id := range c.ids {
		if id != leader {
			c.net.Partition(uint64(leader), uint64(id))
		}
	}
	k := c.handle(leader, deleteRecordsReq(500, "t", map[int32]int64{0: 5}))
	c.settle()
	if _, ok := c.answered(k); ok {
		t.Fatal("answered before the log start committed")
	}
	got = deleteRecordsResp(t, c.await(k, 20).Msg)
	checkCode(t, "past its timeout", got[0].ErrorCode, kerr.RequestTimedOut)
}
