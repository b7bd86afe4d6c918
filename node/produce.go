package node

// Produce (key 0), v3–v13.
//
// Each partition's records must be exactly one magic-2 batch (Kafka's rule
// since v3; more is INVALID_RECORD). The leader validates, stamps and
// proposes it (partition.Produce); the response waits for every partition's
// acks (0, 1 or all, DESIGN.md step 5) or for timeout_ms, after which the
// partitions still waiting answer REQUEST_TIMED_OUT (their records may yet
// be committed, as in Kafka). Under acks=0 nothing is answered, and a
// failure closes the connection, as Kafka does. A broker that does not lead
// a partition answers NOT_LEADER_OR_FOLLOWER with the leader it knows
// (KIP-951: CurrentLeader and the Brokers endpoints, v10+). v13 names topics
// by id. Compressed batches are stored as sent.
//
// Differs from Apache Kafka: transactional produce is refused with
// INVALID_REQUEST until transactions exist; over the cap of produce requests
// waiting for acks (Config.MaxPendingProduces) a request is answered at once
// with the retriable REQUEST_TIMED_OUT instead of being queued; while the
// data directory's free space is below the runtime's threshold, produce is
// KAFKA_STORAGE_ERROR (diskspace.go).

import (
	"encoding/binary"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/partition"
)

type pendingProduce struct {
	r          Request
	resp       *kmsg.ProduceResponse
	waiting    map[uint64]*kmsg.ProduceResponseTopicPartition
	ids        []uint64
	deadlineMs int64
	hints      bool
}

type acks0 struct {
	conn, seq uint64
	failed    bool
}

func (n *Node) handleProduce(r Request, req *kmsg.ProduceRequest) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	pp := &pendingProduce{r: r, resp: resp, waiting: map[uint64]*kmsg.ProduceResponseTopicPartition{},
		deadlineMs: n.nowMs + int64(max(req.TimeoutMillis, 0)), hints: req.Version >= 10}
	var a0 *acks0
	if req.Acks == 0 {
		a0 = &acks0{conn: r.Conn, seq: r.Seq}
		n.acks0list = append(n.acks0list, a0)
	}
	full := len(n.produces) >= n.cfg.MaxPendingProduces
	for _, rt := range req.Topics {
		t := n.topics.byName[rt.Topic]
		if req.Version >= 13 {
			t = n.topics.byID[rt.TopicID]
		}
		ot := kmsg.ProduceResponseTopic{Topic: rt.Topic, TopicID: rt.TopicID}
		for _, rp := range rt.Partitions {
			op := kmsg.NewProduceResponseTopicPartition()
			op.Partition, op.BaseOffset, op.LogAppendTime, op.LogStartOffset = rp.Partition, -1, -1, -1
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
		for i, rp := range rt.Partitions {
			op := &resp.Topics[len(resp.Topics)-1].Partitions[i]
			code, h := n.producePartition(req, t, rp)
			if code == 0 && full {
				code = kerr.RequestTimedOut.Code
			}
			if code != 0 {
				op.ErrorCode = code
				if code == kerr.NotLeaderForPartition.Code && t != nil {
					n.leaderHint(pp, op, t, rp.Partition)
				}
				if a0 != nil {
					a0.failed = true
				}
				continue
			}
			n.nextID++
			id := n.nextID
			if a0 != nil {
				n.acks0[id] = a0
			} else {
				pp.waiting[id] = op
				pp.ids = append(pp.ids, id)
				n.produces[id] = pp
			}
			if t.LogAppendTime {
				op.LogAppendTime = n.nowMs
			}
			h.p.SetClock(n.nowMs) // the stamp and the replicated time: now (SetNow)
			if _, ok := h.p.HighWatermark(); ok {
				op.LogStartOffset = h.p.LogStartOffset()
			}
			h.p.Produce(partition.ProduceRequest{ID: id, Batch: rp.Records, Acks: partition.Acks(req.Acks)})
			h.dirty = true
		}
	}
	if a0 != nil {
		return // answered (with nothing, or a close) at the end of this turn
	}
	if len(pp.waiting) == 0 {
		n.finishProduce(pp)
		return
	}
	n.produceQ = append(n.produceQ, pp)
}

// producePartition checks one partition of a produce request; it returns
// an error code, or 0 and the hosted leader replica.
func (n *Node) producePartition(req *kmsg.ProduceRequest, t *topicInfo, rp kmsg.ProduceRequestTopicPartition) (int16, *hosted) {
	switch {
	case req.TransactionID != nil:
		return kerr.InvalidRequest.Code, nil
	case t == nil && req.Version >= 13:
		return kerr.UnknownTopicID.Code, nil
	case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Replicas):
		return kerr.UnknownTopicOrPartition.Code, nil
	case t.Name == OffsetsTopic:
		return kerr.InvalidTopicException.Code, nil // internal: written by the group coordinators only
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		return kerr.InvalidRequiredAcks.Code, nil
	}
	if len(rp.Records) < 12 {
		return kerr.InvalidRecord.Code, nil
	}
	if req.Version < 7 && len(rp.Records) > 22 && rp.Records[16] == 2 && rp.Records[22]&7 == 4 {
		// zstd came with produce v7 (KIP-110): a client too old to ask for
		// it may not write it, as Kafka's ProduceRequest.validateRecords.
		return kerr.UnsupportedCompressionType.Code, nil
	}
	if size := int64(binary.BigEndian.Uint32(rp.Records[8:12])) + 12; size < int64(len(rp.Records)) {
		return kerr.InvalidRecord.Code, nil // more than one batch
	}
	h := n.hosts[n.group(t, rp.Partition)]
	if h == nil || h.leader != n.self {
		return kerr.NotLeaderForPartition.Code, nil
	}
	if n.diskLow {
		return kerr.KafkaStorageError.Code, nil
	}
	n.countTraffic(t.Name, len(rp.Records), 0)
	return 0, h
}

// leaderHint fills KIP-951's CurrentLeader and the leader's endpoint.
func (n *Node) leaderHint(pp *pendingProduce, op *kmsg.ProduceResponseTopicPartition, t *topicInfo, p int32) {
	op.CurrentLeader.LeaderID, op.CurrentLeader.LeaderEpoch = -1, -1
	li, ok := n.leaderOf(n.group(t, p))
	if !ok || !pp.hints {
		return
	}
	op.CurrentLeader.LeaderID, op.CurrentLeader.LeaderEpoch = int32(li.Leader), int32(li.Term)
	if slices.ContainsFunc(pp.resp.Brokers, func(b kmsg.ProduceResponseBroker) bool { return b.NodeID == int32(li.Leader) }) {
		return
	}
	for _, b := range n.cfg.Brokers {
		if b.ID == int32(li.Leader) {
			pp.resp.Brokers = append(pp.resp.Brokers, kmsg.ProduceResponseBroker{NodeID: b.ID, Host: b.Host, Port: b.Port})
		}
	}
}

// produceResult completes one partition of a waiting produce request.
func (n *Node) produceResult(h *hosted, r partition.ProduceResult) {
	if a0 := n.acks0[r.ID]; a0 != nil {
		if r.Err != nil {
			a0.failed = true
		}
		return
	}
	pp := n.produces[r.ID]
	if pp == nil {
		if r.Err != nil && h.meta {
			n.log.Warn("metadata proposal failed", "err", r.Err)
		}
		return // timed out already, or a metadata proposal
	}
	delete(n.produces, r.ID)
	op := pp.waiting[r.ID]
	delete(pp.waiting, r.ID)
	op.ErrorCode = errCode(r.Err)
	if r.Err != nil {
		// A failed partition reports no append, as Kafka's
		// UNKNOWN_LOG_APPEND_INFO.
		op.LogAppendTime, op.LogStartOffset = -1, -1
	}
	if r.Err == nil {
		op.BaseOffset = r.BaseOffset
	} else if op.ErrorCode == kerr.NotLeaderForPartition.Code {
		if t := n.topics.byName[h.topic]; t != nil {
			n.leaderHint(pp, op, t, h.g.Partition)
		}
	}
	if len(pp.waiting) == 0 {
		n.finishProduce(pp)
	}
}

func (n *Node) finishProduce(pp *pendingProduce) {
	n.out.Responses = append(n.out.Responses, Response{Conn: pp.r.Conn, Seq: pp.r.Seq, Key: pp.r.Key, Msg: pp.resp})
	pp.resp = nil
}

// expireProduces answers requests past their timeout: partitions still
// waiting get REQUEST_TIMED_OUT.
func (n *Node) expireProduces() {
	keep := n.produceQ[:0]
	for _, pp := range n.produceQ {
		if pp.resp == nil {
			continue
		}
		if pp.deadlineMs > n.nowMs {
			keep = append(keep, pp)
			continue
		}
		for _, id := range pp.ids {
			if op := pp.waiting[id]; op != nil {
				op.ErrorCode = kerr.RequestTimedOut.Code
				op.LogAppendTime, op.LogStartOffset = -1, -1
				delete(n.produces, id)
			}
		}
		clear(pp.waiting)
		n.finishProduce(pp)
	}
	clear(n.produceQ[len(keep):])
	n.produceQ = keep
}

// finishAcks0 ends this turn's acks=0 requests: nothing is written back,
// and a failed one closes its connection.
func (n *Node) finishAcks0() {
	for _, a0 := range n.acks0list {
		n.out.Responses = append(n.out.Responses, Response{Conn: a0.conn, Seq: a0.seq, Close: a0.failed})
	}
	n.acks0list = n.acks0list[:0]
	clear(n.acks0)
}
