package partition

import (
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// Flush policy (flush.messages, flush.ms; DESIGN.md step 7). The default
// (FlushMessages 1) syncs every write before it is reported done, so an
// acknowledgement means "durable on enough replicas". A relaxed policy —
// FlushMessages above 1 and FlushMs above 0 — hands raftlog relaxed
// batches: entries are reported done once written, before fsync, and
// synced once FlushMessages entries are unsynced or the oldest unsynced
// write is FlushMs old, whichever comes first. An acknowledgement then
// means "written on enough replicas, not yet synced": a power loss of
// those replicas loses it, and raft itself may find a committed entry gone
// (it panics; the broker restarts the partition). Raft's term and vote are
// synced before a vote is answered whatever the policy (raftlog refuses to
// relax such a round), and so are snapshots, conf states and segment
// rolls.

// flushPolicy is a partition's flush.messages and flush.ms.
type flushPolicy struct {
	messages int64 // sync once this many entries are unsynced; ≤1: every write
	ms       int64 // sync once the oldest unsynced write is this old; ≤0: every write
}

// relaxed reports whether writes may go unsynced at all.
func (f flushPolicy) relaxed() bool { return f.messages > 1 && f.ms > 0 }

// SetFlushPolicy changes the topic's flush.messages and flush.ms on an
// open replica (AlterConfigs applies on every replica alike); the next
// write sees it. Tightening it to the default syncs what relaxed writes
// left unsynced at the next Tick.
func (p *Partition) SetFlushPolicy(messages, ms int64) {
	p.cfg.FlushMessages, p.cfg.FlushMs = messages, ms
	p.flush = flushPolicy{messages: messages, ms: ms}
}

// relaxWrite reports whether a write appending n entries may go unsynced:
// the policy is relaxed and neither threshold is reached with it.
func (p *Partition) relaxWrite(n int) bool {
	if !p.flush.relaxed() {
		return false
	}
	if int64(p.log.UnsyncedEntries())+int64(n) >= p.flush.messages {
		return false
	}
	return p.unsyncedSinceMs < 0 || p.nowMs-p.unsyncedSinceMs < p.flush.ms
}

// noteUnsynced tracks since when relaxed writes have been unsynced.
func (p *Partition) noteUnsynced() {
	switch {
	case !p.log.Unsynced():
		p.unsyncedSinceMs = -1
	case p.unsyncedSinceMs < 0:
		p.unsyncedSinceMs = p.nowMs
	}
}

// flushDue makes a sync-only write when relaxed writes have waited
// flush.ms (or the policy is no longer relaxed). Called on every Tick.
func (p *Partition) flushDue() {
	if p.err != nil || p.unsyncedSinceMs < 0 {
		return
	}
	if p.flush.relaxed() && p.nowMs-p.unsyncedSinceMs < p.flush.ms {
		return
	}
	r, err := p.log.Sync()
	if err != nil {
		p.stop(err)
		return
	}
	if r != nil {
		p.out.Writes = append(p.out.Writes, &Write{Round: r})
	}
	p.noteUnsynced()
}

// FlushPolicy is the replica's flush.messages and flush.ms as set.
func (p *Partition) FlushPolicy() (messages, ms int64) { return p.cfg.FlushMessages, p.cfg.FlushMs }

// checkLostAcked handles the one way a relaxed flush policy breaks raft's
// assumption that an acknowledged append is durable: a follower that lost
// power lost entries it had acknowledged, and the leader's match index
// for it still covers them. Raft never sends below a match index, and a
// heartbeat's commit (the match index) beyond the follower's log would
// make raft panic. So the follower keeps only the commit it can trust
// (none beyond what it has committed, as an amnesic replica does), and a
// leader that sees a follower reject an append below its match index hands
// leadership to another voter: a new leader starts from a fresh view of
// every follower and sends the lost entries again. Under sync before ack
// neither can happen.
func (p *Partition) checkLostAcked(m *pb.Message) *pb.Message {
	switch m.GetType() {
	case pb.MsgHeartbeat:
		// Never true under sync before ack: raft would panic instead.
		last, _ := p.log.LastIndex()
		if m.GetCommit() > last {
			if c := p.rn.BasicStatus().HardState.GetCommit(); m.GetCommit() > c {
				m = proto.Clone(m).(*pb.Message)
				m.Commit = new(c)
			}
		}
	case pb.MsgAppResp:
		// Only under a relaxed policy: sync before ack never needs this.
		if !p.flush.relaxed() || !p.isLeader() {
			p.lostRejects = nil
			return m
		}
		if !m.GetReject() {
			delete(p.lostRejects, m.GetFrom())
			return m
		}
		match, known := uint64(0), false
		p.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
			if id == m.GetFrom() {
				match, known = pr.Match, true
			}
		})
		if !known || m.GetIndex() < match || m.GetRejectHint() >= match || p.rn.BasicStatus().LeadTransferee != 0 {
			return m
		}
		// A reject whose log ends below the match index: the follower
		// lost entries it acknowledged — or the network reordered
		// pipelined appends, which a later append fills within moments,
		// while a follower that lost entries rejects every probe and
		// accepts none. Hand over once that has lasted an election
		// timeout.
		if p.lostRejects == nil {
			p.lostRejects = map[uint64]int64{}
		}
		first, seen := p.lostRejects[m.GetFrom()]
		if !seen {
			p.lostRejects[m.GetFrom()] = p.ticks
			return m
		}
		if p.ticks-first < int64(p.cfg.ElectionTicks) {
			return m
		}
		delete(p.lostRejects, m.GetFrom())
		// Hand over to the voter furthest along (not the follower, not
		// this leader).
		var to, best uint64
		p.rn.WithProgress(func(id uint64, typ raft.ProgressType, pr tracker.Progress) {
			if typ == raft.ProgressTypePeer && id != p.cfg.ID && id != m.GetFrom() && pr.Match >= best {
				to, best = id, pr.Match
			}
		})
		if to != 0 {
			p.rn.TransferLeader(to)
		}
	}
	return m
}
