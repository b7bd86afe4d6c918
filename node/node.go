package node

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/env"
	"sluice/node/groups"
	"sluice/partition"
	"sluice/raftlog"
	"sluice/raftlog/vfs"
	"sluice/transport"
)

// Broker is one member of the cluster as clients reach it.
type Broker struct {
	ID   int32
	Host string
	Port int32
	// RaftAddr is where the broker's raft transport listens (empty when
	// the network needs no address, as in one process).
	RaftAddr string `json:",omitempty"`
}

// TopicDefaults are what auto-created topics, and CreateTopics requests that
// leave a field at -1, get.
type TopicDefaults struct {
	Partitions        int32 // num.partitions; default 1
	ReplicationFactor int16 // default.replication.factor; default min(3, brokers)
	MinInsyncReplicas int   // min.insync.replicas; default 2 (capped at RF)
	MaxMessageBytes   int   // max.message.bytes; default 1 MiB
	// RetentionMs and RetentionBytes: log.retention.ms (default 7 days, as
	// Kafka's) and log.retention.bytes (default -1: unlimited); -1 keeps
	// records for ever.
	RetentionMs, RetentionBytes int64
}

// Config configures one broker's node core.
type Config struct {
	ID        int32
	ClusterID string // Kafka's cluster id, reported in Metadata
	// Incarnation identifies this broker's storage; a new one is created
	// with every new data directory and never reused (DESIGN.md step 8).
	Incarnation [16]byte
	// Join: this broker's storage is new but the cluster already exists (a
	// wiped disk, or a replacement). Its replicas open amnesic — they never
	// vote under the broker's old identity — until each group's leader
	// re-adds them (born.go). It matters only for a data directory without
	// state: once the broker has started, its directory remembers.
	Join bool
	// Brokers lists every broker of the cluster, this one included. Until
	// the controller lands membership is static: the metadata group's
	// voters are these brokers.
	Brokers []Broker
	FS      vfs.FS
	Dir     string // the data directory within FS
	Env     env.Env
	// Allocator hands out segment files (default: created empty). Brokers
	// leave it unset: with group commit by syncfs a writer.Pool's
	// background zero-filling is flushed inside the commits (see the note
	// on Preallocation in the README).
	Allocator    raftlog.Allocator
	SegmentBytes int64
	// TickMs is the interval between Tick calls (default 100): raft's
	// election and heartbeat ticks and every timeout count in it.
	TickMs int64
	// ElectionTicks and HeartbeatTicks configure every raft group
	// (defaults 10 and 1).
	ElectionTicks, HeartbeatTicks int
	// MaxSizePerMsg bounds one raft append message, MaxInflightMsgs the
	// appends in flight to one follower (partition.Config's defaults when
	// zero: 1 MiB, 256).
	MaxSizePerMsg   uint64
	MaxInflightMsgs int
	// BroadcastTicks is the interval of leader-table broadcasts and of the
	// node's liveness announcements (default 5).
	BroadcastTicks int64
	// LeaderBalanceTicks is how often a leader hands partitions back to
	// their preferred replicas (balance.go; default 3000, 5 minutes at
	// 100 ms ticks, as Kafka's leader.imbalance.check.interval.seconds;
	// negative: never).
	LeaderBalanceTicks int64
	Defaults           TopicDefaults
	// RetentionCheckMs is how often replicas apply retention
	// (log.retention.check.interval.ms; default 300000, Kafka's).
	RetentionCheckMs int64
	// DisableAutoCreate turns off auto.create.topics.enable.
	DisableAutoCreate bool
	// Bounds (defaults): produce requests waiting for acks (10,000), parked
	// fetches (10,000).
	MaxPendingProduces int
	MaxParkedFetches   int
	// Groups configures consumer groups and __consumer_offsets.
	Groups GroupConfig
}

func (c Config) withDefaults() Config {
	if c.TickMs == 0 {
		c.TickMs = 100
	}
	if c.BroadcastTicks == 0 {
		c.BroadcastTicks = 5
	}
	if c.LeaderBalanceTicks == 0 {
		c.LeaderBalanceTicks = 3000
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.Defaults.Partitions == 0 {
		c.Defaults.Partitions = 1
	}
	if c.Defaults.ReplicationFactor == 0 {
		c.Defaults.ReplicationFactor = int16(min(3, len(c.Brokers)))
	}
	if c.Defaults.MinInsyncReplicas == 0 {
		c.Defaults.MinInsyncReplicas = 2
	}
	if c.Defaults.MaxMessageBytes == 0 {
		c.Defaults.MaxMessageBytes = 1 << 20
	}
	if c.Defaults.RetentionMs == 0 {
		c.Defaults.RetentionMs = defaultRetentionMs
	}
	if c.Defaults.RetentionBytes == 0 {
		c.Defaults.RetentionBytes = -1
	}
	if c.RetentionCheckMs == 0 {
		c.RetentionCheckMs = 300000
	}
	if c.MaxPendingProduces == 0 {
		c.MaxPendingProduces = 10000
	}
	if c.MaxParkedFetches == 0 {
		c.MaxParkedFetches = 10000
	}
	if c.Env.Log == nil {
		c.Env.Log = env.DiscardLogger()
	}
	if c.Groups.OffsetsPartitions == 0 {
		c.Groups.OffsetsPartitions = 50
	}
	if c.Groups.OffsetsReplicationFactor == 0 {
		c.Groups.OffsetsReplicationFactor = int16(min(3, len(c.Brokers)))
	}
	if c.Groups.MaxPendingCalls == 0 {
		c.Groups.MaxPendingCalls = 10000
	}
	return c
}

// Request is one decoded Kafka request from a client connection.
type Request struct {
	Conn uint64 // the runtime's connection id
	Seq  uint64 // the request's place on its connection
	// Key and Version are the header's; Msg is nil when the body could not
	// be decoded at that version (an unsupported version).
	Key, Version int16
	ClientID     string
	// ClientHost is the client's address as Kafka shows it ("/127.0.0.1"),
	// for group membership.
	ClientHost string
	Msg        kmsg.Request
}

// Response answers the Request with the same Conn and Seq. Responses on a
// connection must be written in Seq order; one with a nil Msg writes
// nothing (acks=0) but lets later ones go.
type Response struct {
	Conn, Seq uint64
	Key       int16
	Msg       kmsg.Response
	// Close: close the connection after writing what precedes it (an
	// acks=0 produce failed, as Kafka does).
	Close bool
}

// Write is a disk write of one partition's log: run W.Round, then report it
// with WriteDone.
type Write struct {
	Group transport.GroupID
	W     *partition.Write
	gen   uint64
}

// Read is a cold fetch read: run Plan.Execute off the event loop, then
// report it with ReadDone.
type Read struct {
	ID   uint64
	Plan *partition.FetchPlan
}

// Output is what one call to Ready hands back to the runtime.
type Output struct {
	Batches   []transport.Batch // to peers
	Writes    []Write
	Reads     []Read
	Responses []Response
	// Peers are brokers added to the cluster, or whose endpoints changed
	// (register.go): the runtime dials their raft addresses.
	Peers []Broker
}

// hosted is a partition replica on this broker.
type hosted struct {
	g     transport.GroupID
	topic string
	p     *partition.Partition
	log   *raftlog.Log
	// gen counts reopenings; writes of an earlier life are ignored.
	gen      uint64
	inflight int // writes handed out and not yet done
	dirty    bool
	ticking  bool
	// Leadership as last seen, to log and broadcast changes.
	leader, term uint64
	isr          []uint64
	stoppedAt    int64 // tick of the storage error that stopped it
	voters       []uint64
	campaignAt   int64 // tick at which the designated first leader campaigns (0: none pending)
	meta         bool  // the metadata group
	hw           int64 // high watermark as last seen
	// amnesic: opened without voters (born.go), so that an empty log does
	// not bootstrap as a voter; voters stays the assignment.
	amnesic bool
	// coord: a __consumer_offsets replica's group coordinator, fed the
	// partition's committed records up to coordOff (coordinator.go).
	coord    *groups.Coordinator
	coordOff int64
	// reassignAt: tick this leader last proposed the end of its
	// partition's reassignment (reassign.go).
	reassignAt int64
	gone       bool // unhosted (loops over a copy of Node.list skip it)
	// Resign's view of a handed-over group: the voter it last handed it
	// to, whether it saw another leader since (resignAway), and the voters
	// that handed it back.
	resignTo      uint64
	resignAway    bool
	resignBounced []uint64
}

// Node is one broker's deterministic core.
type Node struct {
	cfg  Config
	log  *slog.Logger
	self uint64

	nowMs int64
	ticks int64
	// txnRefusedMs: when a transactional client was last logged as
	// refused (findcoordinator.go), so a client retrying logs once in a
	// while, not per request.
	txnRefusedMs int64

	opening bool // replaying the metadata log in Open
	// cmdOff is the metadata offset of the command being applied, -1
	// outside one (assigned.go).
	cmdOff int64
	stats  Stats
	hosts  map[transport.GroupID]*hosted
	order  []transport.GroupID // sorted keys of hosts
	// list holds the hosts in order, for loops without map lookups; a loop
	// that may unhost must skip nil entries (slices.Delete clears the
	// tail of the array it ranges over) and gone ones.
	list []*hosted
	meta *hosted
	// unopened: replicas that failed to open, retried (hostlater.go).
	unopened []unopened
	// diskLow: free space is below the runtime's threshold (diskspace.go);
	// traffic counts record bytes per topic.
	diskLow bool
	traffic map[string]*TopicBytes
	// resigning: a graceful shutdown is handing leadership away
	// (resign.go); the broker starts no campaign of its own.
	resigning bool
	metaOff   int64 // next metadata offset to apply
	// born is the metadata offset at which this storage was born, or
	// bornJoining (born.go).
	born   int64
	topics topicTable

	leaders map[transport.GroupID]transport.LeaderInfo
	// announce are leader-table entries changed since the last broadcast.
	announce []transport.LeaderInfo
	// heard: last tick each broker was heard from.
	heard   map[uint64]int64
	forward []transport.Forward

	nextID   uint64
	produces map[uint64]*pendingProduce // by partition request id
	produceQ []*pendingProduce          // in arrival order, for timeouts
	// deleteRecs: DeleteRecords requests waiting, by partition request
	// id; deleteQ in arrival order, for timeouts (deleterecords.go).
	deleteRecs map[uint64]*pendingDeleteRecords
	deleteQ    []*pendingDeleteRecords
	acks0      map[uint64]*acks0 // acks=0 partition request ids, this turn only
	acks0list  []*acks0
	fetches    []*pendingFetch
	reads      map[uint64]*pendingFetch
	readSlots  map[uint64]*fetchSlot
	moved      map[transport.GroupID]bool // high watermark moved this turn
	admin      []*adminWait
	// Group coordinators (coordinator.go): requests waiting on them, their
	// appends in flight by produce id, and whether they have output.
	groupCalls   map[uint64]*groupFan
	groupAppends map[uint64]groupAppend
	groupsDirty  bool
	out          Output
	outBatch     map[uint64]*transport.Batch
	batchDest    []uint64
}

// Open starts a node from its data directory: the metadata log, then every
// partition the metadata assigns to this broker.
func Open(cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	cfg.Env.Check()
	n := &Node{
		cfg: cfg, log: cfg.Env.Log.With("broker", cfg.ID), self: uint64(cfg.ID), cmdOff: -1,
		hosts: map[transport.GroupID]*hosted{}, leaders: map[transport.GroupID]transport.LeaderInfo{},
		heard:    map[uint64]int64{},
		produces: map[uint64]*pendingProduce{}, deleteRecs: map[uint64]*pendingDeleteRecords{}, acks0: map[uint64]*acks0{}, reads: map[uint64]*pendingFetch{}, readSlots: map[uint64]*fetchSlot{}, moved: map[transport.GroupID]bool{},
		outBatch:   map[uint64]*transport.Batch{},
		topics:     newTopicTable(),
		groupCalls: map[uint64]*groupFan{}, groupAppends: map[uint64]groupAppend{},
	}
	if !slices.ContainsFunc(cfg.Brokers, func(b Broker) bool { return b.ID == cfg.ID }) {
		return nil, fmt.Errorf("node: broker %d is not in the broker list", cfg.ID)
	}
	born, err := n.openBorn()
	if err != nil {
		return nil, err
	}
	n.born = born
	voters := n.brokerIDs()
	// A joining broker opens the metadata group amnesic.
	h, err := n.host(transport.MetadataGroup, "", voters, voters[0] == n.self, born == bornJoining)
	if err != nil {
		return nil, err
	}
	h.meta = true
	n.meta = h
	n.checkBorn() // re-added before a restart, but born not yet recorded
	// Replay the metadata log: it hosts this broker's partitions.
	n.opening = true
	err = n.applyMeta()
	n.opening = false
	if err != nil {
		return nil, err
	}
	n.log.Info("broker started", "brokers", len(cfg.Brokers), "topics", len(n.topics.byName), "partitions", len(n.hosts)-1,
		"joining", n.born == bornJoining)
	return n, nil
}

// groupDir is where a group's log lives in the data directory.
func (n *Node) groupDir(g transport.GroupID) string {
	if g == transport.MetadataGroup {
		return vfs.Join(n.cfg.Dir, "metadata")
	}
	return vfs.Join(n.cfg.Dir, "topics", groupName(g))
}

// groupName is a topic partition's directory name: topic id and partition.
func groupName(g transport.GroupID) string {
	return hex.EncodeToString(g.TopicID[:]) + "-" + strconv.Itoa(int(g.Partition))
}

// host opens (or creates) the replica of group g. campaign: on a fresh
// log, this replica is the designated first leader and campaigns at once
// instead of waiting out an election timeout. amnesic: open it without
// voters, so an empty log waits to be re-added instead of bootstrapping
// (born.go).
func (n *Node) host(g transport.GroupID, topicName string, voters []uint64, campaign, amnesic bool) (*hosted, error) {
	campaign = campaign && !amnesic
	h := &hosted{g: g, topic: topicName, voters: voters, amnesic: amnesic}
	// A new topic's partition: the other replicas open the group only when
	// they apply the same metadata command, a tick or two later, and drop
	// votes for a group they do not host yet; so the first replica waits
	// that long before campaigning. At startup (the metadata group, or
	// replaying the metadata log) every replica opens at once.
	delay := campaign && !n.opening
	if off := n.cmdOff; off >= 0 && g != transport.MetadataGroup {
		exists := n.groupDirExists(g)
		if exists {
			if at, ok := n.readAssigned(g); ok && at < off {
				// Left by an older assignment whose removal failed: this
				// one starts afresh. (A replica assigned here all along
				// that could not open is retried by retryUnopened, never
				// hosted anew.)
				n.log.Warn("removing a replica's files left by an older assignment", "group", g, "topic", topicName, "assigned_at", at, "now", off)
				n.removeFiles(g, topicName)
				exists = false
			}
		}
		if !exists {
			// A new directory: record which command creates it before
			// anything is in it, so no failed open or crash leaves it of
			// unknown age (a record without a directory is harmless).
			if err := n.writeAssigned(g, off); err != nil {
				return nil, err
			}
		}
	}
	if err := n.open(h, campaign && !delay); err != nil {
		return nil, err
	}
	if delay {
		h.campaignAt = n.ticks + campaignDelayTicks
	}
	if topicName == OffsetsTopic {
		n.hostCoordinator(h)
	}
	n.hosts[g] = h
	i, _ := slices.BinarySearchFunc(n.order, g, transport.GroupID.Compare)
	n.order = slices.Insert(n.order, i, g)
	n.list = slices.Insert(n.list, i, h)
	return h, nil
}

func (n *Node) partitionConfig(h *hosted) partition.Config {
	pc := partition.Config{
		ID: n.self, Group: h.g, Voters: h.voters,
		ElectionTicks: n.cfg.ElectionTicks, HeartbeatTicks: n.cfg.HeartbeatTicks,
		MaxSizePerMsg: n.cfg.MaxSizePerMsg, MaxInflightMsgs: n.cfg.MaxInflightMsgs,
		Incarnation: n.cfg.Incarnation,
	}
	if h.amnesic {
		// Also on a log that holds state: a replica opened amnesic whose
		// log lost its amnesia record opens amnesic again.
		pc.Voters = nil
	}
	if t := n.topics.byName[h.topic]; t != nil && !h.meta {
		pc.MinInsyncReplicas = t.MinInsyncReplicas
		pc.MaxMessageBytes = t.MaxMessageBytes
		pc.LogAppendTime = t.LogAppendTime
		pc.Compacted = t.Compacted
		pc.FlushMessages, pc.FlushMs = t.FlushMessages, t.FlushMs
	}
	if h.meta {
		// Metadata commands are small; the broker list is the voter set.
		pc.MaxMessageBytes = 1 << 20
	}
	return pc
}

// segmentBytes is the segment size of h's log: its topic's segment.bytes,
// else the broker's.
func (n *Node) segmentBytes(h *hosted) int64 {
	if t := n.topics.byName[h.topic]; t != nil && !h.meta && t.SegmentBytes > 0 {
		return t.SegmentBytes
	}
	return n.cfg.SegmentBytes
}

func (n *Node) open(h *hosted, campaign bool) error {
	l, err := raftlog.Open(n.cfg.FS, n.groupDir(h.g), raftlog.Options{SegmentBytes: n.segmentBytes(h), Allocator: n.cfg.Allocator})
	if err != nil {
		return fmt.Errorf("node: open %v: %w", h.g, err)
	}
	p, err := partition.Open(n.partitionConfig(h), l)
	if err != nil {
		l.Close()
		return fmt.Errorf("node: open %v: %w", h.g, err)
	}
	p.SetClock(n.nowMs) // before its first tick, what it stamps is now
	if t := n.topics.byName[h.topic]; t != nil && !h.meta && t.Targets != nil {
		if target, ok := t.Targets[h.g.Partition]; ok {
			p.SetAssignment(int32sToIDs(target)) // a reassignment under way
		}
	}
	p.Tick(n.nowMs)
	// The designated replica campaigns at once (PreVote keeps this from
	// disturbing a live leader when it is only this replica restarting).
	if campaign {
		if err := p.Campaign(); err != nil {
			n.log.Warn("campaign at bootstrap failed", "group", h.g, "err", err)
		}
	}
	h.p, h.log, h.dirty, h.ticking = p, l, true, true
	h.gen++
	return nil
}

// abandonWaiting answers the produce and DeleteRecords requests waiting on
// a replica that is being closed (removed, or reopened after a storage
// error) at once, NOT_LEADER_OR_FOLLOWER, rather than at their timeouts.
func (n *Node) abandonWaiting(h *hosted) {
	for _, r := range h.p.AbandonProduces() {
		n.produceResult(h, r)
	}
	for _, d := range h.p.AbandonDeletes() {
		n.deleteRecordsResult(d)
	}
}

// unhost closes the replica of g and deletes its files (its topic deleted,
// or the replica moved away), unless they belong to a later assignment
// (assigned.go).
func (n *Node) unhost(g transport.GroupID) {
	h := n.hosts[g]
	topic := ""
	switch i := n.unopenedAt(g); {
	case h != nil:
		topic = h.topic
		n.closeHosted(h)
	case i >= 0:
		// Assigned here but not open (a storage error): no longer retried,
		// and its files go as an open replica's would.
		topic = n.unopened[i].topic
		n.unopened = slices.Delete(n.unopened, i, i+1)
	default:
		return // nothing of it here
	}
	if at, ok := n.readAssigned(g); ok && n.cmdOff >= 0 && at > n.cmdOff {
		// Replaying the metadata log: the files belong to a later
		// assignment (the replica moved away, then back), which the replay
		// reaches or the metadata group applies once the broker runs.
		return
	}
	n.removeFiles(g, topic)
}

// closeReplica closes an open replica's log: its coordinator stops and
// the requests waiting on it are answered (unhost, or a reopen).
func (n *Node) closeReplica(h *hosted) {
	if h.coord != nil {
		h.coord.Deactivate()
		n.forgetAppends(h.g)
		n.groupsDirty = true
	}
	n.abandonWaiting(h)
	h.log.Close()
}

// closeHosted closes an open replica and forgets it.
func (n *Node) closeHosted(h *hosted) {
	g := h.g
	n.closeReplica(h)
	// Fetches parked on it are answered now, not at their MaxWait (as
	// Kafka completes a stopped partition's delayed fetches).
	n.moved[g] = true
	h.gone = true
	delete(n.hosts, g)
	if i, ok := slices.BinarySearchFunc(n.order, g, transport.GroupID.Compare); ok {
		n.order = slices.Delete(n.order, i, i+1)
		n.list = slices.Delete(n.list, i, i+1)
	}
	delete(n.leaders, g)
}

// removeFiles deletes a closed replica's files.
func (n *Node) removeFiles(g transport.GroupID, topic string) {
	dir := n.groupDir(g)
	names, _ := n.cfg.FS.List(dir)
	for _, name := range names {
		_ = n.cfg.FS.Remove(vfs.Join(dir, name))
	}
	_ = n.cfg.FS.Remove(dir)
	// The record goes after the directory is gone for good: a directory
	// left without it would count as of unknown age.
	topics := vfs.Join(n.cfg.Dir, "topics")
	_ = n.cfg.FS.SyncDir(topics)
	_ = n.cfg.FS.Remove(n.assignedPath(g))
	_ = n.cfg.FS.SyncDir(topics)
	n.log.Info("partition removed", "group", g, "topic", topic)
}

// campaignDelayTicks: how long the first replica of a new partition waits
// for the others to open it before campaigning.
const campaignDelayTicks = 3

// SetNow moves the clock to nowMs between ticks, without ticking: the
// runtime calls it before handing over requests, so that a LogAppendTime
// stamp (and a produce's replicated time) is the time the request is
// handled, not the last tick's, up to a tick interval earlier (found by a
// kcat review: a record produced after T was stamped before T, and a
// ListOffsets for T skipped it). The clock never moves back.
func (n *Node) SetNow(nowMs int64) { n.nowMs = max(n.nowMs, nowMs) }

// Tick advances the clock: raft ticks, produce timeouts, fetch deadlines,
// broadcasts, and reopening partitions stopped by storage errors.
func (n *Node) Tick(nowMs int64) {
	n.nowMs = nowMs
	n.ticks++
	suspect := n.suspectPeers()
	for _, h := range n.list {
		if h.p.Err() != nil {
			n.maybeReopen(h)
			continue
		}
		if len(suspect) > 0 && h.p.Quiesced() && sharesAny(h.voters, suspect) {
			h.p.Wake()
		}
		if h.ticking || !h.p.Quiesced() {
			h.p.Tick(nowMs)
			h.dirty = true
		} else {
			h.p.SetClock(nowMs)
		}
		if h.campaignAt != 0 && n.ticks >= h.campaignAt && !n.resigning {
			h.campaignAt = 0
			if lead, _ := h.p.Leader(); lead == 0 {
				if err := h.p.Campaign(); err != nil {
					n.log.Warn("campaign failed", "group", h.g, "err", err)
				}
				h.dirty = true
			}
		}
	}
	if n.born == bornJoining {
		n.checkBorn() // a failed write of the born file is retried
	}
	n.expireProduces()
	n.expireDeleteRecords()
	n.expireFetches()
	n.expireAdmin()
	n.checkReassignments()
	n.retryUnopened()
	n.balanceLeaders()
	n.checkRetention()
	for _, h := range n.list {
		if h.coord != nil && h.coord.Active() {
			h.coord.Tick(nowMs)
			n.groupsDirty = true
		}
	}
	if n.ticks%n.cfg.BroadcastTicks == 0 {
		n.broadcast()
		n.sendRegistration()
	}
}

// suspectPeers lists brokers not heard from within an election timeout.
func (n *Node) suspectPeers() []uint64 {
	var out []uint64
	for _, b := range n.cfg.Brokers {
		id := uint64(b.ID)
		if id == n.self {
			continue
		}
		if n.ticks-n.heard[id] > int64(n.cfg.ElectionTicks) {
			out = append(out, id)
		}
	}
	return out
}

func sharesAny(a, b []uint64) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// reopenTicks is how long a partition stopped by a storage error waits
// before it is reopened from disk (fail-stop, then recover).
const reopenTicks = 10

func (n *Node) maybeReopen(h *hosted) {
	if h.stoppedAt == 0 {
		h.stoppedAt = n.ticks
		n.log.Error("partition stopped on a storage error", "group", h.g, "topic", h.topic, "err", h.p.Err())
	}
	if h.inflight > 0 || n.ticks-h.stoppedAt < reopenTicks {
		return
	}
	n.closeReplica(h)
	if err := n.open(h, false); err != nil {
		h.stoppedAt = n.ticks
		n.log.Warn("partition reopen failed; retrying", "group", h.g, "err", err)
		return
	}
	h.stoppedAt = 0
	n.log.Info("partition reopened from disk", "group", h.g, "topic", h.topic)
}

// Receive takes a batch from a peer.
func (n *Node) Receive(b transport.Batch) {
	if err := b.Validate(); err != nil || b.To != n.self {
		n.log.Warn("dropped a malformed batch", "from", b.From, "to", b.To, "err", err)
		return
	}
	n.heard[b.From] = n.ticks
	for _, e := range b.Msgs {
		h := n.hosts[e.Group]
		if h == nil {
			// A group this broker does not host (yet): never created from a
			// message, only from the metadata.
			n.stats.UnknownGroupMsgs++
			continue
		}
		if err := h.p.Step(e.Msg); err != nil {
			n.log.Debug("step failed", "group", e.Group, "type", e.Msg.GetType(), "err", err)
		}
		h.dirty = true
	}
	for _, li := range b.Leaders {
		n.noteLeader(li)
	}
	for _, inc := range b.Incarnations {
		n.noteIncarnation(inc)
	}
	for _, f := range b.Forwards {
		n.proposeForwarded(f)
	}
}

// noteLeader keeps the leader-table entry with the highest term.
func (n *Node) noteLeader(li transport.LeaderInfo) {
	if cur, ok := n.leaders[li.Group]; ok && cur.Term > li.Term {
		return
	}
	n.leaders[li.Group] = li
}

// noteIncarnation re-adds a broker whose replicas are amnesic (its storage
// is new) in every such group this broker leads that assigns it a replica.
// Amnesic replicas announce themselves on every broadcast until re-added,
// so this is level-triggered: a new leader, or one that restarted, picks
// the re-add up from the next announcement; partition.ReplaceIncarnation
// ignores an announcement for a member already re-added under that
// incarnation.
//
// A replica that still takes the announcing broker for its group's leader
// wakes up: that broker lost its state and cannot lead, and a quiesced
// follower would otherwise wait for it for ever (the broker is alive, so
// node-level liveness never suspects it, and it never campaigns).
func (n *Node) noteIncarnation(inc transport.Incarnation) {
	if inc.ClusterID != n.clusterID() {
		return // a broker of another cluster: never re-added here
	}
	for _, g := range inc.Amnesic {
		h := n.hosts[g]
		if h == nil {
			continue
		}
		switch lead, _ := h.p.Leader(); {
		case lead == inc.Node:
			h.p.Wake()
			h.dirty = true
		case lead == n.self && slices.Contains(h.voters, inc.Node):
			h.p.ReplaceIncarnation(inc.Node, inc.Incarnation)
			h.dirty = true
		}
	}
}

func (n *Node) clusterID() [16]byte { return ClusterKey(n.cfg.ClusterID) }

// ClusterKey is the 16-byte cluster identity brokers announce to each other
// (the transport's handshake and incarnation announcements): the first 16
// bytes of the SHA-256 of the whole cluster id, so ids that differ anywhere
// differ here too. The transport and the node must use the same key.
func ClusterKey(clusterID string) [16]byte {
	sum := sha256.Sum256([]byte(clusterID))
	return [16]byte(sum[:16])
}

// Unreachable and SnapshotStatus pass the transport's reports to raft.
func (n *Node) Unreachable(g transport.GroupID, node uint64) {
	if h := n.hosts[g]; h != nil {
		h.p.ReportUnreachable(node)
		h.dirty = true
	}
}

func (n *Node) SnapshotStatus(g transport.GroupID, node uint64, ok bool) {
	if h := n.hosts[g]; h != nil {
		h.p.ReportSnapshot(node, ok)
		h.dirty = true
	}
}

// WriteDone reports a Write carried out (err: it failed; the partition
// stops and is reopened from disk later).
func (n *Node) WriteDone(w Write, err error) {
	h := n.hosts[w.Group]
	if h == nil || h.gen != w.gen {
		return // the partition was removed or reopened since
	}
	h.inflight--
	h.p.WriteDone(w.W, err)
	h.dirty = true
}

// Ready collects the node's outputs after its inputs.
func (n *Node) Ready() Output {
	n.drainGroups()
	for _, h := range n.list {
		if h != nil && !h.gone && h.dirty {
			n.readyPartition(h)
		}
	}
	// Metadata applied this turn may have created partitions, and group
	// coordinators may have stored records or answered; run them.
	for range 2 {
		n.drainGroups()
		for _, h := range n.list {
			if h != nil && !h.gone && h.dirty {
				n.readyPartition(h)
			}
		}
	}
	n.drainGroups()
	n.finishAcks0()
	n.wakeFetches()
	n.flushBatches()
	out := n.out
	n.out = Output{}
	return out
}

func (n *Node) readyPartition(h *hosted) {
	h.dirty = false
	out := h.p.Ready()
	h.ticking = out.NeedsTick
	n.noteDeleted(h, out.Deleted)
	for _, m := range out.Messages {
		n.sendMsg(h.g, m)
	}
	for _, w := range out.Writes {
		h.inflight++
		n.out.Writes = append(n.out.Writes, Write{Group: h.g, W: w, gen: h.gen})
	}
	if h.coord != nil {
		// Committed records first: a store's requests are answered only
		// after what it stored is applied (an OffsetFetch sees it).
		n.syncCoordinator(h)
	}
	for _, r := range out.Results {
		if !n.groupAppendDone(r) {
			n.produceResult(h, r)
		}
	}
	for _, d := range out.Deletes {
		n.deleteRecordsResult(d)
	}
	n.watchLeadership(h)
	if hw, _ := h.p.HighWatermark(); hw != h.hw {
		h.hw = hw
		n.moved[h.g] = true
	}
	if h.meta {
		n.checkBorn() // before applying the commands that follow a re-add
		if err := n.applyMeta(); err != nil {
			n.log.Error("metadata apply failed", "err", err)
		}
	}
	if h.p.Err() != nil && h.stoppedAt == 0 {
		n.maybeReopen(h)
	}
}

// watchLeadership logs leadership changes and updates the leader table.
func (n *Node) watchLeadership(h *hosted) {
	lead, term := h.p.Leader()
	isr := h.isr
	if lead == n.self {
		isr = h.p.ISR()
	}
	if lead == h.leader && term == h.term && slices.Equal(isr, h.isr) {
		return
	}
	if lead != 0 && (lead != h.leader || term != h.term) {
		n.log.Info("leadership changed", "group", h.g, "topic", h.topic, "leader", lead, "term", term)
	}
	if lead != h.leader || term != h.term {
		n.moved[h.g] = true // parked fetches answer NOT_LEADER_OR_FOLLOWER now
	}
	h.leader, h.term, h.isr = lead, term, isr
	if lead == n.self {
		li := transport.LeaderInfo{Group: h.g, Term: term, Leader: lead, ISR: slices.Clone(isr)}
		n.noteLeader(li)
		n.announce = append(n.announce, li)
	}
}

// broadcast sends every peer the leader-table entries of the groups this
// broker leads and its incarnation (which doubles as a liveness beacon).
func (n *Node) broadcast() {
	var lis []transport.LeaderInfo
	for _, h := range n.list {
		if h.leader == n.self && h.p.Err() == nil {
			lis = append(lis, transport.LeaderInfo{Group: h.g, Term: h.term, Leader: n.self, ISR: slices.Clone(h.isr)})
		}
	}
	n.announce = lis
	// Amnesic replicas ask their groups' leaders to re-add them.
	var amnesic []transport.GroupID
	for _, h := range n.list {
		if h.p.Amnesic() {
			amnesic = append(amnesic, h.g)
		}
	}
	cid := n.clusterID()
	for _, b := range n.cfg.Brokers {
		if id := uint64(b.ID); id != n.self {
			ob := n.batchTo(id)
			ob.Incarnations = append(ob.Incarnations, transport.Incarnation{Node: n.self, ClusterID: cid, Incarnation: n.cfg.Incarnation, Amnesic: amnesic})
		}
	}
}

func (n *Node) batchTo(to uint64) *transport.Batch {
	b := n.outBatch[to]
	if b == nil {
		b = &transport.Batch{From: n.self, To: to}
		n.outBatch[to] = b
		n.batchDest = append(n.batchDest, to)
	}
	return b
}

func (n *Node) sendMsg(g transport.GroupID, m *pb.Message) {
	b := n.batchTo(m.GetTo())
	b.Msgs = append(b.Msgs, transport.Envelope{Group: g, Msg: m})
}

// flushBatches moves this turn's batches (and leader announcements, to
// every peer) into the output.
func (n *Node) flushBatches() {
	if len(n.announce) > 0 {
		for _, b := range n.cfg.Brokers {
			if id := uint64(b.ID); id != n.self {
				ob := n.batchTo(id)
				ob.Leaders = append(ob.Leaders, n.announce...)
			}
		}
		n.announce = nil
	}
	for _, f := range n.forward {
		lead, _ := n.meta.p.Leader()
		if lead != 0 && lead != n.self {
			ob := n.batchTo(lead)
			ob.Forwards = append(ob.Forwards, f)
		}
	}
	n.forward = nil
	slices.Sort(n.batchDest)
	for _, to := range n.batchDest {
		n.out.Batches = append(n.out.Batches, *n.outBatch[to])
		delete(n.outBatch, to)
	}
	n.batchDest = n.batchDest[:0]
}

// NowMs is the clock reading of the last Tick.
func (n *Node) NowMs() int64 { return n.nowMs }

// Close closes every log (the runtime has stopped feeding the node).
func (n *Node) Close() {
	for _, g := range n.order {
		n.hosts[g].log.Close()
	}
	n.log.Info("broker stopped")
}

// Controller is the broker leading the metadata group, -1 if unknown.
func (n *Node) Controller() int32 { return n.controller() }

// PartitionInfo describes one hosted replica (for logs, metrics and the
// simulator's diagnostics).
type PartitionInfo struct {
	Group        transport.GroupID
	Topic        string
	Leader, Term uint64
	HighWater    int64
	HWValid      bool
	LogEnd       int64
	ISR          []uint64
	Quiesced     bool
	Err          error
}

// Partitions describes every replica this broker hosts, in group order.
func (n *Node) Partitions() []PartitionInfo {
	var out []PartitionInfo
	for _, g := range n.order {
		h := n.hosts[g]
		lead, term := h.p.Leader()
		hw, ok := h.p.HighWatermark()
		out = append(out, PartitionInfo{Group: g, Topic: h.topic, Leader: lead, Term: term, HighWater: hw, HWValid: ok,
			LogEnd: h.p.LogEndOffset(), ISR: h.p.ISR(), Quiesced: h.p.Quiesced(), Err: h.p.Err()})
	}
	return out
}

// Replica returns this broker's replica of g, or nil (for diagnostics and
// the simulator's replica checks; the caller must not drive it).
func (n *Node) Replica(g transport.GroupID) *partition.Partition {
	if h := n.hosts[g]; h != nil {
		return h.p
	}
	return nil
}

// Stats counts what the node dropped or refused.
type Stats struct {
	// UnknownGroupMsgs: raft messages for groups this broker does not host
	// (a topic it has not learned of yet, or one deleted), dropped.
	UnknownGroupMsgs uint64
	// RetentionSegments and RetentionBytes: segments retention deleted on
	// this broker, and their size (retention.go).
	RetentionSegments, RetentionBytes int64
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats { return n.stats }
