package node

// Topic metadata, replicated until the controller lands (issue 8).
//
// Every broker is a voter of one raft group, transport.MetadataGroup, which
// is an ordinary partition whose records are metadata commands (one JSON
// command per record value, uncompressed). Every broker applies the
// committed commands in order to its topic table, and opens or removes the
// partition replicas assigned to it; on restart it replays the whole
// metadata log. The metadata leader is the controller Metadata reports:
// admin requests go to it, and a broker that auto-creates a topic forwards
// the command to it (transport.Forward). Applying is idempotent — a create
// for a name or id that exists is ignored — so a forwarded command that is
// proposed twice does no harm.

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node/groups"
	"sluice/partition"
	"sluice/transport"
)

// topicInfo is one topic as the metadata log defines it.
type topicInfo struct {
	Name     string    `json:"name"`
	ID       string    `json:"id"` // hex of the 16-byte topic id
	Replicas [][]int32 `json:"replicas"`
	// Configs: the topic's overrides (Kafka names), sorted by name, as
	// given at creation or by the last alter_configs command.
	Configs [][2]string `json:"configs,omitempty"`
	// Targets: partitions being reassigned, and their target replicas
	// (reassign.go); never set in a create command.
	Targets map[int32][]int32 `json:"-"`

	id [16]byte
	// configGen counts the alter_configs commands applied to the topic.
	configGen         int
	MinInsyncReplicas int  `json:"-"`
	MaxMessageBytes   int  `json:"-"`
	LogAppendTime     bool `json:"-"`
	// FlushMessages and FlushMs: flush.messages and flush.ms (default 1
	// and 0: sync before every acknowledgement).
	FlushMessages int64 `json:"-"`
	FlushMs       int64 `json:"-"`
	// SegmentBytes: segment.bytes (0: the broker's segment size).
	SegmentBytes int64 `json:"-"`
	// RetentionMs and RetentionBytes: retention.ms and retention.bytes
	// (-1: unlimited) when cleanup.policy includes delete; both -1
	// otherwise (retention.go).
	RetentionMs, RetentionBytes int64 `json:"-"`
	// DeletePolicy: cleanup.policy includes delete (not __consumer_offsets):
	// records may be deleted, by retention or DeleteRecords.
	DeletePolicy bool `json:"-"`
	// Compacted: cleanup.policy includes compact; produce refuses records
	// without a key.
	Compacted bool `json:"-"`
}

// command is one metadata log record.
type command struct {
	Op string `json:"op"` // create | delete | add_partitions | alter_configs | reassign | reassign_done | register_broker
	// create: the whole topic; delete, add_partitions and alter_configs:
	// Name and ID, and for add_partitions the new partitions' Replicas, for
	// alter_configs the topic's new Configs (all of them).
	Topic topicInfo `json:"topic"`
	// From: add_partitions applies only to a topic with exactly this many
	// partitions, alter_configs only at this config generation, so a
	// command proposed twice applies once.
	From int `json:"from,omitempty"`
	// Partition and Target: reassign and reassign_done name one partition
	// and its target replicas.
	Partition int32   `json:"partition,omitempty"`
	Target    []int32 `json:"target,omitempty"`
	// Broker: register_broker's broker and endpoints (register.go).
	Broker *Broker `json:"broker,omitempty"`
	// Token tells the broker that proposed an alter_configs command that it
	// applied (configs.go).
	Token uint64 `json:"token,omitempty"`
}

type topicTable struct {
	byName map[string]*topicInfo
	byID   map[[16]byte]*topicInfo
	// alters: tokens of the alter_configs commands this broker's admin
	// requests wait for, true once applied (configs.go).
	alters map[uint64]bool
}

func newTopicTable() topicTable {
	return topicTable{byName: map[string]*topicInfo{}, byID: map[[16]byte]*topicInfo{}, alters: map[uint64]bool{}}
}

// sorted lists the topics by name.
func (tt topicTable) sorted() []*topicInfo {
	out := make([]*topicInfo, 0, len(tt.byName))
	for _, name := range slices.Sorted(maps.Keys(tt.byName)) {
		out = append(out, tt.byName[name])
	}
	return out
}

// names returns the topic names in order.
// collision returns an existing topic whose name differs from name only
// by '.' and '_' (Kafka refuses such a pair: both map to one metric
// name), the first by name, or "". Requests are refused (CreateTopics,
// auto-create); the apply step does not check, so a log holding such a
// pair (two creates racing) replays the same.
func (t *topicTable) collision(name string) string {
	norm := strings.ReplaceAll(name, ".", "_")
	found := ""
	for other := range t.byName { //lint:maporder-ok the first by name is kept
		if other != name && strings.ReplaceAll(other, ".", "_") == norm && (found == "" || other < found) {
			found = other
		}
	}
	return found
}

func (t *topicTable) names() []string {
	out := make([]string, 0, len(t.byName))
	for name := range t.byName { //lint:maporder-ok sorted below
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (n *Node) group(t *topicInfo, p int32) transport.GroupID {
	return transport.GroupID{TopicID: t.id, Partition: p}
}

// resolveConfigs derives the enforced settings from a topic's configs.
func (n *Node) resolveConfigs(t *topicInfo) {
	t.MinInsyncReplicas = min(n.cfg.Defaults.MinInsyncReplicas, len(t.Replicas[0]))
	t.MaxMessageBytes = n.cfg.Defaults.MaxMessageBytes
	t.LogAppendTime = false
	t.FlushMessages, t.FlushMs = 1, 0
	t.SegmentBytes = 0
	t.RetentionMs, t.RetentionBytes = n.cfg.Defaults.RetentionMs, n.cfg.Defaults.RetentionBytes
	deletes, compacted := true, t.Name == OffsetsTopic
	for _, kv := range t.Configs {
		switch kv[0] {
		case "cleanup.policy":
			deletes = strings.Contains(kv[1], "delete")
			compacted = strings.Contains(kv[1], "compact")
		case "retention.ms":
			t.RetentionMs, _ = strconv.ParseInt(kv[1], 10, 64)
		case "retention.bytes":
			t.RetentionBytes, _ = strconv.ParseInt(kv[1], 10, 64)
		case "segment.bytes":
			t.SegmentBytes, _ = strconv.ParseInt(kv[1], 10, 64)
		case "flush.messages":
			t.FlushMessages, _ = strconv.ParseInt(kv[1], 10, 64)
		case "flush.ms":
			t.FlushMs, _ = strconv.ParseInt(kv[1], 10, 64)
		case "min.insync.replicas":
			t.MinInsyncReplicas, _ = strconv.Atoi(kv[1])
		case "max.message.bytes":
			t.MaxMessageBytes, _ = strconv.Atoi(kv[1])
		case "message.timestamp.type":
			t.LogAppendTime = kv[1] == "LogAppendTime"
		}
	}
	t.DeletePolicy = deletes && t.Name != OffsetsTopic
	t.Compacted = compacted
	if !t.DeletePolicy {
		t.RetentionMs, t.RetentionBytes = -1, -1
	}
}

// applyMeta applies every newly committed metadata command.
func (n *Node) applyMeta() error {
	for {
		batches, err := n.meta.p.ReadApplied(n.metaOff, 1<<20)
		if err != nil {
			return err
		}
		if len(batches) == 0 {
			return nil
		}
		for _, b := range batches {
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(b); err != nil {
				return fmt.Errorf("node: metadata batch at %d: %w", n.metaOff, err)
			}
			recs, err := records(rb)
			if err != nil {
				return fmt.Errorf("node: metadata batch at %d: %w", rb.FirstOffset, err)
			}
			for _, r := range recs {
				var c command
				if err := json.Unmarshal(r.Value, &c); err != nil {
					n.log.Error("skipping an undecodable metadata command", "offset", rb.FirstOffset+int64(r.OffsetDelta), "err", err)
					continue
				}
				n.applyCommand(c, rb.FirstOffset+int64(r.OffsetDelta))
			}
			n.metaOff = rb.FirstOffset + int64(rb.LastOffsetDelta) + 1
		}
		n.adminProgress()
	}
}

// applyCommand applies the command at metadata offset off.
func (n *Node) applyCommand(c command, off int64) {
	n.cmdOff = off
	defer func() { n.cmdOff = -1 }()
	if c.Op == "register_broker" {
		n.applyRegister(c)
		return
	}
	id, err := parseTopicID(c.Topic.ID)
	if err != nil {
		n.log.Error("skipping a metadata command with a bad topic id", "op", c.Op, "topic", c.Topic.Name, "err", err)
		return
	}
	switch c.Op {
	case "create":
		if n.topics.byName[c.Topic.Name] != nil || n.topics.byID[id] != nil || len(c.Topic.Replicas) == 0 {
			return
		}
		t := c.Topic
		t.id = id
		n.resolveConfigs(&t)
		n.topics.byName[t.Name] = &t
		n.topics.byID[id] = &t
		n.log.Info("topic created", "topic", t.Name, "id", t.ID, "partitions", len(t.Replicas))
		n.hostPartitions(&t, 0, off)
	case "delete":
		t := n.topics.byID[id]
		if t == nil {
			return
		}
		delete(n.topics.byName, t.Name)
		delete(n.topics.byID, id)
		for i := range t.Replicas {
			n.unhost(n.group(t, int32(i)))
			delete(n.leaders, n.group(t, int32(i)))
		}
		n.log.Info("topic deleted", "topic", t.Name, "id", t.ID)
		// Groups' committed offsets of the topic go with it.
		for _, h := range n.list {
			if h != nil && h.coord != nil && !h.gone {
				h.coord.DeleteTopicOffsets(t.Name)
				n.groupsDirty = true
			}
		}
	case "add_partitions":
		t := n.topics.byID[id]
		if t == nil || len(t.Replicas) != c.From {
			return
		}
		from := len(t.Replicas)
		t.Replicas = append(t.Replicas, c.Topic.Replicas...)
		n.log.Info("partitions added", "topic", t.Name, "partitions", len(t.Replicas))
		n.hostPartitions(t, from, off)
	case "alter_configs":
		n.applyAlter(c, n.topics.byID[id])
	case "reassign":
		n.applyReassign(c, n.topics.byID[id])
	case "reassign_done":
		n.applyReassignDone(c, n.topics.byID[id])
	default:
		n.log.Error("skipping an unknown metadata command", "op", c.Op)
	}
}

// hostPartitions opens this broker's replicas of t's partitions from on,
// created by the metadata command at offset off: amnesic unless this
// storage was born at or before off (born.go).
func (n *Node) hostPartitions(t *topicInfo, from int, off int64) {
	amnesic := !n.joined(off)
	for i := from; i < len(t.Replicas); i++ {
		reps := t.Replicas[i]
		if !slices.Contains(reps, int32(n.self)) {
			continue
		}
		voters := make([]uint64, len(reps))
		for j, r := range reps {
			voters[j] = uint64(r)
		}
		slices.Sort(voters)
		g := n.group(t, int32(i))
		if _, err := n.host(g, t.Name, voters, reps[0] == int32(n.self), amnesic); err != nil {
			n.hostLater(g, t.Name, voters, amnesic, err)
		}
	}
}

func parseTopicID(s string) ([16]byte, error) {
	var id [16]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("topic id %q is not 32 hex digits", s)
	}
	copy(id[:], b)
	if id == ([16]byte{}) {
		return id, fmt.Errorf("topic id is the reserved zero id")
	}
	return id, nil
}

// newTopicID draws a topic id from the environment's random source.
func (n *Node) newTopicID() [16]byte {
	var id [16]byte
	for id == ([16]byte{}) {
		binary.BigEndian.PutUint64(id[:8], n.cfg.Env.Rand.Uint64())
		binary.BigEndian.PutUint64(id[8:], n.cfg.Env.Rand.Uint64())
	}
	return id
}

// assign places partitions from..from+count-1 with rf replicas each:
// round-robin over the brokers from a random start, so replicas and
// preferred leaders (the first replica) spread evenly.
func (n *Node) assign(from, count int, rf int) [][]int32 {
	ids := make([]int32, len(n.cfg.Brokers))
	for i, b := range n.cfg.Brokers {
		ids[i] = b.ID
	}
	slices.Sort(ids)
	start := n.cfg.Env.Rand.IntN(len(ids))
	out := make([][]int32, count)
	for p := range out {
		reps := make([]int32, rf)
		for j := range reps {
			reps[j] = ids[(start+from+p+j)%len(ids)]
		}
		out[p] = reps
	}
	return out
}

// proposeMeta proposes c to the metadata group if this broker leads it,
// else forwards it to the leader (when forward is set). It reports whether
// the command went anywhere.
func (n *Node) proposeMeta(c command, forward bool) bool {
	data, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("node: marshal metadata command: %v", err))
	}
	if lead, _ := n.meta.p.Leader(); lead == n.self {
		n.nextID++
		n.meta.p.Produce(partition.ProduceRequest{ID: n.nextID, Batch: recordBatch(data, n.nowMs), Acks: partition.AcksAll})
		n.meta.dirty = true
		return true
	} else if forward && lead != 0 {
		n.forward = append(n.forward, transport.Forward{Group: transport.MetadataGroup, Data: data})
		return true
	}
	return false
}

// proposeForwarded proposes a command another broker forwarded, if this
// broker leads the metadata group. Only commands that apply at most once
// however often they are proposed are accepted this way: create, delete,
// add_partitions (at its partition count), alter_configs (at its config
// generation), reassign_done (at its target) and register_broker (a
// broker not yet known with those endpoints).
func (n *Node) proposeForwarded(f transport.Forward) {
	if f.Group != transport.MetadataGroup {
		return
	}
	var c command
	if err := json.Unmarshal(f.Data, &c); err != nil || c.Op != "create" && c.Op != "delete" && c.Op != "add_partitions" && c.Op != "alter_configs" && c.Op != "reassign_done" && c.Op != "register_broker" {
		n.log.Warn("dropped a malformed forwarded metadata command", "err", err)
		return
	}
	switch t := n.topics.byName[c.Topic.Name]; {
	case c.Op == "create" && t != nil:
		return
	case c.Op == "delete" && (t == nil || t.ID != c.Topic.ID):
		return // already gone
	case c.Op == "add_partitions" && (t == nil || t.ID != c.Topic.ID || len(t.Replicas) != c.From):
		return // it would not apply
	case c.Op == "register_broker" && (c.Broker == nil || n.knownBroker(*c.Broker)):
		return // known already: nothing to record
	case c.Op == "alter_configs" && (t == nil || t.ID != c.Topic.ID || t.configGen != c.From):
		return // it would not apply
	}
	n.proposeMeta(c, false)
}

// controller is the broker that leads the metadata group, -1 if unknown.
func (n *Node) controller() int32 {
	if lead, _ := n.meta.p.Leader(); lead != 0 {
		return int32(lead)
	}
	return -1
}

// recordBatch encodes one uncompressed magic-2 batch holding one record.
func recordBatch(value []byte, nowMs int64) []byte {
	return keyedBatch([]groups.Record{{Value: value}}, nowMs)
}

// records decodes the records of an uncompressed batch.
func records(rb kmsg.RecordBatch) ([]kmsg.Record, error) {
	if rb.Attributes&0x07 != 0 {
		return nil, fmt.Errorf("compressed metadata batch")
	}
	raw := rb.Records
	out := make([]kmsg.Record, 0, rb.NumRecords)
	for i := int32(0); i < rb.NumRecords; i++ {
		size, used := binary.Varint(raw)
		if used <= 0 || size < 0 || int64(len(raw)-used) < size {
			return nil, fmt.Errorf("record %d is truncated", i)
		}
		var r kmsg.Record
		if err := r.ReadFrom(raw[:used+int(size)]); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		raw = raw[used+int(size):]
		out = append(out, r)
	}
	return out, nil
}
