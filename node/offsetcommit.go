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
// unknown id answers UNKNOWN_TOPIC_ID, an unknown topic name or partition
// UNKNOWN_TOPIC_OR_PARTITION (neither is stored). The retention time of
// v2–v4, when not -1, sets when that offset expires, in place of
// offsets.retention.minutes, as in Kafka.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleOffsetCommit(r Request, req *kmsg.OffsetCommitRequest) {
	// Partitions the topic table does not know are answered here, as
	// Kafka does, and never stored: UNKNOWN_TOPIC_ID for an unknown id
	// (v10), UNKNOWN_TOPIC_OR_PARTITION for an unknown name or partition.
	var unknown []kmsg.OffsetCommitResponseTopic
	refuse := func(t kmsg.OffsetCommitRequestTopic, ps []kmsg.OffsetCommitRequestTopicPartition, code int16) {
		rt := kmsg.OffsetCommitResponseTopic{Topic: t.Topic, TopicID: t.TopicID}
		for _, p := range ps {
			rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: code})
		}
		unknown = append(unknown, rt)
	}
	known := req.Topics[:0:0]
	for _, t := range req.Topics {
		var ti *topicInfo
		if req.Version >= 10 {
			if ti = n.topics.byID[t.TopicID]; ti == nil {
				refuse(t, t.Partitions, kerr.UnknownTopicID.Code)
				continue
			}
			t.Topic = ti.Name
		} else if ti = n.topics.byName[t.Topic]; ti == nil {
			refuse(t, t.Partitions, kerr.UnknownTopicOrPartition.Code)
			continue
		}
		ok := t.Partitions[:0:0]
		var bad []kmsg.OffsetCommitRequestTopicPartition
		for _, p := range t.Partitions {
			if p.Partition < 0 || int(p.Partition) >= len(ti.Replicas) {
				bad = append(bad, p)
				continue
			}
			ok = append(ok, p)
		}
		if len(bad) > 0 {
			refuse(t, bad, kerr.UnknownTopicOrPartition.Code)
		}
		if len(ok) > 0 {
			t.Partitions = ok
			known = append(known, t)
		}
	}
	req.Topics = known // names resolved (v10 names topics by id)
	if len(known) == 0 && len(unknown) > 0 {
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Version, resp.Topics = req.Version, unknown
		n.respond(r, resp)
		return
	}
	n.groupCallThen(r, req.Group, req, func(resp kmsg.Response) kmsg.Response {
		oc := resp.(*kmsg.OffsetCommitResponse)
		oc.Topics = append(oc.Topics, unknown...)
		return oc
	})
}
