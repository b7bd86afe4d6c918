package node

// OffsetCommit (key 8), v2–v10.
//
// The group's coordinator checks the member and generation (a commit with
// generation -1 is accepted for a group without members: simple and
// admin commits), stores one record per partition in __consumer_offsets
// and answers once they are committed (acks=all), so a committed offset
// survives the loss of a minority of the partition's replicas. Errors as
// Kafka's: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS,
// FENCED_INSTANCE_ID (v7+), OFFSET_METADATA_TOO_LARGE
// (offset.metadata.max.bytes), COORDINATOR_NOT_AVAILABLE when the store
// times out (offsets.commit.timeout.ms). v10 names topics by id; an
// unknown id answers UNKNOWN_TOPIC_ID. The retention time of v2–v4 is
// ignored, as in Kafka since 2.1 (offsets.retention.minutes applies).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node/groups"
)

func (n *Node) handleOffsetCommit(r Request, req *kmsg.OffsetCommitRequest) {
	if req.Version < 10 {
		n.groupCall(r, req.Group, req)
		return
	}
	// Topics by id: those the topic table does not know are answered here.
	var unknown []kmsg.OffsetCommitResponseTopic
	known := req.Topics[:0:0]
	for _, t := range req.Topics {
		if ti := n.topics.byID[t.TopicID]; ti != nil {
			t.Topic = ti.Name
			known = append(known, t)
			continue
		}
		rt := kmsg.OffsetCommitResponseTopic{TopicID: t.TopicID}
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: kerr.UnknownTopicID.Code})
		}
		unknown = append(unknown, rt)
	}
	req.Topics = known
	h, code := n.localCoordinator(req.Group)
	if code != 0 {
		resp := groups.ErrorResponse(req, code).(*kmsg.OffsetCommitResponse)
		resp.Topics = append(resp.Topics, unknown...)
		n.respond(r, resp)
		return
	}
	f := &groupFan{r: r, pending: 1}
	f.merge = func(sub kmsg.Response) {
		resp := sub.(*kmsg.OffsetCommitResponse)
		resp.Topics = append(resp.Topics, unknown...)
		f.resp = resp
	}
	n.callCoordinator(h, f, req)
}
