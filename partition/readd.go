package partition

// Re-adding a replica whose disk was wiped (DESIGN.md step 8). The old
// member's acknowledgements and votes are void, so the leader removes it,
// adds it back as a learner under its new incarnation (the conf change's
// context), and promotes it once it has caught up. The replica itself
// refuses to vote or campaign until it applies that learner change.
//
// Every replica records, from the learner changes it applies, the
// incarnation each member was last added under (members, persisted with the
// applied state). The leader uses it to tell a member that still needs
// re-adding from one already re-added under the incarnation it announces
// (an announcement can arrive late, or be replayed), and a leader elected
// in the middle of a re-add uses it to finish promoting the learner.

import (
	"encoding/binary"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
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

// memberInc is the incarnation a member was last added under as a learner.
type memberInc struct {
	id  uint64
	inc [16]byte
}

// readdRetryTicks: a step's conf change is proposed again if the membership
// has not moved this long after (raft drops a conf change proposed while
// another is pending, and a leader change can lose it).
const readdRetryTicks = 20

// Amnesic reports whether this replica's storage is new to a group it may
// have been a member of (opened on an empty log without voters): it votes
// in no election and never campaigns until the leader re-adds it as a
// learner under its incarnation.
func (p *Partition) Amnesic() bool { return p.amnesic }

// RejoinedAt is the offset of the first record after the conf change that
// re-added this replica under its incarnation and so ended its amnesia;
// ok is false while it is amnesic, or if it never was.
func (p *Partition) RejoinedAt() (offset int64, ok bool) {
	return p.rejoinedAt, p.rejoined
}

// ReplaceIncarnation starts re-adding replica id, which announced that it
// is amnesic under incarnation (its storage is new). Only the leader acts
// on it; it is idempotent, and a no-op for a member already re-added under
// that incarnation (a late or replayed announcement).
func (p *Partition) ReplaceIncarnation(id uint64, incarnation [16]byte) {
	if !p.isLeader() || id == p.cfg.ID {
		return
	}
	for _, r := range p.readds {
		if r.id == id && r.incarnation == incarnation {
			return
		}
	}
	step := readdRemove
	if inc, ok := p.memberIncarnation(id); ok && inc == incarnation {
		switch {
		case slices.Contains(p.conf.GetVoters(), id):
			return // re-added and promoted already
		case slices.Contains(p.conf.GetLearners(), id):
			step = readdPromote // re-added, not yet promoted
		}
	}
	p.readds = append(p.readds, readd{id: id, incarnation: incarnation, step: step})
	p.Wake()
}

// resumeReadds makes a leader finish re-adds another leader started: a
// learner added under an incarnation is promoted once caught up.
func (p *Partition) resumeReadds() {
	for _, id := range p.conf.GetLearners() {
		inc, ok := p.memberIncarnation(id)
		if !ok || slices.ContainsFunc(p.readds, func(r readd) bool { return r.id == id }) {
			continue
		}
		p.readds = append(p.readds, readd{id: id, incarnation: inc, step: readdPromote})
	}
}

// driveReadds advances each re-add by one conf change at a time, then a
// reassignment (reassign.go).
func (p *Partition) driveReadds() {
	defer p.driveAssignment()
	if len(p.conf.GetLearners()) > 0 && p.isLeader() {
		p.resumeReadds()
	}
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
			if isVoter {
				r.step = readdPromote + 1 // done
				continue
			}
			if !isLearner {
				r.step, r.proposedAt = readdRemove, 0 // removed meanwhile: start over
				continue
			}
			pr, ok := st.Progress[r.id]
			if !ok || pr.Match < st.HardState.GetCommit() {
				continue // still catching up
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

// futileReject reports a reject, on the leader, of the append probing a
// follower at its match index: the follower lost entries it acknowledged
// (its disk was wiped and it is not re-added yet, or it lost power under a
// relaxed flush policy). raft never probes below the match index, so it
// would send the same probe again at once, rejected again: the two would
// exchange it as fast as the network carries it, the follower writing a
// round for each, until the re-add (whose announcement waits for the next
// broadcast tick, which an in-process cluster under testing/synctest never
// reached, its clock standing still while they did). Dropped, the probe
// goes again on the next heartbeat response, which unpauses it. Any other
// reject at or below the match index raft ignores (stale); dropping it
// loses only the activity mark the follower's heartbeat responses give.
func (p *Partition) futileReject(m *pb.Message) bool {
	if m.GetType() != pb.MsgAppResp || !m.GetReject() || !p.isLeader() ||
		m.GetTerm() != p.rn.BasicStatus().HardState.GetTerm() {
		return false
	}
	futile := false
	p.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == m.GetFrom() && pr.Match > 0 && m.GetIndex() <= pr.Match {
			futile = true
		}
	})
	return futile
}

// noteConfChange records the incarnation of every member added as a
// learner, and clears amnesia when this replica is added as a learner
// under its own incarnation.
func (p *Partition) noteConfChange(cc *pb.ConfChangeV2) {
	if len(cc.GetContext()) != len(p.cfg.Incarnation) {
		return
	}
	var inc [16]byte
	copy(inc[:], cc.GetContext())
	for _, c := range cc.GetChanges() {
		if c.GetType() != pb.ConfChangeAddLearnerNode {
			continue
		}
		id := c.GetNodeId()
		p.setMemberIncarnation(id, inc)
		if id == p.cfg.ID && p.amnesic && inc == p.cfg.Incarnation {
			// A conf change takes no offset: appliedNext is the offset of
			// the first record after it.
			p.amnesic, p.rejoined, p.rejoinedAt = false, true, p.appliedNext
			p.pendingAmnesia = true
		}
	}
}

// rejoinBySnapshot ends this replica's amnesia when a snapshot it installs
// (whose member table it has just loaded) covers its re-add: the learner
// change that added it under its incarnation lies below the snapshot, so
// the replica never applies it (noteConfChange), and the leader, whose
// table shows the re-add done, never starts another. The snapshot's offset
// stands for the re-add's: it is no earlier, which is all rejoinedAt must
// promise (node.checkBorn takes any offset at or after the true one).
func (p *Partition) rejoinBySnapshot(cs *pb.ConfState) {
	if !p.amnesic {
		return
	}
	inc, ok := p.memberIncarnation(p.cfg.ID)
	if !ok || inc != p.cfg.Incarnation {
		return
	}
	if !slices.Contains(cs.GetVoters(), p.cfg.ID) && !slices.Contains(cs.GetLearners(), p.cfg.ID) {
		return
	}
	p.amnesic, p.rejoined, p.rejoinedAt = false, true, p.appliedNext
	p.pendingAmnesia = true
}

func (p *Partition) memberIncarnation(id uint64) ([16]byte, bool) {
	if i, ok := slices.BinarySearchFunc(p.members, id, func(m memberInc, id uint64) int { return cmpU64(m.id, id) }); ok {
		return p.members[i].inc, true
	}
	return [16]byte{}, false
}

func (p *Partition) setMemberIncarnation(id uint64, inc [16]byte) {
	i, ok := slices.BinarySearchFunc(p.members, id, func(m memberInc, id uint64) int { return cmpU64(m.id, id) })
	if ok {
		if p.members[i].inc == inc {
			return
		}
		p.members[i].inc = inc
	} else {
		p.members = slices.Insert(p.members, i, memberInc{id: id, inc: inc})
	}
	p.pendingMembers = true
}

// State records of amnesia and member incarnations (stateApplied and
// stateAmnesic are in partition.go).
const stateMembers uint8 = 3

// encodeAmnesia is the amnesia record: the flag, then (once the replica
// was re-added) the offset at which it rejoined.
func (p *Partition) encodeAmnesia() []byte {
	b := []byte{0}
	if p.amnesic {
		b[0] = 1
	}
	if p.rejoined {
		b = binary.LittleEndian.AppendUint64(b, uint64(p.rejoinedAt))
	}
	return b
}

func (p *Partition) decodeAmnesia(b []byte) error {
	switch len(b) {
	case 1:
		p.amnesic, p.rejoined, p.rejoinedAt = b[0] == 1, false, 0
	case 9:
		p.amnesic, p.rejoined, p.rejoinedAt = b[0] == 1, true, int64(binary.LittleEndian.Uint64(b[1:]))
	default:
		return fmt.Errorf("amnesia record of %d bytes", len(b))
	}
	return nil
}

// encodeMembers is the member incarnation record: (id u64 | incarnation)
// per member, sorted by id.
func (p *Partition) encodeMembers() []byte {
	b := make([]byte, 0, len(p.members)*24)
	for _, m := range p.members {
		b = binary.LittleEndian.AppendUint64(b, m.id)
		b = append(b, m.inc[:]...)
	}
	return b
}

func (p *Partition) decodeMembers(b []byte) error {
	if len(b)%24 != 0 {
		return fmt.Errorf("member incarnation record of %d bytes", len(b))
	}
	p.members = p.members[:0]
	for ; len(b) > 0; b = b[24:] {
		m := memberInc{id: binary.LittleEndian.Uint64(b)}
		copy(m.inc[:], b[8:24])
		p.members = append(p.members, m)
	}
	return nil
}
