package sim

// Disk wipes (DESIGN.md step 8): the nemesis replaces a broker's disk with
// an empty one and restarts it under a new incarnation with Join set, as an
// operator replacing a dead disk would. At most one broker is wiped or
// rejoining at a time, and a rejoining broker counts as down, so a minority
// of every group's voters loses its disk at a time: raft cannot repair more.
//
// The check: from the wipe on, the broker must not vote — grant a vote or
// pre-vote, or campaign (a candidate votes for itself) — in any group that
// existed at the wipe until that group has re-added it under its new
// incarnation. The proof of a re-add is the broker's own replica: it
// applied the learner conf change carrying its new incarnation
// (partition.RejoinedAt). A replica that is amnesic fails the check, and so
// does one that bootstrapped the group afresh (it never rejoined), which is
// how a broker that forgot it was wiped would vote. The liveness phase then
// requires every wiped broker to be a voter of its groups again.

import (
	"fmt"
	"slices"
	"strings"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
	"sluice/transport"
)

// wipeState is what the simulator remembers of a broker's last wipe.
type wipeState struct {
	atNs int64
	// groups existed when the disk was wiped (sorted); member are those
	// the broker was a member of, which it must rejoin.
	groups, member []transport.GroupID
	// done: rejoined every member group as a voter.
	done bool
	// flagged groups already reported, so one bug is one failure.
	flagged map[transport.GroupID]bool
}

// wipe crashes sn, replaces its disk with an empty one, and restarts it
// after downNs with a new incarnation and Join.
func (w *World) wipe(sn *simNode, downNs int64) {
	if sn.n == nil {
		return
	}
	groups, member := w.groupsOf(sn)
	w.statWipes++
	w.record("wipe", sn.id, uint64(len(groups)), uint64(len(member)))
	w.crash(sn, true, downNs)
	w.replaceDisk(sn, groups, member)
}

// replaceDisk gives the down broker sn an empty disk and a new incarnation;
// it starts with Join. groups and member are as groupsOf saw them.
func (w *World) replaceDisk(sn *simNode, groups, member []transport.GroupID) {
	sn.mem = vfs.NewMem(w.rng.Uint64())
	sn.fs = vfs.Inject(sn.mem, w.diskRule(sn))
	binaryPutU64(sn.incarnation[:8], w.rng.Uint64())
	binaryPutU64(sn.incarnation[8:], w.rng.Uint64())
	sn.join = true // and stays set: the broker's directory decides once it has state
	sn.diskErr, sn.flipUntil = nil, 0
	sn.wiped = &wipeState{atNs: w.nowNs, groups: groups, member: member, flagged: map[transport.GroupID]bool{}}
}

// groupsOf lists, as the live brokers see them, the groups that exist and
// those sn is a member of (it hosts the group, or a replica's membership
// lists it as a voter or learner).
func (w *World) groupsOf(sn *simNode) (groups, member []transport.GroupID) {
	for _, o := range w.nodes {
		if o.n == nil {
			continue
		}
		for _, pi := range o.n.Partitions() {
			if i, found := slices.BinarySearchFunc(groups, pi.Group, transport.GroupID.Compare); !found {
				groups = slices.Insert(groups, i, pi.Group)
			}
			isMember := o == sn
			if !isMember {
				if p := o.n.Replica(pi.Group); p != nil {
					cs := p.ConfState()
					isMember = slices.Contains(cs.GetVoters(), sn.id) || slices.Contains(cs.GetLearners(), sn.id)
				}
			}
			if i, found := slices.BinarySearchFunc(member, pi.Group, transport.GroupID.Compare); isMember && !found {
				member = slices.Insert(member, i, pi.Group)
			}
		}
	}
	return groups, member
}

// rejoining reports whether sn was wiped and is not yet a voter again in
// every group it was a member of (by its own replicas' membership: each
// applied its re-add and promotion).
func (w *World) rejoining(sn *simNode) bool {
	if sn.damage != nil {
		return true // a damaged disk counts as lost until it is replaced
	}
	ws := sn.wiped
	if ws == nil || ws.done {
		return false
	}
	if sn.n == nil {
		return true
	}
	if _, missing := w.notRejoined(sn); missing {
		return true
	}
	ws.done = true
	w.record("rejoined", sn.id)
	return false
}

// notRejoined names the first group sn has not rejoined as a voter.
func (w *World) notRejoined(sn *simNode) (transport.GroupID, bool) {
	for _, g := range sn.wiped.member {
		p := sn.n.Replica(g)
		if p == nil || p.Amnesic() {
			return g, true
		}
		if _, ok := p.RejoinedAt(); !ok || !slices.Contains(p.ConfState().GetVoters(), sn.id) {
			return g, true
		}
	}
	return transport.GroupID{}, false
}

func (w *World) anyRejoining() bool {
	for _, sn := range w.nodes {
		if w.rejoining(sn) {
			return true
		}
	}
	return false
}

// checkVotes flags votes a wiped broker sends in a group that existed at
// the wipe before the group re-added it. It runs where a broker's batch
// enters the network (not on delivery: a stale replay of a vote from
// before the wipe is the old identity's, and lawful).
func (w *World) checkVotes(from *simNode, b transport.Batch) {
	ws := from.wiped
	if ws == nil || from.n == nil {
		return
	}
	for _, e := range b.Msgs {
		m := e.Msg
		var what string
		switch m.GetType() {
		case pb.MsgVoteResp, pb.MsgPreVoteResp:
			if m.GetReject() {
				continue
			}
			what = fmt.Sprintf("granted %v to broker %d", m.GetType(), m.GetTo())
		case pb.MsgVote, pb.MsgPreVote:
			what = fmt.Sprintf("campaigned (%v)", m.GetType())
		default:
			continue
		}
		if _, existed := slices.BinarySearchFunc(ws.groups, e.Group, transport.GroupID.Compare); !existed || ws.flagged[e.Group] {
			continue
		}
		p := from.n.Replica(e.Group)
		if p == nil {
			continue
		}
		if _, ok := p.RejoinedAt(); ok {
			continue
		}
		ws.flagged[e.Group] = true
		state := "bootstrapped afresh"
		if p.Amnesic() {
			state = "amnesic"
		}
		w.fail("identity: broker %d %s in term %d of group %s, which existed when its disk was wiped at %s, before the group re-added it under its new incarnation (its replica is %s)",
			from.id, what, m.GetTerm(), w.groupName(e.Group), fmtMs(ws.atNs), state)
	}
}

// groupName names a group by topic and partition where a broker knows it.
func (w *World) groupName(g transport.GroupID) string {
	if g == transport.MetadataGroup {
		return "metadata"
	}
	for _, sn := range w.nodes {
		if sn.n == nil {
			continue
		}
		for _, pi := range sn.n.Partitions() {
			if pi.Group == g {
				return fmt.Sprintf("%s/%d", pi.Topic, g.Partition)
			}
		}
	}
	return g.String()
}

// awaitRejoined runs until every wiped broker has rejoined its groups, by
// deadlineNs, and fails the run for each that has not.
func (w *World) awaitRejoined(deadlineNs int64) {
	next := w.nowNs
	w.runWhile(deadlineNs, func() bool {
		if w.nowNs < next {
			return false
		}
		next = w.nowNs + 10e6 // checking clones memberships: every 10 ms is enough
		return !w.anyRejoining()
	})
	for _, sn := range w.nodes {
		if !w.rejoining(sn) {
			continue
		}
		if sn.wiped == nil {
			w.fail("liveness: broker %d's damaged disk was not replaced within the bound", sn.id)
			continue
		}
		what := "it is down"
		if sn.n != nil {
			g, _ := w.notRejoined(sn)
			what = "not a voter of " + w.groupName(g) + " again"
			if p := sn.n.Replica(g); p == nil {
				what = "not hosting " + w.groupName(g)
			} else if p.Amnesic() {
				what = "still amnesic in " + w.groupName(g)
			}
		}
		w.fail("liveness: broker %d, wiped at %s, has not rejoined within the bound: %s", sn.id, fmtMs(sn.wiped.atNs), what)
	}
}

// describeWipes lists wiped brokers and where they stand (diagnostics).
func (w *World) describeWipes() string {
	var b strings.Builder
	for _, sn := range w.nodes {
		if sn.wiped != nil {
			fmt.Fprintf(&b, "[broker %d wiped at %s, rejoined %v]", sn.id, fmtMs(sn.wiped.atNs), sn.wiped.done)
		}
	}
	return b.String()
}
