package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"sluice/raftlog"
	"sluice/transport"
)

// Config configures one replica of a partition. Zero values take defaults.
type Config struct {
	ID    uint64 // this replica's node id: the broker id
	Group transport.GroupID
	// Voters bootstrap an empty log; ignored once the log holds state.
	Voters []uint64

	ElectionTicks  int // default 10
	HeartbeatTicks int // default 1
	// MaxSizePerMsg bounds one append message (default 1 MiB),
	// MaxInflightMsgs the appends in flight per follower (default 256),
	// MaxUncommittedEntriesSize the leader's uncommitted tail (default 64 MiB).
	MaxSizePerMsg             uint64
	MaxInflightMsgs           int
	MaxUncommittedEntriesSize uint64
	// MinInsyncReplicas: an acks=all record and the high watermark need the
	// entry durable on max(quorum, MinInsyncReplicas) replicas. Values below
	// a majority have no effect (raft commits on a majority anyway); above
	// the voters, acks=all is refused (NOT_ENOUGH_REPLICAS) and the high
	// watermark waits for every voter.
	MinInsyncReplicas int
	// MaxMessageBytes bounds one produce batch (max.message.bytes); at
	// most MaxBatchBytes whatever it says.
	MaxMessageBytes int
	// ProducerExpiryMs forgets idle idempotent producers after this much
	// replicated time (producer.id.expiration.ms). Default one day.
	ProducerExpiryMs int64
	// ReplicaLagTicks: a follower that has not caught up with the leader's
	// log end for this many ticks leaves the ISR (replica.lag.time.max.ms
	// divided by the tick interval). Default 300 (30 s at 100 ms ticks).
	ReplicaLagTicks int64
	// LogAppendTime makes the leader stamp its clock as every record's
	// timestamp (message.timestamp.type=LogAppendTime).
	LogAppendTime bool
	// Compacted: cleanup.policy includes compact, so every record needs a
	// key (a keyless one is INVALID_RECORD, as in Kafka).
	Compacted bool
	// FlushMessages and FlushMs are the topic's flush.messages and
	// flush.ms (flush.go). Zero or 1 messages, or 0 ms: sync every write
	// before it is reported done (the default).
	FlushMessages, FlushMs int64
	// QuiesceTicks: an idle leader stops ticking (with its followers) after
	// this many idle ticks; see quiesce.go. Default 20; negative disables.
	QuiesceTicks int
	// Incarnation is this broker's storage incarnation, created with its
	// data directory (DESIGN.md step 8). A replica that opens an empty log
	// without voters is amnesic (new, or its disk was wiped): it never votes
	// until the leader re-adds it under this incarnation. Reopened without
	// voters, a replica whose log records neither its amnesia nor its
	// re-add is amnesic again (the record was lost).
	Incarnation [16]byte
}

func (c Config) withDefaults() Config {
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = 1 << 20
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = 256
	}
	if c.MaxUncommittedEntriesSize == 0 {
		c.MaxUncommittedEntriesSize = 64 << 20
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.ProducerExpiryMs == 0 {
		c.ProducerExpiryMs = DefaultProducerExpiryMs
	}
	if c.ReplicaLagTicks == 0 {
		c.ReplicaLagTicks = 300
	}
	if c.QuiesceTicks == 0 {
		c.QuiesceTicks = 20
	}
	return c
}

// Acks is the produce request's acknowledgement level.
type Acks int8

const (
	AcksNone   Acks = 0
	AcksLeader Acks = 1
	AcksAll    Acks = -1
)

// ProduceRequest asks the leader to append one batch.
type ProduceRequest struct {
	ID    uint64 // the caller's id, echoed in the result
	Batch []byte // one magic-2 record batch; stamped in place
	Acks  Acks
}

// ProduceResult completes a ProduceRequest exactly once.
type ProduceResult struct {
	ID         uint64
	BaseOffset int64
	Err        error // nil or a kerr error (possibly wrapped)
}

// Write is one disk write the partition needs: run Round (raftlog/writer or
// the simulator), then call WriteDone.
type Write struct {
	Round     *raftlog.Round
	responses []*pb.Message
	last      uint64 // last entry index the write covers
	term      uint64 // term of that entry
}

// Output is what one call to Ready hands back.
type Output struct {
	Messages []*pb.Message   // to peers, through the transport
	Writes   []*Write        // to the disk executor, in order
	Results  []ProduceResult // completed produce requests
	// NeedsTick is the timer the partition needs: false once it has
	// quiesced (the runtime may stop ticking it until it has input again).
	NeedsTick bool
	// Deleted: segments this replica deleted below the log start
	// (retention.go); their deletion is among Writes.
	Deleted RetentionResult
	// Deletes: completed DeleteRecords requests (deleterecords.go).
	Deletes []DeleteResult
}

// ErrStopped is returned after the partition stopped on a storage error.
var ErrStopped = errors.New("partition: stopped")

type proposal struct {
	req   ProduceRequest
	pid   uint64 // proposal id in the envelope
	index uint64 // raft index, once known from a Ready
	term  uint64
	base  int64
	// durable: the leader's own log holds it durably (enough for acks=1).
	durable bool
	// dup: a retry of a batch already in the log (same producer sequence);
	// it shares the original's fate and adds no offsets.
	dup bool
	// From the batch, kept so the caller may reuse its buffer.
	count int64
	bp    batchProducer
	hasBP bool
}

type followerLag struct {
	id   uint64
	tick int64
	// target is the leader's last index at the previous tick: reaching it
	// counts as caught up (Kafka's rule: caught up with where the leader
	// was a moment ago, so a follower under steady load stays in sync).
	target uint64
}

// tailBatch is a producer batch appended but not yet applied.
type tailBatch struct {
	index, term uint64
	pid         uint64 // proposal id in the envelope
	bp          batchProducer
	base        int64
}

// offsetMark maps a raft index to the log end offset after it.
type offsetMark struct {
	index uint64
	next  int64
}

// Partition is one replica of one Kafka partition: a deterministic core.
type Partition struct {
	cfg Config
	log *raftlog.Log
	rn  *raft.RawNode

	nowMs int64 // the clock reading of the last Tick or SetClock
	ticks int64 // ticks since open

	flush           flushPolicy
	unsyncedSinceMs int64 // when relaxed writes became unsynced; -1: none
	// lostRejects: per follower, the tick of the first reject below its
	// match index since it last accepted an append (checkLostAcked).
	lostRejects map[uint64]int64

	quiesced  bool  // stopped ticking (quiesce.go)
	idleTicks int64 // consecutive idle ticks as leader

	// caughtUp[i] is the tick at which follower id last matched the
	// leader's last index (sorted by id; reset on becoming leader).
	caughtUp   []followerLag
	leaderTerm uint64 // term in which caughtUp was started

	nextPID   uint64
	proposals []*proposal // in proposal order

	// Offsets. marks covers the tail of the log from (at least) the applied
	// index on: the log end offset after each entry, rolled back when raft
	// truncates a conflicting suffix.
	marks   []offsetMark
	leo     int64
	applied uint64
	// appliedNext is the next offset after the last applied entry.
	appliedNext int64
	hw          int64
	// ownTermCommitted: this leader's high watermark is current (KIP-207):
	// the first entry of its own term is applied and durable on the
	// required replicas. hwTerm is the term (as leader) it refers to, 0 as a
	// follower; ownTermIndex the index of that first own-term entry.
	ownTermCommitted bool
	hwTerm           uint64
	ownTermIndex     uint64

	// epochs is the leader epoch cache, derived at append.
	epochs []epochStart
	// producers is the applied idempotent-producer state; tail holds the
	// producer batches appended but not yet applied.
	producers    producerTable
	tail         []tailBatch
	lastExpiry   int64 // replicated time of the last producer expiry pass
	appliedMs    int64 // replicated time of the last applied batch
	pendingState bool  // the applied state changed since it was last persisted
	// logStart is the replicated log start offset (retention.go): records
	// below it are gone on every replica, whatever its segments still
	// hold. startProposed is the highest this leader proposed in term
	// startTerm; deletedTo the log start this replica's segments were last
	// deleted up to; waitRoll: its active segment lies wholly below it.
	logStart      int64
	startProposed int64
	startTerm     uint64
	deletedTo     int64
	waitRoll      bool
	deletes       []pendingDelete // DeleteRecords waiting for their log start
	voterBuf      []voterProgress
	// amnesic: opened on an empty log as a joining replica; it answers no
	// votes until a conf change adds it as a learner under its incarnation.
	amnesic bool
	// rejoined: this replica was amnesic and was re-added under its
	// incarnation; rejoinedAt is the offset of the first record after the
	// conf change that did it.
	rejoined   bool
	rejoinedAt int64
	// pendingAmnesia: the amnesia record changed and must be persisted.
	pendingAmnesia bool
	// members: the incarnation each member was last added under as a
	// learner (readd.go); pendingMembers: changed, not yet persisted.
	members        []memberInc
	pendingMembers bool
	// readds are replicas the leader is re-adding: remove, add as learner
	// with their new incarnation, promote once caught up.
	readds []readd
	// assign: the replicas the metadata assigns, toward which the leader
	// moves the membership (reassign.go).
	assign assignState
	// conf is the membership as of the applied index; pendingConf is set
	// when it changed and was not yet written to the log.
	conf        *pb.ConfState
	pendingConf *pb.ConfState
	out         Output
	err         error
	// readErr: raft's Storage failed a read raft cannot survive (readerr.go).
	readErr error
}

// Open starts a replica over log. An empty log is bootstrapped with
// cfg.Voters (every replica must use the same list).
func Open(cfg Config, log *raftlog.Log) (*Partition, error) {
	cfg = cfg.withDefaults()
	p := &Partition{cfg: cfg, log: log, nextPID: 1, unsyncedSinceMs: -1}
	p.flush = flushPolicy{messages: cfg.FlushMessages, ms: cfg.FlushMs}
	// An empty log is bootstrapped with the voters; an empty log without
	// voters is a replica joining an existing group, which learns everything
	// from the leader (a snapshot, then appends).
	if last, _ := log.LastIndex(); last == 0 {
		if len(cfg.Voters) > 0 {
			if err := p.bootstrap(); err != nil {
				return nil, err
			}
		} else {
			p.amnesic, p.pendingAmnesia = true, true
		}
	}
	if err := p.loadState(); err != nil {
		return nil, err
	}
	if len(cfg.Voters) == 0 && !p.amnesic && !p.rejoined {
		// Opened without voters, the replica was created amnesic; its log
		// holds neither the amnesia record nor proof that it rejoined, so
		// the record was lost (a recovery that took damage for a torn tail
		// drops the state records). Amnesic again is safe: a re-add costs
		// availability, a forgotten amnesia a vote under an old identity.
		p.amnesic, p.pendingAmnesia = true, true
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        cfg.ID,
		ElectionTick:              cfg.ElectionTicks,
		HeartbeatTick:             cfg.HeartbeatTicks,
		Storage:                   storage{Log: log, p: p},
		Applied:                   p.applied,
		MaxSizePerMsg:             cfg.MaxSizePerMsg,
		MaxInflightMsgs:           cfg.MaxInflightMsgs,
		MaxUncommittedEntriesSize: cfg.MaxUncommittedEntriesSize,
		MaxCommittedSizePerReady:  cfg.MaxSizePerMsg * 4,
		AsyncStorageWrites:        true,
		PreVote:                   true,
		CheckQuorum:               true,
		DisableProposalForwarding: true,
		StepDownOnRemoval:         true,
		Logger:                    discardLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("partition: %v: %w", cfg.Group, err)
	}
	p.rn = rn
	if _, cs, err := log.InitialState(); err == nil {
		p.conf = cs
	}
	return p, nil
}

// storage is the raft Storage: the log, except that the snapshot a leader
// sends carries the current membership. A snapshot holds only partition
// state at FirstIndex-1 (the records after it flow as ordinary appends, so a
// new replica gets every retained record), and FirstIndex stays at the
// oldest retained entry; the membership recorded at that index may predate
// the replica being added, and raft ignores a snapshot whose membership
// lacks the receiver. The membership changes replayed after the snapshot are
// then no-ops (adding a present node, removing an absent one).
type storage struct {
	*raftlog.Log
	p *Partition
}

func (s storage) Snapshot() (*pb.Snapshot, error) {
	snap, err := s.Log.Snapshot()
	if err != nil || s.p.conf == nil {
		return snap, err
	}
	snap.Metadata.ConfState = proto.Clone(s.p.conf).(*pb.ConfState)
	return snap, nil
}

// bootstrap writes the initial state: a snapshot at index 1 holding the
// voters, as raft recommends instead of Bootstrap's fake entries.
func (p *Partition) bootstrap() error {
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{
		Index: new(uint64(1)), Term: new(uint64(1)),
		ConfState: &pb.ConfState{Voters: slices.Clone(p.cfg.Voters)},
	}}
	r, err := p.log.Append(raftlog.Batch{
		Snapshot:  snap,
		HardState: &pb.HardState{Term: new(uint64(1)), Commit: new(uint64(1))},
		States:    []raftlog.State{{Kind: stateApplied, Data: encodeApplied(1, 0, 0, 0, nil, nil)}},
	})
	if err != nil {
		return err
	}
	// Bootstrap happens once, before the runtime starts: run it here.
	return p.log.Complete(r, r.Run(p.log.FS()))
}

// Partition state record kinds in the raftlog.
const stateApplied uint8 = 1

// encodeApplied is the applied state record (and the first part of a
// compaction snapshot's data):
//
//	appliedV2 u64 | applied index u64 | next offset i64 | replicated time
//	ms i64 | log start offset i64 | epoch cache | producer table
//
// Records written before the log start was replicated lack the marker and
// the log start: index | next | time | epoch cache | producer table. They
// still decode, with the log start 0 (the segments' own start then
// stands), so an existing data directory opens as it was.
func encodeApplied(index uint64, next, nowMs, logStart int64, epochs []epochStart, producers *producerTable) []byte {
	b := make([]byte, 40, 72)
	binary.LittleEndian.PutUint64(b, appliedV2)
	binary.LittleEndian.PutUint64(b[8:], index)
	binary.LittleEndian.PutUint64(b[16:], uint64(next))
	binary.LittleEndian.PutUint64(b[24:], uint64(nowMs))
	binary.LittleEndian.PutUint64(b[32:], uint64(logStart))
	var keep []epochStart
	for _, e := range epochs {
		if e.index <= index {
			keep = append(keep, e)
		}
	}
	b = encodeEpochs(b, keep)
	if producers != nil {
		b = producers.encode(b)
	} else {
		b = (&producerTable{}).encode(b)
	}
	return b
}

// appliedV2 marks an applied state record that carries the log start. No
// applied index comes near it.
const appliedV2 = 0xffff_ffff_ffff_ff02

func (p *Partition) appliedRecord() []byte {
	return encodeApplied(p.applied, p.appliedNext, p.appliedMs, p.logStart, p.epochs, &p.producers)
}

func (p *Partition) loadState() error {
	for _, s := range p.log.States() {
		switch s.Kind {
		case stateApplied:
			if err := p.decodeApplied(s.Data); err != nil {
				return fmt.Errorf("partition: %v: applied state: %w", p.cfg.Group, err)
			}
		case stateAmnesic:
			if err := p.decodeAmnesia(s.Data); err != nil {
				return fmt.Errorf("partition: %v: %w", p.cfg.Group, err)
			}
		case stateMembers:
			if err := p.decodeMembers(s.Data); err != nil {
				return fmt.Errorf("partition: %v: %w", p.cfg.Group, err)
			}
		}
	}
	// A torn bootstrap or snapshot install can leave the snapshot without the
	// state records written with it: the snapshot is the newer truth.
	snap, err := p.log.Snapshot()
	if err != nil {
		return err
	}
	if si := snap.GetMetadata().GetIndex(); si > p.applied {
		p.applied, p.appliedNext, p.appliedMs, p.logStart, p.epochs, p.producers = si, 0, 0, 0, nil, producerTable{}
		if data := snap.GetData(); len(data) > 0 {
			if err := p.decodeSnapshot(data); err != nil {
				return fmt.Errorf("partition: %v: snapshot state: %w", p.cfg.Group, err)
			}
			p.pendingMembers = true
			p.rejoinBySnapshot(snap.GetMetadata().GetConfState())
		}
	}
	if hs, _, err := p.log.InitialState(); err == nil && hs.GetCommit() < snap.GetMetadata().GetIndex() {
		// A snapshot is committed by definition; raft refuses a commit
		// index below it.
		r, err := p.log.Append(raftlog.Batch{HardState: &pb.HardState{
			Term:   new(max(hs.GetTerm(), snap.GetMetadata().GetTerm())),
			Vote:   new(hs.GetVote()),
			Commit: new(snap.GetMetadata().GetIndex()),
		}})
		if err != nil {
			return err
		}
		if err := p.log.Complete(r, r.Run(p.log.FS())); err != nil {
			return err
		}
	}
	// Entries after the applied index are replayed by raft; the log end
	// offset is derived from their metadata as they are appended again or
	// applied. Until then it equals what was applied.
	p.leo = p.appliedNext
	p.marks = []offsetMark{{index: p.applied, next: p.appliedNext}}
	if err := p.deriveTail(); err != nil {
		return err
	}
	return nil
}

// Partition state record kinds in the raftlog (stateApplied above).
const stateAmnesic uint8 = 2

func (p *Partition) decodeApplied(b []byte) error {
	_, err := p.decodeAppliedRest(b)
	return err
}

// decodeAppliedRest decodes the applied state and returns what follows it.
func (p *Partition) decodeAppliedRest(b []byte) ([]byte, error) {
	p.logStart = 0
	head := 24 // index | next | time
	if len(b) >= 8 && binary.LittleEndian.Uint64(b) == appliedV2 {
		b, head = b[8:], 32 // and the log start
	}
	if len(b) < head {
		return nil, fmt.Errorf("%d bytes", len(b))
	}
	p.applied = binary.LittleEndian.Uint64(b)
	p.appliedNext = int64(binary.LittleEndian.Uint64(b[8:]))
	p.appliedMs = int64(binary.LittleEndian.Uint64(b[16:]))
	if head == 32 {
		p.logStart = int64(binary.LittleEndian.Uint64(b[24:]))
	}
	es, rest, err := decodeEpochs(b[head:])
	if err != nil {
		return nil, err
	}
	p.epochs = es
	return p.producers.decode(rest)
}

// deriveTail rebuilds the offset marks of entries after the applied index
// from the log (after a restart they are on disk but not yet applied).
func (p *Partition) deriveTail() error {
	last, _ := p.log.LastIndex()
	for lo := p.applied + 1; lo <= last; {
		ents, err := p.log.ReadEntries(lo, last+1, 4<<20)
		if err != nil {
			return fmt.Errorf("partition: %v: read tail: %w", p.cfg.Group, err)
		}
		for _, e := range ents {
			p.appendDerive(e)
		}
		lo = ents[len(ents)-1].GetIndex() + 1
	}
	return nil
}

// entryCount is the number of offsets an entry takes.
func entryCount(e *pb.Entry) int64 {
	if e.GetType() != pb.EntryNormal {
		return 0
	}
	if _, _, b, ok := decodeEnvelope(e.GetData()); ok {
		return headerInfo(b).count
	}
	return 0
}

// Err is the storage error that stopped the partition, if any.
func (p *Partition) Err() error { return p.err }

// storageErr is what a request to a stopped partition gets: the retriable
// KAFKA_STORAGE_ERROR, naming the error that stopped it.
func (p *Partition) storageErr() error {
	return fmt.Errorf("%w: %v", kerr.KafkaStorageError, p.err)
}

// maxFutureTimestampMs bounds how far ahead of the leader's clock a
// CreateTime record may be stamped (Kafka 4.0's default of
// message.timestamp.after.max.ms, one hour).
const maxFutureTimestampMs = 3600 * 1000

// SetClock sets the caller's clock without ticking raft: the node keeps a
// quiesced partition's clock current (it is not ticked), so that what it
// stamps when woken — a produce's time, LogAppendTime, a producer's last
// write — is the time, not when it went quiet.
func (p *Partition) SetClock(nowMs int64) { p.nowMs = nowMs }

// Tick advances raft's logical clock; nowMs is the caller's clock, stamped
// into proposals (the leader's reading is the replicated time).
func (p *Partition) Tick(nowMs int64) {
	defer p.recoverRead()
	p.nowMs = nowMs
	p.ticks++
	p.flushDue()
	if p.quiesced {
		return // raft's clock is frozen: see quiesce.go
	}
	// Decided before raft's tick, whose heartbeats would make it busy.
	if p.maybeQuiesce(); p.quiesced {
		return
	}
	if !p.amnesic || planted("wiped-votes") {
		// An amnesic replica never campaigns: its own vote is as void as
		// the ones it would give (raft makes it a voter as soon as it
		// installs a snapshot whose membership still lists its old self).
		p.rn.Tick()
	}
	p.trackISR()
	p.driveReadds()
	if p.isLeader() && p.insync() < p.requiredReplicas() {
		p.failWaitingAll()
	}
}

// trackISR notes, each tick, which followers have caught up with the
// leader's log end.
func (p *Partition) trackISR() { p.refreshISR(true) }

// refreshISR marks followers that reached their target as caught up now;
// on a tick (sample) the target moves to the leader's current last index.
// Between ticks the target stays put, so a steady stream of produces cannot
// keep moving it out of a busy follower's reach.
func (p *Partition) refreshISR(sample bool) {
	voters := p.syncFollowers()
	if voters == nil {
		return
	}
	last, _ := p.log.LastIndex()
	for i := range p.caughtUp {
		// Caught up: heard from recently (raft's CheckQuorum activity; a
		// missed sample only matters if it lasts the whole lag window) and
		// holding the leader's log as of the last tick. An idle partition
		// keeps live followers in sync; a dead one drops out even with no
		// writes.
		f := &p.caughtUp[i]
		k := slices.IndexFunc(voters, func(v voterProgress) bool { return v.id == f.id })
		if k >= 0 && voters[k].active && voters[k].match >= f.target {
			f.tick = p.ticks
		}
		if sample {
			f.target = last
		}
	}
}

// voterProgress is raft's view of one voter (the leader included).
type voterProgress struct {
	id, match uint64
	active    bool
}

// voters returns the voters' progress sorted by id, without the copies
// raft's Status makes (this runs on every tick).
func (p *Partition) voters() []voterProgress {
	buf := p.voterBuf[:0]
	p.rn.WithProgress(func(id uint64, typ raft.ProgressType, pr tracker.Progress) {
		if typ == raft.ProgressTypePeer {
			buf = append(buf, voterProgress{id: id, match: pr.Match, active: pr.RecentActive})
		}
	})
	slices.SortFunc(buf, func(a, b voterProgress) int { return cmpU64(a.id, b.id) })
	p.voterBuf = buf
	return buf
}

// neverCaughtUp marks a voter added while this replica leads: it joins the
// ISR only once it has caught up.
const neverCaughtUp = -1 << 62

// syncFollowers keeps caughtUp in step with leadership and membership: a new
// leader gives every follower a full lag period; voters added later start
// out of sync; removed ones go. It returns the voters' progress, or nil on a
// follower.
func (p *Partition) syncFollowers() []voterProgress {
	bs := p.rn.BasicStatus()
	if bs.RaftState != raft.StateLeader {
		p.caughtUp, p.leaderTerm = nil, 0
		return nil
	}
	start := p.ticks
	if term := bs.HardState.GetTerm(); p.leaderTerm != term {
		p.caughtUp, p.leaderTerm = nil, term
	} else {
		start = neverCaughtUp
	}
	voters := p.voters()
	isVoter := func(id uint64) bool {
		return slices.ContainsFunc(voters, func(v voterProgress) bool { return v.id == id })
	}
	p.caughtUp = slices.DeleteFunc(p.caughtUp, func(f followerLag) bool { return !isVoter(f.id) })
	last, _ := p.log.LastIndex()
	for _, v := range voters {
		if v.id == p.cfg.ID || slices.ContainsFunc(p.caughtUp, func(f followerLag) bool { return f.id == v.id }) {
			continue
		}
		p.caughtUp = append(p.caughtUp, followerLag{id: v.id, tick: start, target: last})
	}
	slices.SortFunc(p.caughtUp, func(a, b followerLag) int { return cmpU64(a.id, b.id) })
	return voters
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ISR returns the in-sync replicas (the leader and the followers caught up
// within ReplicaLagTicks), sorted; nil on a follower. It is reported in
// Metadata and metrics; durability rules do not depend on it.
func (p *Partition) ISR() []uint64 {
	if p.syncFollowers() == nil {
		return nil
	}
	isr := []uint64{p.cfg.ID}
	for _, f := range p.caughtUp {
		if p.ticks-f.tick <= p.cfg.ReplicaLagTicks {
			isr = append(isr, f.id)
		}
	}
	slices.Sort(isr)
	return isr
}

// failWaitingAll completes acks=all requests that are appended but can no
// longer be acknowledged in time because too few replicas are in sync, as
// Kafka does (NOT_ENOUGH_REPLICAS_AFTER_APPEND). The records may still
// commit; an idempotent retry finds them.
func (p *Partition) failWaitingAll() {
	keep := p.proposals[:0]
	for _, pr := range p.proposals {
		if pr.req.Acks == AcksAll && pr.index != 0 {
			p.out.Results = append(p.out.Results, ProduceResult{ID: pr.req.ID, BaseOffset: -1, Err: kerr.NotEnoughReplicasAfterAppend})
			continue
		}
		keep = append(keep, pr)
	}
	p.proposals = keep
}

// Step delivers a raft message from a peer.
func (p *Partition) Step(m *pb.Message) error {
	defer p.recoverRead()
	if p.err != nil {
		return p.err
	}
	if m.GetTo() != p.cfg.ID {
		return fmt.Errorf("partition: %v: message for %d delivered to %d", p.cfg.Group, m.GetTo(), p.cfg.ID)
	}
	// Only raft's peer messages come from the network: a proposal would skip
	// validation and stamping, a local-thread message would corrupt raft.
	if m.GetType() == pb.MsgProp || raft.IsLocalMsg(m.GetType()) {
		return nil
	}
	if p.amnesic {
		switch t := m.GetType(); {
		case (t == pb.MsgVote || t == pb.MsgPreVote || t == pb.MsgTimeoutNow) && !planted("wiped-votes"):
			// It lost what it voted and acknowledged before: its vote could
			// elect a leader missing committed entries, and so could its
			// campaign (a leadership transfer makes it campaign at once).
			return nil
		case t == pb.MsgHeartbeat:
			// A leader that has not re-added it yet still holds its old
			// self's match index, and a heartbeat's commit is that match:
			// beyond this replica's log, where raft would panic (the log
			// was lost, which is the point). Keep only the commit it can
			// trust: none beyond what it has committed.
			if c := p.rn.BasicStatus().HardState.GetCommit(); m.GetCommit() > c {
				m = proto.Clone(m).(*pb.Message)
				m.Commit = new(c)
			}
		}
	}
	m = p.checkLostAcked(m)
	if p.futileReject(m) {
		return nil
	}
	// Answers to quiesce heartbeats stop here: raft would read their context
	// as a ReadIndex request id. Other peer messages wake the replica.
	if isQuiesceResp(m) {
		return nil
	}
	// A late answer to an ordinary heartbeat carries no work.
	if p.quiesced && m.GetType() != pb.MsgHeartbeatResp {
		p.Wake()
	}
	err := p.rn.Step(m)
	if errors.Is(err, raft.ErrStepPeerNotFound) || errors.Is(err, raft.ErrStepLocalMsg) {
		return nil // stale or misrouted: drop, as raft would
	}
	if err == nil && isQuiesce(m) {
		p.stepQuiesce(m)
	}
	return err
}

// ReportUnreachable tells raft that a message to peer id was dropped (the
// transport's Reporter), so the leader probes it again instead of waiting.
func (p *Partition) ReportUnreachable(id uint64) { p.rn.ReportUnreachable(id) }

// ReportSnapshot tells raft whether a snapshot sent to peer id was
// delivered; a lost one would otherwise stall that follower for good.
func (p *Partition) ReportSnapshot(id uint64, ok bool) {
	status := raft.SnapshotFinish
	if !ok {
		status = raft.SnapshotFailure
	}
	p.rn.ReportSnapshot(id, status)
}

// Campaign makes this replica try to become leader (tests, leadership
// transfer). An amnesic replica never campaigns.
func (p *Partition) Campaign() error {
	defer p.recoverRead()
	if p.amnesic {
		return nil
	}
	return p.rn.Campaign()
}

// TransferLeadership asks raft to move leadership to a caught-up voter
// (graceful shutdown, balancing).
func (p *Partition) TransferLeadership(to uint64) {
	defer p.recoverRead()
	p.Wake()
	p.rn.TransferLeader(to)
}

// ProposeConfChange proposes a membership change (ConfChangeV2: add a
// learner, promote it, remove a replica) on the leader.
func (p *Partition) ProposeConfChange(cc *pb.ConfChangeV2) error {
	if !p.isLeader() {
		return kerr.NotLeaderForPartition
	}
	defer p.recoverRead()
	p.Wake()
	return p.rn.ProposeConfChange(cc)
}

// ConfState is the membership as of the applied index.
func (p *Partition) ConfState() *pb.ConfState { return proto.Clone(p.conf).(*pb.ConfState) }

// Leader returns the current leader's id (0 if unknown) and term.
func (p *Partition) Leader() (uint64, uint64) {
	st := p.rn.BasicStatus()
	return st.Lead, st.HardState.GetTerm()
}

// notLeading is the error a request to the leader gets here: the storage
// error that stopped the partition, or NOT_LEADER_OR_FOLLOWER; nil on a
// healthy leader.
func (p *Partition) notLeading() error {
	if p.err != nil {
		return p.storageErr()
	}
	if !p.isLeader() {
		return kerr.NotLeaderForPartition
	}
	return nil
}

func (p *Partition) isLeader() bool {
	return p.rn.BasicStatus().RaftState == raft.StateLeader
}

// Produce validates, stamps and proposes one batch. It completes at once
// (in the next Output) with an error when this replica cannot take it.
func (p *Partition) Produce(req ProduceRequest) {
	fail := func(err error) {
		p.out.Results = append(p.out.Results, ProduceResult{ID: req.ID, BaseOffset: -1, Err: err})
	}
	proposed := false
	defer func() {
		if p.readErr == nil {
			return
		}
		if v := recover(); v != nil {
			p.stopOnRead()
			if !proposed {
				fail(p.storageErr())
			}
		}
	}()
	if err := p.notLeading(); err != nil {
		fail(err)
		return
	}
	p.Wake()
	info, err := validateBatch(req.Batch, min(p.cfg.MaxMessageBytes, MaxBatchBytes))
	if err != nil {
		fail(err)
		return
	}
	if p.cfg.Compacted && info.nullKey {
		fail(fmt.Errorf("%w: compacted topic cannot accept a record without a key", kerr.InvalidRecord))
		return
	}
	if !p.cfg.LogAppendTime && info.recordsMax > p.nowMs+maxFutureTimestampMs {
		// Kafka 4.0's message.timestamp.after.max.ms default (KIP-1030): a
		// record stamped far ahead would hold its segment, and with it
		// every later one, back from time retention.
		fail(fmt.Errorf("%w: a record is stamped %d ms ahead of the broker's clock (at most %d)", kerr.InvalidTimestamp, info.recordsMax-p.nowMs, maxFutureTimestampMs))
		return
	}
	// min.insync.replicas first, as Kafka checks it before the append
	// that detects duplicates: a retried acks=all batch is not answered as
	// a success while fewer replicas than that are in sync.
	// An explicit min.insync.replicas above the replica count is Kafka's
	// too: the topic exists, and acks=all is refused while acks=1 works.
	if req.Acks == AcksAll && p.insync() < max(p.requiredReplicas(), p.cfg.MinInsyncReplicas) {
		fail(kerr.NotEnoughReplicas)
		return
	}
	if bp, ok := producerOf(req.Batch); ok {
		known, epoch, batches := p.effectiveProducer(bp.id)
		dup, err := checkSequence(known, epoch, batches, bp)
		if err != nil {
			fail(err)
			return
		}
		if dup >= 0 {
			p.duplicate(req, dup)
			return
		}
	}
	_, term := p.Leader()
	base := p.leo + p.uncommittedProposed()
	if p.cfg.LogAppendTime {
		stampAppendTime(req.Batch, p.nowMs)
	} else {
		stampCreateTime(req.Batch, info.recordsMax)
	}
	stamp(req.Batch, base, int32(term))
	// Proposal ids carry the node id, so two leaders' proposals never share
	// one; the term check in learnIndex covers this node's earlier lives.
	pr := &proposal{req: req, pid: p.cfg.ID<<40 | p.nextPID&(1<<40-1), base: base, term: term,
		count: headerInfo(req.Batch).count}
	pr.bp, pr.hasBP = producerOf(req.Batch)
	p.nextPID++
	if err := p.rn.Propose(encodeEnvelope(pr.pid, p.nowMs, req.Batch)); err != nil {
		if errors.Is(err, raft.ErrProposalDropped) {
			fail(kerr.NotLeaderForPartition)
			return
		}
		fail(err)
		return
	}
	pr.req.Batch = nil // proposed: the entry holds its own copy
	p.proposals = append(p.proposals, pr)
	proposed = true
}

// duplicate answers a retried batch already in the log at base: it shares
// the fate of the original (waiting if that is not committed yet) and is
// never appended twice.
func (p *Partition) duplicate(req ProduceRequest, base int64) {
	for _, pr := range p.proposals {
		if !pr.dup && pr.base == base {
			p.proposals = append(p.proposals, &proposal{req: ProduceRequest{ID: req.ID, Acks: req.Acks}, pid: pr.pid,
				index: pr.index, term: pr.term, base: base, durable: pr.durable, dup: true})
			return
		}
	}
	for _, t := range p.tail {
		if t.base == base {
			p.proposals = append(p.proposals, &proposal{req: ProduceRequest{ID: req.ID, Acks: req.Acks}, pid: t.pid,
				index: t.index, term: t.term, base: base, durable: t.index <= p.log.StableIndex(), dup: true})
			return
		}
	}
	// Committed already.
	p.out.Results = append(p.out.Results, ProduceResult{ID: req.ID, BaseOffset: base})
}

// uncommittedProposed counts offsets of proposals accepted by raft but not
// yet seen in a Ready (not yet counted in leo).
func (p *Partition) uncommittedProposed() int64 {
	var n int64
	for _, pr := range p.proposals {
		if pr.index == 0 && !pr.dup {
			n += pr.count
		}
	}
	return n
}

// requiredReplicas is max(quorum, MinInsyncReplicas), at most the voters:
// what the high watermark and an acks=all record wait for.
func (p *Partition) requiredReplicas() int {
	voters := len(p.conf.GetVoters())
	return max(voters/2+1, min(p.cfg.MinInsyncReplicas, voters))
}

// MaxBatchBytes is the largest produce batch a partition takes, whatever
// max.message.bytes says: its raft entry (the batch, a 16-byte envelope)
// must fit a log frame (with at most 46 bytes of metadata, 64 MiB in all) and a
// raft message must carry it to the followers (64 MiB frames on TCP and
// in the simulator's network, a few hundred bytes of it headers). A batch
// a little under 64 MiB was stored and never replicated; one of 64 MiB
// stopped the leader's replica.
const MaxBatchBytes = 64<<20 - 64<<10

// insync is the size of the ISR, refreshed first: a follower that caught up
// since the last tick is back in sync now, as in Kafka, where the ISR grows
// as soon as a follower's fetch reaches the log end.
func (p *Partition) insync() int {
	p.refreshISR(false)
	return len(p.ISR())
}

// appendDerive derives an appended entry's offsets, epoch and producer
// batch, identically on every replica; it returns the entry's metadata.
func (p *Partition) appendDerive(e *pb.Entry) raftlog.EntryMeta {
	n := entryCount(e)
	meta := raftlog.EntryMeta{BaseOffset: p.leo, Count: uint32(n)}
	p.noteEpoch(e.GetTerm(), e.GetIndex(), p.leo)
	if n > 0 {
		_, _, b, _ := decodeEnvelope(e.GetData())
		meta.MaxTimestamp = headerInfo(b).maxTimestamp
		if bp, ok := producerOf(b); ok {
			pid, clockMs, _, _ := decodeEnvelope(e.GetData())
			p.tail = append(p.tail, tailBatch{index: e.GetIndex(), term: e.GetTerm(), pid: pid, bp: bp, base: p.leo})
			if planted("apply-before-commit") {
				// The producer state takes the batch in as it is appended,
				// and keeps it when raft overwrites it.
				p.producers.apply(bp, e.GetIndex(), p.leo, clockMs)
			}
		}
	}
	p.leo += n
	p.marks = append(p.marks, offsetMark{index: e.GetIndex(), next: p.leo})
	return meta
}

// effectiveProducer is producer id's state as the leader's whole log
// (applied, appended, and proposed) leaves it.
func (p *Partition) effectiveProducer(id int64) (known bool, epoch int16, batches []producerBatch) {
	// A producer idle past the expiry is unknown, even before the next
	// expiry pass removes it from the replicated table.
	if s := p.producers.find(id); s != nil && p.nowMs-s.lastMs <= p.cfg.ProducerExpiryMs {
		known, epoch, batches = true, s.epoch, slices.Clone(s.batches)
	}
	add := func(bp batchProducer, base int64) {
		if !known || bp.epoch != epoch {
			known, epoch, batches = true, bp.epoch, batches[:0]
		}
		batches = append(batches, producerBatch{firstSeq: bp.firstSeq, lastSeq: bp.lastSeq, base: base})
		if n := len(batches); n > maxProducerBatches {
			batches = batches[n-maxProducerBatches:]
		}
	}
	for _, t := range p.tail {
		if t.bp.id == id {
			add(t.bp, t.base)
		}
	}
	for _, pr := range p.proposals {
		if pr.index == 0 && !pr.dup && pr.hasBP && pr.bp.id == id {
			add(pr.bp, pr.base)
		}
	}
	return known, epoch, batches
}
