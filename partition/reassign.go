package partition

// Reassignment (AlterPartitionReassignments; `sluice partition reassign`):
// the metadata names the replicas a partition should have, and its leader
// moves the raft membership there one conf change at a time, as Kafka's
// controller does with its adding and removing replicas:
//
//  1. every new replica joins as a learner under its storage incarnation
//     and is promoted once caught up — the re-add path of readd.go, started
//     by the new replica's amnesia announcement, since a replica opened
//     for a reassignment is as new as a wiped one;
//  2. once every assigned replica votes, the replicas no longer assigned
//     are removed, one at a time; a leader that is itself leaving first
//     hands its leadership to an assigned voter that is caught up.
//
// With one change at a time the majority of the old and the new membership
// always overlap, so no entry committed before is lost. The node watches
// Reassigned and records the end of the reassignment in the metadata,
// whereupon brokers no longer assigned delete their replicas.

import (
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"
)

type assignState struct {
	ids        []uint64 // sorted; nil: no assignment given
	proposedAt int64    // tick of the last removal or transfer asked for
}

// SetAssignment gives the replica the voters the metadata assigns (sorted
// or not). Only a leader acts on it.
func (p *Partition) SetAssignment(ids []uint64) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	if slices.Equal(ids, p.assign.ids) {
		return
	}
	p.assign = assignState{ids: ids}
	p.Wake()
}

// Reassigned reports whether the membership is the assignment: every
// assigned replica a voter, no other voter or learner. Meaningful on the
// leader, whose view of the membership is the newest.
func (p *Partition) Reassigned() bool {
	if p.assign.ids == nil {
		return false
	}
	voters := slices.Clone(p.conf.GetVoters())
	slices.Sort(voters)
	return slices.Equal(voters, p.assign.ids) && len(p.conf.GetLearners()) == 0
}

// driveAssignment takes the next step toward the assignment, on the leader,
// once no re-add is under way.
func (p *Partition) driveAssignment() {
	if p.assign.ids == nil || len(p.readds) > 0 || !p.isLeader() {
		return
	}
	st := p.rn.Status()
	voters := st.Config.Voters.IDs()
	for _, id := range p.assign.ids {
		if _, ok := voters[id]; !ok {
			return // not yet added: its re-add starts when it announces itself
		}
	}
	var leaving []uint64
	for id := range voters { //lint:maporder-ok sorted below
		if !slices.Contains(p.assign.ids, id) {
			leaving = append(leaving, id)
		}
	}
	for id := range st.Config.Learners { //lint:maporder-ok sorted below
		if !slices.Contains(p.assign.ids, id) {
			leaving = append(leaving, id)
		}
	}
	if len(leaving) == 0 {
		return
	}
	slices.Sort(leaving)
	if p.assign.proposedAt != 0 && p.ticks-p.assign.proposedAt < readdRetryTicks {
		return // the last step is on its way
	}
	// raft drops a conf change proposed while another is pending; it is
	// proposed again after readdRetryTicks.
	p.assign.proposedAt = p.ticks
	id := leaving[0]
	if slices.Contains(leaving, p.cfg.ID) {
		// Hand leadership to an assigned voter that is caught up; the
		// new leader removes this replica.
		for _, to := range p.assign.ids {
			if pr, ok := st.Progress[to]; ok && pr.Match >= st.HardState.GetCommit() {
				p.rn.TransferLeader(to)
				return
			}
		}
		return
	}
	_ = p.rn.ProposeConfChange(&pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(id)}}})
}
