package partition

// Re-adding a replica whose disk was wiped (DESIGN.md step 8). The old
// member's acknowledgements and votes are void, so the leader removes it,
// adds it back as a learner under its new incarnation (the conf change's
// context), and promotes it once it has caught up. The replica itself
// refuses to vote until it applies that learner change.

import (
	"bytes"
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"
)

type readdStep uint8

const (
	readdRemove readdStep = iota
	readdAddLearner
	readdPromote
)

type readd struct {
	id          uint64
	incarnation [16]byte
	step        readdStep
	proposedAt  int64 // tick when the current step was last proposed
}

// readdRetryTicks: a step's conf change is proposed again if the membership
// has not moved this long after (raft drops a conf change proposed while
// another is pending, and a leader change can lose it).
const readdRetryTicks = 20

// ReplaceIncarnation starts re-adding replica id, which announced a new
// storage incarnation. Only the leader acts on it; it is idempotent.
func (p *Partition) ReplaceIncarnation(id uint64, incarnation [16]byte) {
	if !p.isLeader() || id == p.cfg.ID {
		return
	}
	for _, r := range p.readds {
		if r.id == id && r.incarnation == incarnation {
			return
		}
	}
	p.readds = append(p.readds, readd{id: id, incarnation: incarnation})
	p.Wake()
}

// driveReadds advances each re-add by one conf change at a time.
func (p *Partition) driveReadds() {
	if len(p.readds) == 0 {
		return
	}
	if !p.isLeader() {
		p.readds = nil
		return
	}
	st := p.rn.Status()
	voters, learners := st.Config.Voters.IDs(), st.Config.Learners
	for i := range p.readds {
		r := &p.readds[i]
		_, isVoter := voters[r.id]
		_, isLearner := learners[r.id]
		var cc *pb.ConfChangeV2
		switch r.step {
		case readdRemove:
			if !isVoter && !isLearner {
				r.step, r.proposedAt = readdAddLearner, 0
				continue
			}
			cc = &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(r.id)}}}
		case readdAddLearner:
			if isLearner {
				r.step, r.proposedAt = readdPromote, 0
				continue
			}
			cc = &pb.ConfChangeV2{
				Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: new(r.id)}},
				Context: r.incarnation[:],
			}
		case readdPromote:
			pr, ok := st.Progress[r.id]
			if !ok || pr.Match < st.HardState.GetCommit() {
				continue // still catching up
			}
			if _, voter := voters[r.id]; voter {
				r.step = readdPromote + 1 // done
				continue
			}
			cc = &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddNode.Enum(), NodeId: new(r.id)}}}
		}
		if cc != nil {
			if r.proposedAt != 0 && p.ticks-r.proposedAt < readdRetryTicks {
				return // its conf change is on the way
			}
			r.proposedAt = p.ticks
			_ = p.rn.ProposeConfChange(cc) // a dropped proposal is retried later
			return
		}
	}
	p.readds = slices.DeleteFunc(p.readds, func(r readd) bool { return r.step > readdPromote })
}

// noteConfChange clears amnesia when this replica is added as a learner
// under its own incarnation.
func (p *Partition) noteConfChange(cc *pb.ConfChangeV2) {
	if !p.amnesic || !bytes.Equal(cc.GetContext(), p.cfg.Incarnation[:]) {
		return
	}
	for _, c := range cc.GetChanges() {
		if c.GetType() == pb.ConfChangeAddLearnerNode && c.GetNodeId() == p.cfg.ID {
			p.amnesic = false
			p.pendingAmnesia = true
		}
	}
}
