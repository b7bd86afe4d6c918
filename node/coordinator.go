package node

// The group coordinator's place in the broker (issue 9).
//
// Consumer groups live in the internal topic __consumer_offsets (50
// partitions, RF min(3, brokers), as Kafka), created through the
// controller on the first FindCoordinator for a group. A group belongs to
// partition abs(javaHashCode(group)) % partitions, as in Kafka, and its
// coordinator is that partition's raft leader. Every replica of an offsets
// partition applies the partition's committed records to a
// groups.Coordinator; the leader's becomes active once it has applied all
// that is committed (until then group requests get
// COORDINATOR_LOAD_IN_PROGRESS), and deactivates when leadership moves
// (NOT_COORDINATOR; clients find the new coordinator). What a coordinator
// stores is proposed to its partition like an acks=all produce; the
// requests waiting on it are answered when it commits.

import (
	"encoding/binary"
	"hash/crc32"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node/groups"
	"sluice/partition"
	"sluice/transport"
)

// OffsetsTopic is the internal topic of committed offsets and group
// metadata.
const OffsetsTopic = "__consumer_offsets"

// GroupConfig configures consumer groups.
type GroupConfig struct {
	// OffsetsPartitions is offsets.topic.num.partitions (50); it is read
	// when the topic is created, never after.
	OffsetsPartitions int32
	// OffsetsReplicationFactor is offsets.topic.replication.factor
	// (default min(3, brokers)).
	OffsetsReplicationFactor int16
	// Coordinator holds the group.* and offsets.* settings; its Partition
	// and Env are filled in per partition.
	Coordinator groups.Config
	// MaxPendingCalls bounds group requests waiting for an answer (10,000).
	MaxPendingCalls int
}

// groupFan is one client request answered by one or more coordinator
// calls (DeleteGroups spans partitions).
type groupFan struct {
	r       Request
	resp    kmsg.Response
	pending int
	merge   func(sub kmsg.Response)
}

type groupAppend struct {
	g  transport.GroupID
	id uint64
}

// javaHashCode is Java's String.hashCode over the UTF-16 code units.
func javaHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xd800+(r>>10))
			h = 31*h + int32(0xdc00+(r&0x3ff))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// OffsetsPartition is the __consumer_offsets partition of a group, as
// Kafka computes it, for a topic of that many partitions.
func OffsetsPartition(group string, partitions int) int32 {
	return int32(int(javaHashCode(group)&0x7fffffff) % partitions)
}

// coordinatorOf returns the offsets partition of group and whether the
// topic exists.
func (n *Node) coordinatorOf(group string) (transport.GroupID, bool) {
	t := n.topics.byName[OffsetsTopic]
	if t == nil || len(t.Replicas) == 0 {
		return transport.GroupID{}, false
	}
	return n.group(t, OffsetsPartition(group, len(t.Replicas))), true
}

// createOffsetsTopic proposes __consumer_offsets (or forwards it to the
// controller).
func (n *Node) createOffsetsTopic() bool {
	gc := n.cfg.Groups
	rf := min(int(gc.OffsetsReplicationFactor), len(n.cfg.Brokers))
	id := n.newTopicID()
	c := command{Op: "create", Topic: topicInfo{Name: OffsetsTopic, ID: hexID(id),
		Replicas: n.assign(0, int(gc.OffsetsPartitions), rf),
		Configs:  [][2]string{{"cleanup.policy", "compact"}, {"compression.type", "producer"}}}}
	return n.proposeMeta(c, true)
}

// localCoordinator is the active coordinator of group on this broker, or
// the error code to answer with.
func (n *Node) localCoordinator(group string) (*hosted, int16) {
	g, ok := n.coordinatorOf(group)
	if !ok {
		n.createOffsetsTopic()
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	h := n.hosts[g]
	if h == nil || h.coord == nil || h.p.Err() != nil {
		return nil, kerr.NotCoordinator.Code
	}
	if lead, _ := h.p.Leader(); lead != n.self {
		return nil, kerr.NotCoordinator.Code
	}
	if !h.coord.Active() {
		return nil, kerr.CoordinatorLoadInProgress.Code
	}
	return h, 0
}

// groupCall hands req to group's coordinator; the response goes to r.
func (n *Node) groupCall(r Request, group string, req kmsg.Request) {
	n.groupCallThen(r, group, req, func(resp kmsg.Response) kmsg.Response { return resp })
}

// groupCallThen is groupCall whose answer, the coordinator's or an error
// response, passes through finish before it is sent.
func (n *Node) groupCallThen(r Request, group string, req kmsg.Request, finish func(kmsg.Response) kmsg.Response) {
	h, code := n.localCoordinator(group)
	if code == 0 && len(n.groupCalls) >= n.cfg.Groups.MaxPendingCalls {
		code = kerr.CoordinatorNotAvailable.Code
	}
	if code != 0 {
		n.respond(r, finish(groups.ErrorResponse(req, code)))
		return
	}
	f := &groupFan{r: r, pending: 1}
	f.merge = func(sub kmsg.Response) { f.resp = finish(sub) }
	n.callCoordinator(h, f, req)
}

func (n *Node) callCoordinator(h *hosted, f *groupFan, req kmsg.Request) {
	n.nextID++
	n.groupCalls[n.nextID] = f
	h.coord.Handle(n.nextID, groups.Caller{ClientID: f.r.ClientID, ClientHost: f.r.ClientHost}, req)
	n.groupsDirty = true
}

// hostCoordinator gives a replica of __consumer_offsets its coordinator.
func (n *Node) hostCoordinator(h *hosted) {
	cfg := n.cfg.Groups.Coordinator
	cfg.Partition = h.g.Partition
	cfg.Env = n.cfg.Env.With("broker", n.cfg.ID)
	cfg.Topic, cfg.TopicNames = n.coordTopic, n.coordTopicNames
	h.coord = groups.New(cfg)
}

// syncCoordinator applies newly committed records of an offsets
// partition and (de)activates its coordinator as leadership moves.
func (n *Node) syncCoordinator(h *hosted) {
	if h.p.Err() != nil {
		h.coord.Deactivate()
		n.groupsDirty = true
		return
	}
	for {
		batches, err := h.p.ReadApplied(h.coordOff, 1<<20)
		if err != nil {
			n.log.Error("offsets partition apply failed", "group", h.g, "err", err)
			return
		}
		if len(batches) == 0 {
			break
		}
		for _, b := range batches {
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(b); err != nil {
				n.log.Error("skipping an undecodable offsets batch", "group", h.g, "offset", h.coordOff, "err", err)
				h.coordOff++
				continue
			}
			next := rb.FirstOffset + int64(rb.LastOffsetDelta) + 1
			recs, err := records(rb)
			if err != nil {
				n.log.Error("skipping an undecodable offsets batch", "group", h.g, "offset", rb.FirstOffset, "err", err)
			}
			for _, r := range recs {
				if err := h.coord.Apply(r.Key, r.Value); err != nil {
					n.log.Error("skipping an undecodable offsets record", "group", h.g, "offset", rb.FirstOffset+int64(r.OffsetDelta), "err", err)
				}
			}
			h.coordOff = next
		}
	}
	lead, _ := h.p.Leader()
	switch {
	case lead != n.self:
		if h.coord.Active() {
			h.coord.Deactivate()
			n.groupsDirty = true
		}
	case !h.coord.Active():
		if hw, ok := h.p.HighWatermark(); ok && h.coordOff >= hw {
			h.coord.Activate(n.nowMs)
			n.groupsDirty = true
		}
	}
}

// drainGroups moves the coordinators' replies to the output and proposes
// what they store.
func (n *Node) drainGroups() {
	if !n.groupsDirty {
		return
	}
	n.groupsDirty = false
	for _, h := range n.list {
		if h == nil || h.coord == nil || h.gone {
			continue
		}
		g := h.g
		out := h.coord.Ready()
		for _, rep := range out.Replies {
			f := n.groupCalls[rep.Token]
			if f == nil {
				continue
			}
			delete(n.groupCalls, rep.Token)
			f.merge(rep.Msg)
			if f.pending--; f.pending == 0 {
				n.respond(f.r, f.resp)
			}
		}
		for _, a := range out.Appends {
			n.nextID++
			n.groupAppends[n.nextID] = groupAppend{g: g, id: a.ID}
			h.p.Produce(partition.ProduceRequest{ID: n.nextID, Batch: keyedBatch(a.Records, n.nowMs), Acks: partition.AcksAll})
			h.dirty = true
		}
	}
}

// groupAppendDone passes a produce result to the coordinator that asked
// for it; false if the result is not a coordinator's.
func (n *Node) groupAppendDone(r partition.ProduceResult) bool {
	ga, ok := n.groupAppends[r.ID]
	if !ok {
		return false
	}
	delete(n.groupAppends, r.ID)
	if h := n.hosts[ga.g]; h != nil && h.coord != nil {
		h.coord.AppendDone(ga.id, errCode(r.Err))
		n.groupsDirty = true
	}
	return true
}

// forgetAppends drops the appends of a partition reopened or removed:
// their results never come (its coordinator was deactivated, which
// answered the requests waiting on them).
func (n *Node) forgetAppends(g transport.GroupID) {
	for _, id := range slices.Sorted(maps.Keys(n.groupAppends)) {
		if n.groupAppends[id].g == g {
			delete(n.groupAppends, id)
		}
	}
}

// keyedBatch encodes one uncompressed magic-2 batch of keyed records (a
// nil value is a tombstone).
func keyedBatch(recs []groups.Record, nowMs int64) []byte {
	var body []byte
	for i, kv := range recs {
		r := kmsg.Record{OffsetDelta: int32(i), Key: kv.Key, Value: kv.Value}
		enc := r.AppendTo(nil)
		r.Length = int32(len(enc) - 1)
		body = r.AppendTo(body)
	}
	rb := kmsg.RecordBatch{Magic: 2, FirstTimestamp: nowMs, MaxTimestamp: nowMs, LastOffsetDelta: int32(len(recs) - 1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)), Records: body}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
