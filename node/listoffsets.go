package node

// ListOffsets (key 2), v1–v11.
//
// Timestamps: -2 earliest (the log start offset), -1 latest (the high
// watermark; the last stable offset for read_committed), -3 the record with
// the largest timestamp (KIP-734), -4 earliest local (the log start: sluice
// has no tiered storage), -5 earliest pending upload (none: -1), and a
// timestamp ≥ 0 for the first record at or after it (the log's time index,
// then the one batch that holds it). A new leader answers latest with
// OFFSET_NOT_AVAILABLE until its own term commits (KIP-207).
// CurrentLeaderEpoch is checked (v4+); LeaderEpoch in the answer is the
// leader's current term. A partition named twice is INVALID_REQUEST.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/partition"
)

func (n *Node) handleListOffsets(req *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	// A partition named more than once is answered INVALID_REQUEST each
	// time, as in Kafka, and not looked up: a request naming one partition
	// many times would otherwise cost the event loop as many lookups.
	type tp struct {
		topic string
		p     int32
	}
	named := make(map[tp]int)
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			named[tp{rt.Topic, rp.Partition}]++
		}
	}
	for _, rt := range req.Topics {
		t := n.topics.byName[rt.Topic]
		ot := kmsg.ListOffsetsResponseTopic{Topic: rt.Topic}
		for _, rp := range rt.Partitions {
			op := kmsg.NewListOffsetsResponseTopicPartition()
			op.Partition, op.Timestamp, op.Offset, op.LeaderEpoch = rp.Partition, -1, -1, -1
			if named[tp{rt.Topic, rp.Partition}] > 1 {
				op.ErrorCode = kerr.InvalidRequest.Code
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			op.ErrorCode = n.listOffset(req, t, rp, &op)
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

func (n *Node) listOffset(req *kmsg.ListOffsetsRequest, t *topicInfo, rp kmsg.ListOffsetsRequestTopicPartition, op *kmsg.ListOffsetsResponseTopicPartition) int16 {
	h, code := n.leaderReplica(t, rp.Partition, rp.CurrentLeaderEpoch)
	if code != 0 {
		return code
	}
	p := h.p
	op.LeaderEpoch = int32(h.term)
	switch ts := rp.Timestamp; {
	case ts == -2 || ts == -4:
		if _, ok := p.HighWatermark(); !ok {
			// A new leader may not have applied the log start its
			// predecessor moved (KIP-207's case, as for the latest offset).
			return kerr.OffsetNotAvailable.Code
		}
		start, err := p.LogStart()
		if err != nil {
			return errCode(err)
		}
		op.Offset = start
	case ts == -1:
		hw, ok := p.HighWatermark()
		if !ok {
			return kerr.OffsetNotAvailable.Code
		}
		op.Offset = hw
		if partition.Planted("latest-log-end") {
			op.Offset = p.LogEndOffset()
		}
		if req.IsolationLevel == 1 {
			op.Offset = p.LastStableOffset()
		}
	case ts == -3:
		off, mts, found, err := p.MaxTimestamp()
		if err != nil {
			return errCode(err)
		}
		if found {
			op.Offset, op.Timestamp = off, mts
		}
	case ts == -5:
	case ts >= 0:
		off, rts, found, err := p.OffsetForTimestamp(ts)
		if err != nil {
			return errCode(err)
		}
		if found {
			op.Offset, op.Timestamp = off, rts
		}
	default:
		return kerr.InvalidRequest.Code
	}
	if req.Version == 0 {
		op.OldStyleOffsets = []int64{op.Offset}
	}
	return 0
}

// leaderReplica is this broker's replica of t's partition p if it leads it
// at the client's current leader epoch (-1: unchecked) and its storage is
// healthy; otherwise the error code to answer.
func (n *Node) leaderReplica(t *topicInfo, p int32, epoch int32) (*hosted, int16) {
	if t == nil || p < 0 || int(p) >= len(t.Replicas) {
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	h := n.hosts[n.group(t, p)]
	if h == nil || h.leader != n.self {
		return nil, kerr.NotLeaderForPartition.Code
	}
	if code := checkLeaderEpoch(epoch, h.term); code != 0 {
		return nil, code
	}
	if h.p.Err() != nil {
		return nil, kerr.KafkaStorageError.Code
	}
	return h, 0
}
