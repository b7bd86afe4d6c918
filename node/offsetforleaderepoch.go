package node

// OffsetForLeaderEpoch (key 23), v2–v4, for consumers detecting truncation
// (KIP-320).
//
// Answers from the partition's leader epoch cache: the largest epoch at or
// below the requested one and the offset where the next epoch began (the
// log end offset for the current epoch); below every cached epoch, the
// requested one and the earliest's start; above the latest, -1 and -1, as
// Kafka's LeaderEpochFileCache. Only the leader answers;
// CurrentLeaderEpoch is checked. Differs from Apache Kafka: no follower
// (ReplicaID ≥ 0) requests — replication is raft's.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleOffsetForLeaderEpoch(req *kmsg.OffsetForLeaderEpochRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		t := n.topics.byName[rt.Topic]
		ot := kmsg.OffsetForLeaderEpochResponseTopic{Topic: rt.Topic}
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			op.Partition, op.LeaderEpoch, op.EndOffset = rp.Partition, -1, -1
			op.ErrorCode = n.epochEnd(t, rp, &op)
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

func (n *Node) epochEnd(t *topicInfo, rp kmsg.OffsetForLeaderEpochRequestTopicPartition, op *kmsg.OffsetForLeaderEpochResponseTopicPartition) int16 {
	h, code := n.leaderReplica(t, rp.Partition, rp.CurrentLeaderEpoch)
	if code != 0 {
		return code
	}
	op.LeaderEpoch, op.EndOffset = h.p.OffsetForLeaderEpoch(rp.LeaderEpoch)
	return 0
}
