package node

// DeleteRecords (key 21), v0–v2 (KIP-107).
//
// Each partition's leader moves its log start offset to the offset asked
// (-1: the high watermark) through raft (partition.DeleteRecords); the
// response waits for every partition, or for timeout_ms, after which those
// still waiting answer REQUEST_TIMED_OUT (the deletion may yet happen, as in
// Kafka). An offset above the high watermark is OFFSET_OUT_OF_RANGE; on
// the partition's leader, an internal topic (__consumer_offsets) is
// INVALID_TOPIC_EXCEPTION and a topic whose cleanup.policy does not include
// delete is POLICY_VIOLATION, as in Kafka. The low watermark answered is
// the log start after the deletion. A partition removed or reopened while
// requests wait answers them NOT_LEADER_OR_FOLLOWER (clients retry).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/partition"
)

type pendingDeleteRecords struct {
	r          Request
	resp       *kmsg.DeleteRecordsResponse
	waiting    map[uint64]*kmsg.DeleteRecordsResponseTopicPartition
	ids        []uint64
	deadlineMs int64
}

func (n *Node) handleDeleteRecords(r Request, req *kmsg.DeleteRecordsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	pd := &pendingDeleteRecords{r: r, resp: resp, waiting: map[uint64]*kmsg.DeleteRecordsResponseTopicPartition{},
		deadlineMs: n.nowMs + int64(max(req.TimeoutMillis, 0))}
	for _, rt := range req.Topics {
		ot := kmsg.NewDeleteRecordsResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewDeleteRecordsResponseTopicPartition()
			op.Partition, op.LowWatermark = rp.Partition, -1
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	for ti, rt := range req.Topics {
		t := n.topics.byName[rt.Topic]
		for pi, rp := range rt.Partitions {
			op := &resp.Topics[ti].Partitions[pi]
			h, code := n.leaderReplica(t, rp.Partition, -1)
			switch {
			case code != 0:
			case t.Name == OffsetsTopic:
				code = kerr.InvalidTopicException.Code
			case !t.DeletePolicy:
				code = kerr.PolicyViolation.Code
			case len(n.deleteRecs) >= n.cfg.MaxPendingProduces:
				code = kerr.RequestTimedOut.Code
			}
			if code != 0 {
				op.ErrorCode = code
				continue
			}
			n.nextID++
			id := n.nextID
			pd.waiting[id] = op
			pd.ids = append(pd.ids, id)
			n.deleteRecs[id] = pd
			h.p.DeleteRecords(id, rp.Offset)
			h.dirty = true
		}
	}
	if len(pd.waiting) == 0 {
		n.respond(r, resp)
		return
	}
	n.deleteQ = append(n.deleteQ, pd)
}

// deleteRecordsResult completes one partition of a waiting request.
func (n *Node) deleteRecordsResult(d partition.DeleteResult) {
	pd := n.deleteRecs[d.ID]
	if pd == nil {
		return // timed out already
	}
	delete(n.deleteRecs, d.ID)
	op := pd.waiting[d.ID]
	delete(pd.waiting, d.ID)
	op.ErrorCode = errCode(d.Err)
	if d.Err == nil {
		op.LowWatermark = d.LowWatermark
	}
	if len(pd.waiting) == 0 {
		n.respond(pd.r, pd.resp)
		pd.resp = nil
	}
}

// expireDeleteRecords answers requests past their timeout: partitions
// still waiting get REQUEST_TIMED_OUT.
func (n *Node) expireDeleteRecords() {
	keep := n.deleteQ[:0]
	for _, pd := range n.deleteQ {
		if pd.resp == nil {
			continue
		}
		if pd.deadlineMs > n.nowMs {
			keep = append(keep, pd)
			continue
		}
		for _, id := range pd.ids {
			if op := pd.waiting[id]; op != nil {
				op.ErrorCode = kerr.RequestTimedOut.Code
				delete(n.deleteRecs, id)
			}
		}
		clear(pd.waiting)
		n.respond(pd.r, pd.resp)
		pd.resp = nil
	}
	clear(n.deleteQ[len(keep):])
	n.deleteQ = keep
}
