package partition

import (
	"bytes"
	"slices"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// sendRecords produces a one-record batch of value for each request id in
// [from, to], each of which must be acknowledged.
func (c *cluster) sendRecords(from, to uint64, value string) {
	c.t.Helper()
	for id := from; id <= to; id++ {
		if r := c.send(id, makeBatch(1, value, 1)); r.Err != nil {
			c.t.Fatal(r.Err)
		}
	}
}

// wipe destroys node id's disk and restarts it as a new incarnation.
func (c *cluster) wipe(id uint64) {
	c.fs[id] = vfs.NewMem(id + 100)
	c.joining[id] = true
	inc := c.incarnation[id]
	inc[0]++
	c.incarnation[id] = inc
	c.start(id)
}

// A replica whose disk was wiped must not vote under its old identity: it
// lost its vote and the entries it acknowledged. The leader re-adds it as a
// learner under its new incarnation and promotes it once caught up.
func TestWipedReplicaDoesNotVote(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.sendRecords(1, 10, "x")
	amnesicVotes := 0
	c.observe = func(m *pb.Message) {
		if m.GetFrom() == 3 && c.parts[3].amnesic && !m.GetReject() &&
			(m.GetType() == pb.MsgVoteResp || m.GetType() == pb.MsgPreVoteResp) {
			amnesicVotes++
		}
	}
	l := c.waitLeader()
	wiped := uint64(3)
	if l.cfg.ID == wiped {
		wiped = 2
	}
	other := 6 - l.cfg.ID - wiped
	c.wipe(wiped)
	// Without the leader, the remaining voter can only win with the wiped
	// replica's vote, which must not come.
	c.crash(l.cfg.ID)
	for i := 0; i < 100; i++ {
		c.tick()
	}
	if c.parts[other].isLeader() {
		t.Fatalf("replica %d became leader with the vote of wiped replica %d", other, wiped)
	}
	if amnesicVotes > 0 {
		t.Fatalf("wiped replica granted %d votes", amnesicVotes)
	}
	// The old leader returns; the wiped replica is re-added and promoted.
	c.start(l.cfg.ID)
	nl := c.waitLeader()
	nl.ReplaceIncarnation(wiped, c.incarnation[wiped])
	for i := 0; i < 200 && (c.parts[wiped].amnesic || len(c.waitLeader().ConfState().GetVoters()) != 3); i++ {
		c.tick()
	}
	if c.parts[wiped].amnesic {
		t.Fatal("wiped replica was never re-added under its new incarnation")
	}
	if cs := c.waitLeader().ConfState(); len(cs.GetVoters()) != 3 || len(cs.GetLearners()) != 0 {
		t.Fatalf("membership after re-add: %v", cs)
	}
	c.sendRecords(11, 15, "y")
	c.checkReplicasAgree()
	if p := c.parts[wiped]; p.appliedNext != 15 {
		t.Fatalf("re-added replica applied up to offset %d, want 15", p.appliedNext)
	}
	if amnesicVotes > 0 {
		t.Fatalf("wiped replica granted %d votes", amnesicVotes)
	}
}

// A follower wiped while its leader stays: the leader still holds the old
// follower's match index and sends heartbeats committing up to it, beyond
// the wiped replica's empty log (raft would panic there). The re-add
// records the new incarnation on every replica, persisted, so a late
// announcement of the same incarnation does not start another re-add; a
// learner added under an incarnation is promoted by whoever leads.
func TestWipedFollowerLiveLeader(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.sendRecords(1, 10, "x")
	l := c.waitLeader()
	wiped := l.cfg.ID%3 + 1
	c.wipe(wiped)
	for i := 0; i < 50; i++ {
		c.tick()
	}
	w := c.parts[wiped]
	if !w.Amnesic() || c.waitLeader() != l {
		t.Fatalf("after the wipe: amnesic %v, leader %d (was %d)", w.Amnesic(), c.waitLeader().cfg.ID, l.cfg.ID)
	}
	if _, ok := w.RejoinedAt(); ok {
		t.Fatal("an amnesic replica reports having rejoined")
	}
	inc := c.incarnation[wiped]
	l.ReplaceIncarnation(wiped, inc)
	for i := 0; i < 200 && (w.Amnesic() || len(l.ConfState().GetVoters()) != 3); i++ {
		c.tick()
	}
	if w.Amnesic() || len(l.ConfState().GetVoters()) != 3 {
		t.Fatalf("not re-added: amnesic %v, membership %v", w.Amnesic(), l.ConfState())
	}
	if at, ok := w.RejoinedAt(); !ok || at != 10 {
		t.Fatalf("rejoined at %d (%v), want offset 10", at, ok)
	}
	for _, p := range []*Partition{l, w} {
		if got, ok := p.memberIncarnation(wiped); !ok || got != inc {
			t.Fatalf("replica %d records incarnation %x (%v) for %d, want %x", p.cfg.ID, got, ok, wiped, inc)
		}
	}
	// A late announcement of the same incarnation is ignored.
	for i := 0; i < 5; i++ {
		c.tick()
	}
	l.ReplaceIncarnation(wiped, inc)
	if len(l.readds) != 0 {
		t.Fatalf("a stale announcement started a re-add: %+v", l.readds)
	}
	// Both survive a restart.
	c.settle()
	c.crash(wiped)
	c.start(wiped)
	if at, ok := c.parts[wiped].RejoinedAt(); !ok || at != 10 || c.parts[wiped].Amnesic() {
		t.Fatalf("after a restart: rejoined at %d (%v), amnesic %v", at, ok, c.parts[wiped].Amnesic())
	}
	c.crash(l.cfg.ID)
	c.start(l.cfg.ID)
	if got, ok := c.parts[l.cfg.ID].memberIncarnation(wiped); !ok || got != inc {
		t.Fatalf("after a restart the leader records %x (%v)", got, ok)
	}
	for i := 0; i < 50; i++ {
		c.tick()
	}
	// A learner with a recorded incarnation is promoted by the leader,
	// though no re-add was asked of it.
	c.confChange(change(pb.ConfChangeRemoveNode, wiped))
	nl := c.waitLeader()
	if err := nl.ProposeConfChange(&pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{change(pb.ConfChangeAddLearnerNode, wiped)}, Context: inc[:]}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200 && len(c.waitLeader().ConfState().GetVoters()) != 3; i++ {
		c.tick()
	}
	if cs := c.waitLeader().ConfState(); len(cs.GetVoters()) != 3 || len(cs.GetLearners()) != 0 {
		t.Fatalf("the learner was not promoted: %v", cs)
	}
	c.checkReplicasAgree()
}

// A replica opened without voters was created amnesic, so its log must
// hold the amnesia record or the proof that it rejoined. A log holding
// neither lost the record (a recovery that took a damaged read for a torn
// tail drops the state records a segment begins with): the replica must
// open amnesic again, not as the voter its snapshot's membership lists,
// and vote only once re-added.
func TestLostAmnesiaRecordReopensAmnesic(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.sendRecords(1, 5, "x")
	l := c.waitLeader()
	lost := uint64(3)
	if l.cfg.ID == lost {
		lost = 2
	}
	other := 6 - l.cfg.ID - lost
	// lost's log holds the group's state and no amnesia record; reopened
	// without voters, as its broker opens a replica it must treat as amnesic.
	c.crash(lost)
	c.joining[lost] = true
	c.start(lost)
	if !c.parts[lost].Amnesic() {
		t.Fatal("a replica opened without voters on a log without its amnesia record is not amnesic")
	}
	votes := 0
	c.observe = func(m *pb.Message) {
		if m.GetFrom() == lost && !m.GetReject() &&
			(m.GetType() == pb.MsgVoteResp || m.GetType() == pb.MsgPreVoteResp) && c.parts[lost].Amnesic() {
			votes++
		}
	}
	c.crash(l.cfg.ID)
	for i := 0; i < 100; i++ {
		c.tick()
	}
	if c.parts[other].isLeader() || votes > 0 {
		t.Fatalf("replica %d voted (%d grants) before it was re-added", lost, votes)
	}
	// A re-add under its incarnation ends the amnesia.
	c.start(l.cfg.ID)
	c.waitLeader().ReplaceIncarnation(lost, c.incarnation[lost])
	for i := 0; i < 200 && (c.parts[lost].Amnesic() || len(c.waitLeader().ConfState().GetVoters()) != 3); i++ {
		c.tick()
	}
	if c.parts[lost].Amnesic() {
		t.Fatal("the replica was never re-added")
	}
	if _, ok := c.parts[lost].RejoinedAt(); !ok {
		t.Fatal("the re-added replica does not record that it rejoined")
	}
}

// A wiped replica whose re-add its group compacted away before the replica
// applied it (it was down, or far behind) learns of the re-add from the
// snapshot it installs: the snapshot's member table holds its incarnation.
// Its amnesia must end there, as applying the learner change would have
// ended it. The leader takes the re-add as done and never starts another,
// so otherwise the replica would never vote again: the simulator's
// large-records scenario, under swarm settings, left one amnesic for good.
func TestReaddCoveredBySnapshotEndsAmnesia(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.sendRecords(1, 10, "x")
	l := c.waitLeader()
	wiped := l.cfg.ID%3 + 1
	c.wipe(wiped)
	c.crash(wiped) // down while its group re-adds it
	l.ReplaceIncarnation(wiped, c.incarnation[wiped])
	for i := 0; i < 200 && !slices.Contains(l.ConfState().GetLearners(), wiped); i++ {
		c.tick()
	}
	if !slices.Contains(l.ConfState().GetLearners(), wiped) {
		t.Fatalf("not re-added as a learner: %v", l.ConfState())
	}
	c.sendRecords(11, 20, "y")
	c.settle()
	for _, id := range c.ids {
		if id == wiped {
			continue
		}
		p := c.parts[id]
		w, err := p.Compact(p.applied)
		if err != nil {
			t.Fatal(err)
		}
		p.WriteDone(w, w.Round.Run(c.fs[id]))
	}
	c.start(wiped)
	w := c.parts[wiped]
	if !w.Amnesic() {
		t.Fatal("the wiped replica reopened not amnesic before it heard of its re-add")
	}
	for i := 0; i < 300 && (w.Amnesic() || len(c.waitLeader().ConfState().GetVoters()) != 3); i++ {
		c.tick()
	}
	if w.Amnesic() {
		t.Fatal("the replica installed a snapshot covering its re-add and is still amnesic")
	}
	if cs := c.waitLeader().ConfState(); len(cs.GetVoters()) != 3 || len(cs.GetLearners()) != 0 {
		t.Fatalf("the re-added learner was not promoted: %v", cs)
	}
	if at, ok := w.RejoinedAt(); !ok || at < 10 || at > 20 {
		t.Fatalf("rejoined at %d (%v), want an offset in [10, 20]", at, ok)
	}
	// Its log begins after the snapshot; what it holds, the leader holds.
	if r := c.send(21, makeBatch(1, "z", 1)); r.Err != nil {
		t.Fatal(r.Err)
	}
	for i := 0; i < 20; i++ {
		c.tick() // the followers learn the commit
	}
	nl := c.waitLeader()
	ents, err := w.log.ReadEntries(w.log.OldestIndex(), w.applied+1, 1<<30)
	if err != nil || len(ents) == 0 {
		t.Fatalf("the re-added replica's entries: %d, %v", len(ents), err)
	}
	for _, e := range ents {
		le, err := nl.log.ReadEntries(e.GetIndex(), e.GetIndex()+1, 1<<30)
		if err != nil || len(le) != 1 || !bytes.Equal(le[0].GetData(), e.GetData()) {
			t.Fatalf("entry %d differs from the leader's (%v)", e.GetIndex(), err)
		}
	}
	if w.appliedNext != nl.appliedNext || w.appliedNext != 21 {
		t.Fatalf("the re-added replica applied up to offset %d, the leader %d, want 21", w.appliedNext, nl.appliedNext)
	}
	// It survives a restart.
	c.settle()
	c.crash(wiped)
	c.start(wiped)
	if c.parts[wiped].Amnesic() {
		t.Fatal("amnesic again after a restart")
	}
}
