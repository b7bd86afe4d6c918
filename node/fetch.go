package node

// Fetch (key 1), v4–v18, for consumers.
//
// Serves whole batches below the high watermark from the partition leader
// (DESIGN.md step 6): the tail cache answers on the loop, colder data comes
// back as a read plan the runtime executes off the loop (Output.Reads).
// MaxBytes (at most fetch.max.bytes' default, 55 MiB) bounds the response
// and PartitionMaxBytes each partition, except that the first partition
// with data returns its first batch whole (KIP-74); a cold read counts for
// its whole limit when it is issued. A fetch with less
// than MinBytes parks until a partition it reads gains data or MaxWaitMillis
// passes (long poll), bounded by Config.MaxParkedFetches (over the cap it is
// answered at once). CurrentLeaderEpoch is checked (FENCED_LEADER_EPOCH /
// UNKNOWN_LEADER_EPOCH). A new leader answers OFFSET_NOT_AVAILABLE until its
// own term commits and it knows the high watermark (KIP-207), so the high
// watermark a consumer sees never goes backwards; records between the high
// watermark and the log end are never served. read_committed
// reads up to the last stable offset, which is the high watermark until
// transactions exist. NOT_LEADER_OR_FOLLOWER carries the leader it knows
// (KIP-951, v16+).
//
// Differs from Apache Kafka: no incremental fetch sessions (KIP-227): every
// response has session id 0, which tells clients to send full fetches. A
// full fetch (session epoch 0, which asks for a session, or -1, none) is
// served without one, whatever session id it names (a client closing a
// session it had elsewhere); an incremental fetch (any other epoch) names a
// session that does not exist here: FETCH_SESSION_ID_NOT_FOUND. No follower
// fetching and no preferred read replicas (replication is raft's).

import (
	"bytes"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/transport"
)

type fetchSlot struct {
	g       transport.GroupID
	t       *topicInfo
	rp      kmsg.FetchRequestTopicPartition
	op      *kmsg.FetchResponseTopicPartition
	batches [][]byte
}

type pendingFetch struct {
	r          Request
	req        *kmsg.FetchRequest
	resp       *kmsg.FetchResponse
	slots      []*fetchSlot
	deadlineMs int64
	reads      int // cold reads outstanding
}

func (n *Node) handleFetch(r Request, req *kmsg.FetchRequest) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.SessionEpoch != 0 && req.SessionEpoch != -1 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		n.respond(r, resp)
		return
	}
	pf := &pendingFetch{r: r, req: req, resp: resp, deadlineMs: n.nowMs + int64(max(req.MaxWaitMillis, 0))}
	for _, rt := range req.Topics {
		t := n.topics.byName[rt.Topic]
		if req.Version >= 13 {
			t = n.topics.byID[rt.TopicID]
		}
		ot := kmsg.FetchResponseTopic{Topic: rt.Topic, TopicID: rt.TopicID}
		ot.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, ot)
		for i, rp := range rt.Partitions {
			s := &fetchSlot{t: t, rp: rp, op: &resp.Topics[len(resp.Topics)-1].Partitions[i]}
			if t != nil {
				s.g = n.group(t, rp.Partition)
			}
			pf.slots = append(pf.slots, s)
		}
	}
	n.evaluateFetch(pf, len(n.fetches) >= n.cfg.MaxParkedFetches)
}

// evaluateFetch reads every partition of pf; it answers, issues cold reads,
// or parks pf until data arrives or its deadline passes.
func (n *Node) evaluateFetch(pf *pendingFetch, final bool) {
	used, failed := 0, false
	maxBytes := min(int(pf.req.MaxBytes), fetchMaxBytes)
	if maxBytes <= 0 {
		maxBytes = 1
	}
	for _, s := range pf.slots {
		s.batches = nil
		*s.op = kmsg.NewFetchResponseTopicPartition()
		s.op.Partition = s.rp.Partition
		s.op.HighWatermark, s.op.LastStableOffset, s.op.LogStartOffset = -1, -1, -1
		s.op.PreferredReadReplica = -1
		if pf.req.IsolationLevel == 1 {
			s.op.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
		}
		reserved, code := n.fetchPartition(pf, s, maxBytes-used, used == 0)
		if code != 0 {
			s.op.ErrorCode = code
			s.op.HighWatermark, s.op.LastStableOffset, s.op.LogStartOffset = -1, -1, -1
			failed = true
			continue
		}
		// A cold read counts for the most it may return, so the partitions
		// after it share what is left.
		used += reserved
		for _, b := range s.batches {
			used += len(b)
		}
	}
	if pf.reads > 0 {
		return // answered when the reads are done
	}
	if final || failed || used >= int(pf.req.MinBytes) || pf.deadlineMs <= n.nowMs {
		n.finishFetch(pf)
		return
	}
	if !slices.Contains(n.fetches, pf) {
		n.fetches = append(n.fetches, pf)
	}
}

// fetchMaxBytes caps a fetch's MaxBytes, as the broker's fetch.max.bytes
// does in Kafka (its default, 55 MiB): a response is assembled in memory.
const fetchMaxBytes = 55 << 20

// fetchPartition fills one partition's answer, or issues a cold read for
// it; it returns the bytes that read may bring back (the partition's
// limit), and an error code.
func (n *Node) fetchPartition(pf *pendingFetch, s *fetchSlot, budget int, first bool) (int, int16) {
	if s.t != nil && n.topics.byID[s.t.id] != s.t {
		s.t = nil // deleted while the fetch was parked
	}
	switch {
	case s.t == nil && pf.req.Version >= 13:
		return 0, kerr.UnknownTopicID.Code
	case s.t == nil || s.rp.Partition < 0 || int(s.rp.Partition) >= len(s.t.Replicas):
		return 0, kerr.UnknownTopicOrPartition.Code
	}
	h := n.hosts[s.g]
	if h == nil || h.leader != n.self {
		n.fetchLeaderHint(pf, s)
		return 0, kerr.NotLeaderForPartition.Code
	}
	if code := checkLeaderEpoch(s.rp.CurrentLeaderEpoch, h.term); code != 0 {
		return 0, code
	}
	hw, ok := h.p.HighWatermark()
	if !ok {
		// A new leader does not know the high watermark until it commits
		// in its own term (KIP-207); reporting the stale one could move a
		// consumer's view backwards. Kafka's error for exactly this case;
		// clients retry.
		return 0, kerr.OffsetNotAvailable.Code
	}
	s.op.HighWatermark, s.op.LastStableOffset, s.op.LogStartOffset = hw, h.p.LastStableOffset(), h.p.LogStartOffset()
	if budget <= 0 && !first {
		return 0, 0 // the response is full
	}
	limit := min(int(s.rp.PartitionMaxBytes), budget)
	if first {
		limit = max(limit, 1)
	}
	if limit <= 0 {
		return 0, 0
	}
	// Only the response's first partition with data may exceed its limit
	// by its first batch (KIP-74): a cold read counts for its limit, and
	// brings back no more.
	batches, plan, err := h.p.Fetch(s.rp.FetchOffset, limit, first)
	if err != nil {
		code := errCode(err)
		if code == kerr.NotLeaderForPartition.Code {
			n.fetchLeaderHint(pf, s)
		}
		return 0, code
	}
	if plan != nil {
		n.nextID++
		n.reads[n.nextID] = pf
		pf.reads++
		n.out.Reads = append(n.out.Reads, Read{ID: n.nextID, Plan: plan})
		n.readSlots[n.nextID] = s
		return limit, 0
	}
	s.batches = batches
	return 0, 0
}

// checkLeaderEpoch compares a client's current leader epoch with the term.
func checkLeaderEpoch(epoch int32, term uint64) int16 {
	switch {
	case epoch < 0:
		return 0
	case int64(epoch) < int64(term):
		return kerr.FencedLeaderEpoch.Code
	case int64(epoch) > int64(term):
		return kerr.UnknownLeaderEpoch.Code
	}
	return 0
}

func (n *Node) fetchLeaderHint(pf *pendingFetch, s *fetchSlot) {
	s.op.CurrentLeader.LeaderID, s.op.CurrentLeader.LeaderEpoch = -1, -1
	li, ok := n.leaderOf(s.g)
	if !ok || pf.req.Version < 16 {
		return
	}
	s.op.CurrentLeader.LeaderID, s.op.CurrentLeader.LeaderEpoch = int32(li.Leader), int32(li.Term)
	if slices.ContainsFunc(pf.resp.Brokers, func(b kmsg.FetchResponseBroker) bool { return b.NodeID == int32(li.Leader) }) {
		return
	}
	for _, b := range n.cfg.Brokers {
		if b.ID == int32(li.Leader) {
			pf.resp.Brokers = append(pf.resp.Brokers, kmsg.FetchResponseBroker{NodeID: b.ID, Host: b.Host, Port: b.Port})
		}
	}
}

// ReadDone reports a cold read executed.
func (n *Node) ReadDone(id uint64, batches [][]byte, err error) {
	pf, s := n.reads[id], n.readSlots[id]
	delete(n.reads, id)
	delete(n.readSlots, id)
	if pf == nil {
		return
	}
	if err != nil {
		s.op.ErrorCode = errCode(err)
		if h := n.hosts[s.g]; h != nil {
			if start, err := h.p.LogStart(); err == nil && s.rp.FetchOffset < start {
				// Retention deleted the segment while it was being read.
				s.op.ErrorCode = kerr.OffsetOutOfRange.Code
			}
		}
		s.op.HighWatermark, s.op.LastStableOffset, s.op.LogStartOffset = -1, -1, -1
	} else {
		s.batches = batches
	}
	pf.reads--
	if pf.reads == 0 {
		n.finishFetch(pf)
	}
}

func (n *Node) finishFetch(pf *pendingFetch) {
	for _, s := range pf.slots {
		// Never null: librdkafka rejects a null record set.
		s.op.RecordBatches = []byte{}
		if len(s.batches) > 0 {
			s.op.RecordBatches = bytes.Join(s.batches, nil)
			if s.t != nil {
				n.countTraffic(s.t.Name, 0, len(s.op.RecordBatches))
			}
		}
		s.batches = nil
	}
	n.out.Responses = append(n.out.Responses, Response{Conn: pf.r.Conn, Seq: pf.r.Seq, Key: pf.r.Key, Msg: pf.resp})
	if i := slices.Index(n.fetches, pf); i >= 0 {
		n.fetches = slices.Delete(n.fetches, i, i+1)
	}
}

// wakeFetches re-evaluates parked fetches that read a partition whose high
// watermark moved this turn.
func (n *Node) wakeFetches() {
	if len(n.moved) == 0 {
		return
	}
	for _, pf := range slices.Clone(n.fetches) {
		if slices.ContainsFunc(pf.slots, func(s *fetchSlot) bool { return n.moved[s.g] }) {
			n.evaluateFetch(pf, false)
		}
	}
	clear(n.moved)
}

// expireFetches answers parked fetches whose wait is over.
func (n *Node) expireFetches() {
	for _, pf := range slices.Clone(n.fetches) {
		if pf.deadlineMs <= n.nowMs {
			n.evaluateFetch(pf, true)
		}
	}
}
