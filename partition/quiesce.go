package partition

// Quiescence: an idle partition stops ticking. etcd raft has none, and
// 1,000 partitions × 3 replicas heartbeating every tick cost 10–15% of a
// core doing nothing (BenchmarkIdle).
//
// A leader whose log is fully replicated, committed and applied, with
// nothing waiting, sends each replica a final heartbeat marked quiesce and
// stops ticking. A follower receiving it stops ticking too if it agrees
// (same term and leader, same last and commit index). Ticks stop
// altogether (raft's clock is frozen, not advanced), so on waking the leader
// still counts its followers active and no one times out at once.
//
// Anything wakes a replica: a message from a peer (other than the quiesce
// heartbeat itself), a produce, a conf change, a leadership transfer. What
// a quiesced follower cannot see is its leader dying: node-level liveness
// (the broker runtime watching peers) calls Wake on the partitions whose
// leader is on a broker it suspects, and they elect as usual. A follower
// that missed the quiesce heartbeat keeps ticking, campaigns, and wakes the
// others; PreVote and CheckQuorum keep that from disturbing a live leader.

import (
	"bytes"

	pb "go.etcd.io/raft/v3/raftpb"
)

// quiesceContext marks a heartbeat as the last one before quiescence.
var quiesceContext = []byte("sluice:quiesce")

// Quiesced reports whether the replica has stopped ticking.
func (p *Partition) Quiesced() bool { return p.quiesced }

// Wake makes a quiesced replica tick again (node-level liveness suspects
// its leader, or the runtime has work for it).
func (p *Partition) Wake() {
	// The ISR's clock stood still while quiesced (ticks are frozen), so
	// followers caught up when the partition quiesced are still in sync.
	// Their clocks are not reset: a partition that is woken over and over
	// (its broker suspects a dead follower) must still age that follower
	// out of the ISR.
	p.quiesced = false
	p.idleTicks = 0
}

// maybeQuiesce runs on a leader's tick: after QuiesceTicks idle ticks it
// sends the quiesce heartbeats and stops.
func (p *Partition) maybeQuiesce() {
	if p.cfg.QuiesceTicks < 0 || !p.idle() {
		p.idleTicks = 0
		return
	}
	p.idleTicks++
	if p.idleTicks < int64(p.cfg.QuiesceTicks) {
		return
	}
	bs := p.rn.BasicStatus()
	last, _ := p.log.LastIndex()
	for _, v := range p.voters() {
		if v.id == p.cfg.ID {
			continue
		}
		p.out.Messages = append(p.out.Messages, &pb.Message{
			Type: pb.MsgHeartbeat.Enum(), To: new(v.id), From: new(p.cfg.ID),
			Term: new(bs.HardState.GetTerm()), Commit: new(min(v.match, bs.HardState.GetCommit())),
			Context: quiesceContext,
			// Index carries the leader's last index for the follower's check.
			Index: new(last),
		})
	}
	p.quiesced = true
}

// idle: a leader with everything replicated, committed and applied, and
// nothing waiting.
func (p *Partition) idle() bool {
	// A learner is being caught up (a re-add, readd.go): not idle.
	if !p.isLeader() || len(p.proposals) > 0 || len(p.readds) > 0 || len(p.conf.GetLearners()) > 0 || p.rn.HasReady() || !p.ownTermCommitted {
		return false
	}
	last, _ := p.log.LastIndex()
	bs := p.rn.BasicStatus()
	if bs.HardState.GetCommit() != last || p.applied != last || p.log.StableIndex() != last {
		return false
	}
	// Recent activity is not required: CheckQuorum clears it every election
	// timeout. A dead follower with the whole log misses the quiesce
	// heartbeat and, once back, ticks and campaigns, which wakes everyone.
	for _, v := range p.voters() {
		if v.id != p.cfg.ID && v.match != last {
			return false
		}
	}
	return true
}

// stepQuiesce handles a quiesce heartbeat on a follower after raft has seen
// it as an ordinary heartbeat.
func (p *Partition) stepQuiesce(m *pb.Message) {
	bs := p.rn.BasicStatus()
	last, _ := p.log.LastIndex()
	if bs.Lead == m.GetFrom() && bs.HardState.GetTerm() == m.GetTerm() &&
		last == m.GetIndex() && bs.HardState.GetCommit() == last {
		p.quiesced = true
	}
}

func isQuiesce(m *pb.Message) bool {
	return m.GetType() == pb.MsgHeartbeat && bytes.Equal(m.GetContext(), quiesceContext)
}

// isQuiesceResp: raft echoes a heartbeat's context in its response.
func isQuiesceResp(m *pb.Message) bool {
	return m.GetType() == pb.MsgHeartbeatResp && bytes.Equal(m.GetContext(), quiesceContext)
}
