package partition

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
)

// Ready collects everything the partition has to hand out: messages for
// peers, disk writes, and completed produce requests. Call it after every
// input; the caller carries out the writes and reports each with WriteDone.
func (p *Partition) Ready() Output {
	p.drainRaft()
	if p.err == nil && (p.logStart > p.deletedTo || p.waitRoll && p.log.SegmentCount() > 1) {
		p.deleteBelowStart()
	}
	p.resolveDeletes()
	if p.err != nil {
		p.failAll()
	} else {
		// Followers' acknowledgements move the high watermark too.
		p.updateHW()
		p.resolveAcks()
		p.failDropped()
	}
	out := p.out
	// Relaxed writes waiting for their flush.ms sync need the clock too.
	out.NeedsTick = (!p.quiesced || p.unsyncedSinceMs >= 0) && p.err == nil
	p.out = Output{}
	return out
}

// drainRaft carries out raft's Readies until it has none.
func (p *Partition) drainRaft() {
	defer p.recoverRead()
	for p.err == nil && p.rn.HasReady() {
		rd := p.rn.Ready()
		for _, m := range rd.Messages {
			switch m.GetTo() {
			case raft.LocalAppendThread:
				p.storageAppend(m)
			case raft.LocalApplyThread:
				p.storageApply(m)
			default:
				p.out.Messages = append(p.out.Messages, m)
			}
			if p.err != nil {
				break
			}
		}
	}
}

// storageAppend turns a MsgStorageAppend into a raftlog write, deriving each
// entry's offsets on the way (identically on every replica).
func (p *Partition) storageAppend(m *pb.Message) {
	if s := m.GetSnapshot(); s != nil {
		// A snapshot from the leader replaces the log; its data is the
		// partition's applied state at its index (the bootstrap snapshot has
		// none: an empty partition).
		idx := s.GetMetadata().GetIndex()
		for _, pr := range p.proposals {
			if pr.index != 0 && pr.index <= idx {
				pr.index = ^uint64(0) // replaced by the snapshot: fate unknown here
			}
		}
		p.epochs, p.producers, p.tail = nil, producerTable{}, nil
		p.applied, p.appliedNext, p.appliedMs, p.logStart = idx, 0, 0, 0
		if data := s.GetData(); len(data) > 0 {
			// A compaction snapshot carries the member incarnations at
			// its index too (compact.go).
			if err := p.decodeSnapshot(data); err != nil {
				p.stop(fmt.Errorf("snapshot at %d: %w", idx, err))
				return
			}
			if p.applied != idx {
				p.stop(fmt.Errorf("snapshot at %d holds state applied at %d", idx, p.applied))
				return
			}
			p.rejoinBySnapshot(s.GetMetadata().GetConfState())
		}
		p.marks = []offsetMark{{index: idx, next: p.appliedNext}}
		p.leo = p.appliedNext
		p.conf = s.GetMetadata().GetConfState()
		p.pendingState, p.pendingMembers = true, true
	}
	ents := m.GetEntries()
	metas := make([]raftlog.EntryMeta, len(ents))
	known := make([]raftlog.KnownCRC, len(ents))
	if len(ents) > 0 && !planted("skip-truncate") {
		p.truncateMarks(ents[0].GetIndex())
	}
	for i, e := range ents {
		metas[i] = p.appendDerive(e)
		if metas[i].Count > 0 {
			p.learnIndex(e)
			known[i] = knownCRC(e.GetData())
		}
	}
	var hs *pb.HardState
	if m.Term != nil || m.Vote != nil || m.Commit != nil {
		hs = &pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
	}
	b := raftlog.Batch{Snapshot: m.GetSnapshot(), Entries: ents, Metas: metas, Known: known, HardState: hs, Relaxed: p.relaxWrite(len(ents))}
	// The amnesia and member records go before the applied state: records
	// are written in order, so a torn round that keeps the applied state
	// keeps them too (the conf changes they derive from are not applied
	// again after a restart), and one that loses the applied state replays
	// those conf changes, which set them again.
	if p.pendingAmnesia {
		b.States = append(b.States, raftlog.State{Kind: stateAmnesic, Data: p.encodeAmnesia()})
		p.pendingAmnesia = false
	}
	if p.pendingMembers {
		b.States = append(b.States, raftlog.State{Kind: stateMembers, Data: p.encodeMembers()})
		p.pendingMembers = false
	}
	if p.pendingState {
		// The applied state and the conf state as of the applied index go
		// together, so a restart passing Config.Applied sees the membership
		// those entries produced.
		b.States = append(b.States, raftlog.State{Kind: stateApplied, Data: p.appliedRecord()})
		b.ConfState, p.pendingConf = p.pendingConf, nil
		p.pendingState = false
	}
	r, err := p.log.Append(b)
	if err != nil {
		p.stop(err)
		return
	}
	p.noteUnsynced()
	w := &Write{Round: r, responses: m.GetResponses()}
	if len(ents) > 0 {
		w.last, w.term = ents[len(ents)-1].GetIndex(), ents[len(ents)-1].GetTerm()
	}
	p.out.Writes = append(p.out.Writes, w)
	if planted("ack-before-fsync") {
		p.respondEarly(w)
	}
}

// learnIndex records where a leader's own proposal landed.
func (p *Partition) learnIndex(e *pb.Entry) {
	pid, _, _, _ := decodeEnvelope(e.GetData())
	for _, pr := range p.proposals {
		if pr.pid == pid && pr.index == 0 && pr.term == e.GetTerm() {
			pr.index = e.GetIndex()
		}
	}
}

// truncateMarks rolls the log end offset back to the entry before index:
// raft is overwriting a conflicting suffix.
func (p *Partition) truncateMarks(index uint64) {
	k := len(p.marks)
	for k > 0 && p.marks[k-1].index >= index {
		k--
	}
	if k == 0 {
		panic(fmt.Sprintf("partition: %v: truncation to %d below the applied index %d", p.cfg.Group, index, p.applied))
	}
	p.marks = p.marks[:k]
	p.leo = p.marks[k-1].next
	// Proposals in the truncated suffix were overwritten by a later leader:
	// their fate is known now (NOT_LEADER_OR_FOLLOWER), however long the
	// new leader takes to write at those indexes.
	for _, pr := range p.proposals {
		if pr.index != 0 && pr.index != ^uint64(0) && pr.index >= index {
			pr.index = ^uint64(0)
		}
	}
	p.truncateEpochs(index)
	p.tail = slices.DeleteFunc(p.tail, func(t tailBatch) bool { return t.index >= index })
}

// WriteDone reports a Write carried out. err stops the partition (fail-stop:
// the log reopens from disk).
func (p *Partition) WriteDone(w *Write, err error) {
	defer p.recoverRead()
	if err := p.log.Complete(w.Round, err); err != nil {
		p.stop(err)
		p.failAll()
		return
	}
	if p.err != nil {
		return
	}
	for _, pr := range p.proposals {
		// Durable only if the entry is still the proposal's: a later append
		// may have overwritten it while this write was in flight.
		if pr.index != 0 && pr.index <= w.last && !pr.durable {
			if t, err := p.log.Term(pr.index); err == nil && t == pr.term && pr.index <= p.log.StableIndex() {
				pr.durable = true
			}
		}
	}
	for _, m := range w.responses {
		if m.GetTo() == p.cfg.ID {
			if err := p.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
				p.stop(fmt.Errorf("step local response: %w", err))
				return
			}
			continue
		}
		p.out.Messages = append(p.out.Messages, m)
	}
	p.resolveAcks()
}

// storageApply applies committed entries, then hands raft its responses.
func (p *Partition) storageApply(m *pb.Message) {
	for _, e := range m.GetEntries() {
		p.apply(e)
	}
	for _, r := range m.GetResponses() {
		if err := p.rn.Step(r); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
			p.stop(fmt.Errorf("step apply response: %w", err))
			return
		}
	}
	p.pendingState = true
	p.trimMarks()
	p.updateHW()
	p.resolveAcks()
}

func (p *Partition) apply(e *pb.Entry) {
	idx := e.GetIndex()
	if idx != p.applied+1 {
		panic(fmt.Sprintf("partition: %v: applying %d after %d", p.cfg.Group, idx, p.applied))
	}
	switch e.GetType() {
	case pb.EntryConfChange, pb.EntryConfChangeV2:
		cc, err := decodeConfChange(e)
		if err != nil {
			panic(fmt.Sprintf("partition: %v: conf change at %d: %v", p.cfg.Group, idx, err))
		}
		p.conf = p.rn.ApplyConfChange(cc)
		p.pendingConf = p.conf
		if e.GetType() == pb.EntryConfChangeV2 {
			p.noteConfChange(cc)
		}
	case pb.EntryNormal:
		pid, clockMs, b, ok := decodeEnvelope(e.GetData())
		if ok {
			if got := stampedOffset(b); got != p.appliedNext {
				panic(fmt.Sprintf("partition: %v: entry %d stamped base offset %d, derived %d", p.cfg.Group, idx, got, p.appliedNext))
			}
			p.applyProducer(idx, clockMs, b)
			p.appliedNext += headerInfo(b).count
		} else if start, isStart := decodeLogStart(e); isStart {
			p.logStart = max(p.logStart, start)
		}
		p.resolveApplied(idx, e.GetTerm(), pid, ok)
	}
	p.applied = idx
}

// applyProducer updates the replicated producer state with a committed
// batch, expiring idle producers by replicated time.
func (p *Partition) applyProducer(idx uint64, clockMs int64, b []byte) {
	p.appliedMs = max(p.appliedMs, clockMs)
	if bp, ok := producerOf(b); ok {
		p.producers.apply(bp, idx, p.appliedNext, clockMs)
	}
	if k := slices.IndexFunc(p.tail, func(t tailBatch) bool { return t.index > idx }); k != 0 {
		if k < 0 {
			k = len(p.tail)
		}
		p.tail = append(p.tail[:0], p.tail[k:]...)
	}
	// Expire at most once per interval of replicated time: a pass is
	// O(producers).
	if p.appliedMs-p.lastExpiry >= min(60_000, p.cfg.ProducerExpiryMs/4) {
		p.producers.expire(p.appliedMs, p.cfg.ProducerExpiryMs)
		p.lastExpiry = p.appliedMs
	}
}

// resolveApplied settles the fate of the proposal at index: same proposal
// id ⇒ it is in the log; otherwise it was overwritten.
func (p *Partition) resolveApplied(idx, term, pid uint64, isBatch bool) {
	for _, pr := range p.proposals {
		if pr.index != idx {
			continue
		}
		if !isBatch || pr.pid != pid || pr.term != term {
			pr.index = ^uint64(0) // overwritten: fails below
		}
	}
	// Proposals whose index is at or below the applied one and were not
	// confirmed are gone.
	keep := p.proposals[:0]
	for _, pr := range p.proposals {
		if pr.index == ^uint64(0) {
			p.out.Results = append(p.out.Results, ProduceResult{ID: pr.req.ID, BaseOffset: -1, Err: kerr.NotLeaderForPartition})
			continue
		}
		keep = append(keep, pr)
	}
	p.proposals = keep
}

// trimMarks drops offset marks below the applied index (keeping it).
func (p *Partition) trimMarks() {
	k := 0
	for k+1 < len(p.marks) && p.marks[k+1].index <= p.applied {
		k++
	}
	p.marks = p.marks[k:]
}

// updateHW moves the high watermark: the offset after the last entry that
// is applied (so committed) and durable on max(quorum, MinInsyncReplicas)
// replicas. Only a leader that has committed an entry of its own term knows
// it (KIP-207); it never moves backwards.
func (p *Partition) updateHW() {
	p.syncLeadership()
	if p.hwTerm == 0 {
		return
	}
	idx := min(p.applied, p.durableOn(p.requiredReplicas()))
	if !p.ownTermCommitted {
		if p.ownTermIndex == 0 || idx < p.ownTermIndex {
			return
		}
		p.ownTermCommitted = true
	}
	if next := p.offsetAfter(idx); next > p.hw {
		p.hw = next
	}
}

// syncLeadership resets the high watermark's validity on every change of
// term or role, and finds the first entry of this leader's term.
func (p *Partition) syncLeadership() {
	bs := p.rn.BasicStatus()
	term := bs.HardState.GetTerm()
	if bs.RaftState != raft.StateLeader {
		p.hwTerm, p.ownTermCommitted, p.ownTermIndex = 0, false, 0
		return
	}
	if p.hwTerm != term {
		p.hwTerm, p.ownTermCommitted, p.ownTermIndex = term, false, 0
	}
	if p.ownTermIndex == 0 {
		// The leader appends an empty entry of its term first; the epoch
		// cache knows where the term began.
		if n := len(p.epochs); n > 0 && p.epochs[n-1].epoch == term {
			p.ownTermIndex = p.epochs[n-1].index
		}
	}
}

// durableOn returns the highest index durable on at least n voters: the
// leader's own stable index and its followers' acknowledged match indexes
// (followers acknowledge only durable appends).
func (p *Partition) durableOn(n int) uint64 {
	var idx []uint64
	for _, v := range p.voters() { // voters only: a learner's copy does not count
		if v.id == p.cfg.ID && !planted("ack-before-fsync") {
			idx = append(idx, min(v.match, p.log.StableIndex()))
			continue
		}
		idx = append(idx, v.match)
	}
	if len(idx) < n {
		return 0
	}
	sortDesc(idx)
	return idx[n-1]
}

func sortDesc(s []uint64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] > s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// offsetAfter is the log end offset after entry idx: from the marks for the
// tail from the applied index on, else from the metadata stored beside the
// entry in the log.
func (p *Partition) offsetAfter(idx uint64) int64 {
	if idx < p.marks[0].index {
		m, err := p.log.Meta(idx)
		if err != nil {
			// Below the oldest retained entry: nothing after it is readable
			// anyway; the caller uses it for the high watermark only.
			p.stop(fmt.Errorf("offset after entry %d: %w", idx, err))
			return p.marks[0].next
		}
		return m.NextOffset()
	}
	next := p.marks[0].next
	for _, m := range p.marks {
		if m.index > idx {
			break
		}
		next = m.next
	}
	return next
}

// resolveAcks completes produce requests whose acks are satisfied.
func (p *Partition) resolveAcks() {
	leader := p.isLeader()
	voters := len(p.conf.GetVoters())
	keep := p.proposals[:0]
	for _, pr := range p.proposals {
		if pr.index == ^uint64(0) {
			p.out.Results = append(p.out.Results, ProduceResult{ID: pr.req.ID, BaseOffset: -1, Err: kerr.NotLeaderForPartition})
			continue
		}
		done := false
		switch pr.req.Acks {
		case AcksAll:
			applied := pr.index != 0 && pr.index <= p.applied
			if applied && !leader {
				// Deposed, and the entry survived into a later term (its fate
				// was checked at apply). Committed means durable on a quorum;
				// more than a quorum cannot be known here: the record is in
				// the log, its min.insync.replicas copies unconfirmed.
				// NOT_LEADER_OR_FOLLOWER stays reserved for "not in the log".
				if p.requiredReplicas() > voters/2+1 {
					p.out.Results = append(p.out.Results, ProduceResult{ID: pr.req.ID, BaseOffset: -1, Err: kerr.NotEnoughReplicasAfterAppend})
					continue
				}
				done = true
				break
			}
			done = applied && p.offsetAfter(pr.index) <= p.hw
		default:
			done = pr.durable || (pr.index != 0 && pr.index <= p.applied)
		}
		if done {
			if pr.req.Acks != AcksNone {
				p.out.Results = append(p.out.Results, ProduceResult{ID: pr.req.ID, BaseOffset: pr.base})
			}
			continue
		}
		keep = append(keep, pr)
	}
	p.proposals = keep
}

// HighWatermark is the offset below which records are committed and
// readable; ok is false on a new leader until it commits in its own term.
func (p *Partition) HighWatermark() (hw int64, ok bool) {
	p.syncLeadership()
	return p.hw, p.hwTerm != 0 && p.ownTermCommitted
}

// LogEndOffset is the offset after the last appended record.
func (p *Partition) LogEndOffset() int64 { return p.leo }

func (p *Partition) stop(err error) {
	if p.err == nil {
		p.err = fmt.Errorf("partition: %v: %w: %v", p.cfg.Group, ErrStopped, err)
	}
}

// failAll completes every waiting request with a storage error.
func (p *Partition) failAll() {
	for _, pr := range p.proposals {
		p.out.Results = append(p.out.Results, ProduceResult{ID: pr.req.ID, BaseOffset: -1, Err: p.storageErr()})
	}
	p.proposals = nil
}

type discardLogger struct{}

func (discardLogger) Debug(...any)            {}
func (discardLogger) Debugf(string, ...any)   {}
func (discardLogger) Error(...any)            {}
func (discardLogger) Errorf(string, ...any)   {}
func (discardLogger) Info(...any)             {}
func (discardLogger) Infof(string, ...any)    {}
func (discardLogger) Warning(...any)          {}
func (discardLogger) Warningf(string, ...any) {}
func (discardLogger) Fatal(v ...any)          { panic(fmt.Sprint(v...)) }
func (discardLogger) Fatalf(f string, v ...any) {
	panic(fmt.Sprintf(f, v...))
}
func (discardLogger) Panic(v ...any)            { panic(fmt.Sprint(v...)) }
func (discardLogger) Panicf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }

// AbandonProduces fails every produce request still waiting on this
// replica with NOT_LEADER_OR_FOLLOWER, and hands back the results this
// turn made that no Ready has taken yet: the caller is closing it (its
// topic deleted, the replica moved away, or a reopen after a storage
// error), so it will take no Ready again. acks=0 requests are among them
// (the caller closes their connection on a failure, as Kafka does). As in
// Kafka, whose waiting produce requests answer NOT_LEADER_OR_FOLLOWER when
// the leader changes, an entry may still commit under the next leader;
// clients retry, and an idempotent producer's retry is deduplicated.
func (p *Partition) AbandonProduces() []ProduceResult {
	out := p.out.Results
	p.out.Results = nil
	for _, pr := range p.proposals {
		out = append(out, ProduceResult{ID: pr.req.ID, BaseOffset: -1, Err: kerr.NotLeaderForPartition})
	}
	p.proposals = nil
	return out
}

// failDropped fails proposals raft dropped before they reached a Ready (a
// new leader's append truncated this node's unsaved tail): after a Ready
// has drained, every proposal raft accepted has an index.
func (p *Partition) failDropped() {
	keep := p.proposals[:0]
	for _, pr := range p.proposals {
		if pr.index == 0 {
			p.out.Results = append(p.out.Results, ProduceResult{ID: pr.req.ID, BaseOffset: -1, Err: kerr.NotLeaderForPartition})
			continue
		}
		keep = append(keep, pr)
	}
	p.proposals = keep
}

// respondEarly is the planted bug "ack-before-fsync": the write's
// acknowledgements go out before it reaches the disk.
func (p *Partition) respondEarly(w *Write) {
	for _, m := range w.responses {
		if m.GetTo() == p.cfg.ID {
			if err := p.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
				p.stop(fmt.Errorf("step local response: %w", err))
				return
			}
			continue
		}
		p.out.Messages = append(p.out.Messages, m)
	}
	w.responses = nil
}
