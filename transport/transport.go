package transport

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"strconv"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// GroupID names a raft group: a Kafka partition by topic id, never by topic
// name, so that a topic deleted and re-created under the same name is a
// different group (DESIGN.md step 8).
type GroupID struct {
	TopicID   [16]byte
	Partition int32
}

// MetadataGroup is the controller's raft group. Its all-zero topic id is the
// UUID Kafka reserves (Uuid.ZERO_UUID) and never assigns to a topic, so it
// cannot collide with a partition. It is the zero GroupID.
var MetadataGroup = GroupID{}

// String formats g as Kafka prints topic ids (URL-safe base64, no padding),
// a colon and the partition, so ids in logs match what admin tools show.
func (g GroupID) String() string {
	if g == MetadataGroup {
		return "metadata"
	}
	return base64.RawURLEncoding.EncodeToString(g.TopicID[:]) + ":" + strconv.Itoa(int(g.Partition))
}

// Compare orders groups by topic id bytes, then partition; it returns -1, 0
// or +1. The metadata group sorts first.
func (g GroupID) Compare(h GroupID) int {
	if c := bytes.Compare(g.TopicID[:], h.TopicID[:]); c != 0 {
		return c
	}
	return cmp.Compare(g.Partition, h.Partition)
}

// Less is the total order of Compare, for deterministic iteration over
// groups kept in maps.
func (g GroupID) Less(h GroupID) bool { return g.Compare(h) < 0 }

// Envelope is one raft message for one group.
type Envelope struct {
	Group GroupID
	Msg   *raftpb.Message
}

// LeaderInfo is one entry of the leader table (DESIGN.md step 9): a partition
// leader broadcasts it to every broker when leadership changes and on every
// heartbeat interval; receivers keep the entry with the highest Term.
type LeaderInfo struct {
	Group  GroupID
	Term   uint64
	Leader uint64
	ISR    []uint64
}

// Incarnation announces a broker's storage identity (DESIGN.md step 8),
// with the groups in which its replica is amnesic: its storage is new (a
// wiped disk, a replacement), so it must not vote until re-added. The leader
// of each such group removes the old member and re-adds it as a learner
// under Incarnation, because a wiped disk must not vote.
type Incarnation struct {
	Node        uint64
	ClusterID   [16]byte
	Incarnation [16]byte
	Amnesic     []GroupID
}

// Forward asks the receiver, if it leads Group, to propose Data there. The
// sender never learns the proposal's fate, so only commands whose effect is
// idempotent travel this way (creating a topic that may already exist).
// Data partitions never use it (DESIGN.md step 1); the metadata group does,
// for topics a non-controller broker auto-creates.
type Forward struct {
	Group GroupID
	Data  []byte
}

// Batch is what one node sends another in one go: raft messages of many
// groups plus the control messages that travel the same links. Every raft
// message in Msgs is from From to To.
type Batch struct {
	From, To     uint64
	Msgs         []Envelope
	Leaders      []LeaderInfo
	Incarnations []Incarnation
	Forwards     []Forward
}

// Fixed costs SizeBytes adds to the protobuf sizes, roughly what a frame
// spends on ids and length prefixes. They need not match any wire format
// exactly: they exist so that a batch of many tiny messages is not counted as
// almost free when bounding queues.
const (
	batchOverheadBytes       = 16         // From, To
	envelopeOverheadBytes    = 16 + 4 + 4 // topic id, partition, message length
	leaderInfoOverheadBytes  = 16 + 4 + 8 + 8 + 4
	isrMemberBytes           = 8
	incarnationOverheadBytes = 8 + 16 + 16
	groupIDBytes             = 16 + 4
	forwardOverheadBytes     = 16 + 4 + 4
)

// SizeBytes estimates the encoded size of b: the protobuf size of every raft
// message plus fixed per-item costs. Every Transport bounds its queues with it,
// so the in-memory and TCP transports drop at the same points.
func (b Batch) SizeBytes() int {
	n := batchOverheadBytes
	for _, e := range b.Msgs {
		n += envelopeOverheadBytes + proto.Size(e.Msg)
	}
	for _, l := range b.Leaders {
		n += leaderInfoOverheadBytes + isrMemberBytes*len(l.ISR)
	}
	for _, f := range b.Forwards {
		n += forwardOverheadBytes + len(f.Data)
	}
	for _, inc := range b.Incarnations {
		n += incarnationOverheadBytes + groupIDBytes*len(inc.Amnesic)
	}
	return n
}

// empty reports whether b carries nothing.
func (b Batch) empty() bool {
	return len(b.Msgs) == 0 && len(b.Leaders) == 0 && len(b.Incarnations) == 0 && len(b.Forwards) == 0
}

// Validate checks what every transport relies on: both ends are raft node ids
// (never 0, raft's None), a node never sends to itself (raft does not), and
// every raft message is present and goes from From to To. A sender breaking
// this has a bug; a receiver decoding a batch off the network treats it as a
// malformed frame.
func (b Batch) Validate() error {
	switch {
	case b.From == 0 || b.To == 0:
		return fmt.Errorf("transport: batch from node %d to node %d: node id 0 is raft's None", b.From, b.To)
	case b.From == b.To:
		return fmt.Errorf("transport: batch from node %d to itself: raft never sends to itself", b.From)
	}
	for i, e := range b.Msgs {
		if e.Msg == nil {
			return fmt.Errorf("transport: batch from node %d to node %d: Msgs[%d] (group %v) is nil", b.From, b.To, i, e.Group)
		}
		if e.Msg.GetFrom() != b.From || e.Msg.GetTo() != b.To {
			return fmt.Errorf("transport: batch from node %d to node %d: Msgs[%d] (group %v, %v) is from node %d to node %d",
				b.From, b.To, i, e.Group, e.Msg.GetType(), e.Msg.GetFrom(), e.Msg.GetTo())
		}
	}
	return nil
}

// Transport sends batches to other nodes. Sending never blocks and never
// fails synchronously: raft tolerates lost messages, so a transport that
// cannot deliver a batch (queue full, peer down, link cut) drops it and tells
// the sending node through its Reporter, which lets raft stop pipelining to
// that peer (ReportUnreachable) or retry a snapshot (ReportSnapshot).
//
// Send copies b's slices, so the caller may reuse them once Send returns.
// What they point to (messages, ISR slices) is shared with the receiver: no
// one may mutate it after Send.
type Transport interface {
	Send(b Batch)
}

// Reporter is what a transport tells the sending node about its raft
// messages; the node passes it on to the group's RawNode. Methods are called
// synchronously from inside the transport, so an implementation should only
// record the report and act on it on its next step.
type Reporter interface {
	// Unreachable reports that a message of group to node was dropped; the
	// node calls RawNode.ReportUnreachable(node).
	Unreachable(group GroupID, node uint64)
	// SnapshotStatus reports that a MsgSnap of group to node was delivered
	// (ok) or dropped; the node calls RawNode.ReportSnapshot.
	SnapshotStatus(group GroupID, node uint64, ok bool)
}

// ReportDropped tells r that batches were dropped: Unreachable once per group
// (in order of first appearance) and SnapshotStatus(false) per MsgSnap. A nil
// r discards the reports.
func ReportDropped(r Reporter, batches ...Batch) {
	if r == nil {
		return
	}
	seen := map[GroupID]bool{}
	for _, b := range batches {
		for _, e := range b.Msgs {
			if !seen[e.Group] {
				seen[e.Group] = true
				r.Unreachable(e.Group, b.To)
			}
			if e.Msg.GetType() == raftpb.MsgSnap {
				r.SnapshotStatus(e.Group, b.To, false)
			}
		}
	}
}
