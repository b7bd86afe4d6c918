package groups

import (
	"bytes"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// storedGroup decodes the last committed metadata record of group (nil
// after a tombstone or before any).
func (h *harness) storedGroup(group string) *kmsg.GroupMetadataValue {
	h.t.Helper()
	key := groupKey(group)
	var v *kmsg.GroupMetadataValue
	for _, r := range h.log {
		if !bytes.Equal(r.Key, key) {
			continue
		}
		v = nil
		if r.Value != nil {
			v = new(kmsg.GroupMetadataValue)
			if err := v.ReadFrom(r.Value); err != nil {
				h.t.Fatal(err)
			}
		}
	}
	return v
}

func TestJoinSyncHeartbeatThreeMembers(t *testing.T) {
	h := newHarness(t, testConfig())
	var ids []string
	var joins []uint64
	for range 3 {
		id, tok := h.newMember("g")
		ids, joins = append(ids, id), append(joins, tok)
	}
	for _, tok := range joins {
		if h.answered(tok) != nil {
			t.Fatalf("join answered during the initial delay")
		}
	}
	h.tick(3000)
	var gen int32
	for i, tok := range joins {
		r := h.join(tok)
		h.wantErr(tok, nil)
		if r.Generation != 1 || r.LeaderID != ids[0] || r.MemberID != ids[i] || *r.Protocol != "range" {
			t.Fatalf("join %d: generation %d leader %q member %q protocol %q", i, r.Generation, r.LeaderID, r.MemberID, *r.Protocol)
		}
		if want := map[bool]int{true: 3, false: 0}[i == 0]; len(r.Members) != want {
			t.Fatalf("join %d: %d members listed, want %d", i, len(r.Members), want)
		}
		gen = r.Generation
	}
	if s := h.state("g"); s != CompletingRebalance {
		t.Fatalf("state %s", s)
	}
	// Followers sync first and wait for the leader.
	s1 := h.call(syncReq("g", ids[1], gen, nil))
	s2 := h.call(syncReq("g", ids[2], gen, nil))
	hb := h.call(heartbeatReq("g", ids[2], gen))
	h.wantErr(hb, nil) // a heartbeat while completing is fine
	assign := map[string]string{ids[0]: "A", ids[1]: "B", ids[2]: "C"}
	s0 := h.call(syncReq("g", ids[0], gen, assign))
	if len(h.pending) != 1 {
		t.Fatalf("%d appends after the leader's sync, want 1", len(h.pending))
	}
	for _, tok := range []uint64{s0, s1, s2} {
		if h.answered(tok) != nil {
			t.Fatalf("sync answered before the assignment was stored")
		}
	}
	h.commitNext()
	for i, tok := range []uint64{s0, s1, s2} {
		h.wantErr(tok, nil)
		if got := string(h.sync(tok).MemberAssignment); got != assign[ids[i]] {
			t.Fatalf("member %d got %q", i, got)
		}
	}
	stored := h.storedGroup("g")
	if stored.Generation != 1 || deref(stored.Leader) != ids[0] || len(stored.Members) != 3 || string(stored.Members[2].Assignment) != "C" {
		t.Fatalf("stored %+v", stored)
	}
	d, _ := h.c.Describe("g")
	if d.State != Stable || len(d.Members) != 3 || string(d.Members[1].MemberAssignment) != "B" {
		t.Fatalf("describe %+v", d)
	}
	for _, id := range ids {
		h.wantErr(h.call(heartbeatReq("g", id, gen)), nil)
	}
	// A late sync of a stable group gets its assignment at once.
	h.wantErr(h.call(syncReq("g", ids[1], gen, nil)), nil)
}

func TestMemberIDRequired(t *testing.T) {
	h := newHarness(t, testConfig())
	tok := h.call(joinReq("g", "", nil))
	h.wantErr(tok, kerr.MemberIDRequired)
	id := h.join(tok).MemberID
	if !strings.HasPrefix(id, "client-") {
		t.Fatalf("member id %q", id)
	}
	h.wantErr(h.call(joinReq("g", "client-unknown", nil)), kerr.UnknownMemberID)
	j := h.call(joinReq("g", id, nil))
	h.tick(3000)
	h.wantErr(j, nil)
	if r := h.join(j); r.MemberID != id || r.LeaderID != id || r.Generation != 1 {
		t.Fatalf("join %+v", r)
	}
	// A pending id not used within the session timeout is forgotten.
	tok = h.call(joinReq("g", "", nil))
	pending := h.join(tok).MemberID
	h.tick(sessionMs)
	h.wantErr(h.call(joinReq("g", pending, nil)), kerr.UnknownMemberID)
}

func TestRebalanceOnLeave(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", 3)
	h.wantErr(h.call(leaveReq("g", ids[2])), nil)
	h.wantErr(h.call(heartbeatReq("g", ids[0], gen)), kerr.RebalanceInProgress)
	h.wantErr(h.call(syncReq("g", ids[1], gen, nil)), kerr.RebalanceInProgress)
	j0 := h.call(joinReq("g", ids[0], nil))
	j1 := h.call(joinReq("g", ids[1], nil))
	for _, tok := range []uint64{j0, j1} {
		if r := h.join(tok); r.ErrorCode != 0 || r.Generation != gen+1 {
			t.Fatalf("rejoin %+v", r)
		}
	}
	h.wantErr(h.call(heartbeatReq("g", ids[2], gen+1)), kerr.UnknownMemberID)
	h.wantErr(h.call(leaveReq("g", ids[2])), kerr.UnknownMemberID)
}

func TestRebalanceOnSessionExpiry(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", 3)
	for range 2 {
		h.tick(4000)
		h.wantErr(h.call(heartbeatReq("g", ids[0], gen)), nil)
		h.wantErr(h.call(heartbeatReq("g", ids[1], gen)), nil)
	}
	h.tick(sessionMs - 8000) // ids[2], silent, expires
	h.wantErr(h.call(heartbeatReq("g", ids[0], gen)), kerr.RebalanceInProgress)
	j0 := h.call(joinReq("g", ids[0], nil))
	j1 := h.call(joinReq("g", ids[1], nil))
	if r := h.join(j1); r.ErrorCode != 0 || r.Generation != gen+1 || h.join(j0).LeaderID != ids[0] {
		t.Fatalf("rejoin %+v", r)
	}
	if len(h.join(j0).Members) != 2 {
		t.Fatalf("leader sees %d members", len(h.join(j0).Members))
	}
}

func TestRebalanceTimeoutRemovesMember(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", 3)
	j1 := h.call(joinReq("g", ids[1], nil, "t", "u")) // new subscription
	j0 := h.call(joinReq("g", ids[0], nil, "t", "u"))
	for range 4 { // ids[2] heartbeats but never rejoins
		h.tick(rebalanceMs / 5)
		h.wantErr(h.call(heartbeatReq("g", ids[2], gen)), kerr.RebalanceInProgress)
		if h.answered(j0) != nil {
			t.Fatalf("join completed before the rebalance timeout")
		}
	}
	h.tick(rebalanceMs / 5)
	for _, tok := range []uint64{j0, j1} {
		if r := h.join(tok); r.ErrorCode != 0 || r.Generation != gen+1 {
			t.Fatalf("join %+v", r)
		}
	}
	if n := len(h.join(j0).Members); n != 2 {
		t.Fatalf("%d members, want 2", n)
	}
	h.wantErr(h.call(heartbeatReq("g", ids[2], gen)), kerr.UnknownMemberID)
}

func TestInitialRebalanceDelay(t *testing.T) {
	h := newHarness(t, testConfig())
	_, j0 := h.newMember("g")
	h.tick(2000)
	_, j1 := h.newMember("g") // extends the delay to 5 s
	h.tick(2000)
	if h.answered(j0) != nil {
		t.Fatal("join completed while members were still arriving")
	}
	h.tick(999)
	if h.answered(j0) != nil {
		t.Fatal("join completed before the extended delay")
	}
	h.tick(1)
	if r0, r1 := h.join(j0), h.join(j1); r0.Generation != 1 || r1.Generation != 1 || len(r0.Members) != 2 {
		t.Fatalf("joins %+v %+v", r0, r1)
	}
}

// An initial rebalance completes when its delay ends, without waiting
// for an id handed out with MEMBER_ID_REQUIRED (Kafka's InitialDelayedJoin).
func TestInitialDelayDoesNotWaitForPendingIDs(t *testing.T) {
	h := newHarness(t, testConfig())
	_, j0 := h.newMember("g")
	h.wantErr(h.call(joinReq("g", "", nil)), kerr.MemberIDRequired) // never comes back
	h.tick(3000)
	if h.answered(j0) == nil {
		t.Fatal("initial rebalance waits for a member id that never joins")
	}
	h.wantErr(j0, nil)
}

func staticJoin(group, instance, memberID string) *kmsg.JoinGroupRequest {
	return joinReq(group, memberID, &instance)
}

// staticGroup forms a stable group of static members i0..i<n-1>.
func (h *harness) staticGroup(group string, n int) ([]string, int32) {
	h.t.Helper()
	toks := make([]uint64, n)
	for i := range n {
		toks[i] = h.call(staticJoin(group, "i"+string(rune('0'+i)), ""))
	}
	h.tick(3000)
	ids := make([]string, n)
	for i, tok := range toks {
		h.wantErr(tok, nil)
		ids[i] = h.join(tok).MemberID
	}
	gen := h.join(toks[0]).Generation
	assign := map[string]string{}
	for i, id := range ids {
		assign[id] = "a" + string(rune('0'+i))
	}
	for i, id := range ids {
		var a map[string]string
		if i == 0 {
			a = assign
		}
		h.call(syncReq(group, id, gen, a))
	}
	h.commitAll()
	return ids, gen
}

func TestStaticMemberRestartKeepsAssignment(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.staticGroup("g", 3)
	if h.state("g") != Stable {
		t.Fatal(h.state("g"))
	}
	j := h.call(staticJoin("g", "i1", "")) // a restart: no member id
	// The new member id is stored (one group record) before the answer.
	if h.answered(j) != nil || len(h.pending) != 1 || len(h.pending[0].Records) != 1 {
		t.Fatalf("answered %v with %d appends: want the group stored first", h.answered(j) != nil, len(h.pending))
	}
	h.commitAll()
	r := h.join(j)
	if r.ErrorCode != 0 || r.Generation != gen || r.MemberID == ids[1] || r.LeaderID != ids[0] || r.SkipAssignment {
		t.Fatalf("join %+v", r)
	}
	if h.state("g") != Stable || len(h.pending) != 0 {
		t.Fatalf("state %s, %d appends: a static restart must not rebalance", h.state("g"), len(h.pending))
	}
	s := h.call(syncReq("g", r.MemberID, gen, nil))
	if got := string(h.sync(s).MemberAssignment); got != "a1" {
		t.Fatalf("restarted member's assignment %q", got)
	}
	// The old incarnation is fenced.
	hb := heartbeatReq("g", ids[1], gen)
	hb.InstanceID = new("i1")
	h.wantErr(h.call(hb), kerr.FencedInstanceID)
	oc := commitReq("g", ids[1], gen, "t", 0, 5)
	oc.InstanceID = new("i1")
	h.wantErr(h.call(oc), kerr.FencedInstanceID)
	for _, id := range []string{ids[0], ids[2]} {
		h.wantErr(h.call(heartbeatReq("g", id, gen)), nil)
	}
	// A static leader restarting with v9 keeps its assignment (KIP-814).
	j = h.call(staticJoin("g", "i0", ""))
	h.commitAll()
	if r := h.join(j); r.ErrorCode != 0 || !r.SkipAssignment || r.LeaderID != r.MemberID || len(r.Members) != 3 {
		t.Fatalf("leader rejoin %+v", r)
	}
	if h.state("g") != Stable {
		t.Fatal(h.state("g"))
	}
}

// A static restart whose store fails is undone: the join gets the error,
// the old member id works again and the new one is unknown, as in Kafka.
func TestStaticRestartStoreFailureUndone(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.staticGroup("g", 3)
	j := h.call(staticJoin("g", "i1", ""))
	h.failNext(kerr.NotEnoughReplicas.Code)
	if r := h.join(j); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("join after a failed store: %+v, want COORDINATOR_NOT_AVAILABLE", r)
	}
	hb := heartbeatReq("g", ids[1], gen)
	hb.InstanceID = new("i1")
	h.wantErr(h.call(hb), nil)
	if h.state("g") != Stable {
		t.Fatal(h.state("g"))
	}
	// The coordinator failing over with the store in flight answers the
	// join NOT_COORDINATOR.
	j = h.call(staticJoin("g", "i2", ""))
	h.c.Deactivate()
	h.drain()
	if r := h.join(j); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("join when the coordinator went: %+v, want NOT_COORDINATOR", r)
	}
}

// A static member replaced while its join is parked: the old join is
// answered FENCED_INSTANCE_ID, the new one waits for the rebalance.
func TestStaticMemberReplacedWhileJoining(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, _ := h.staticGroup("g", 2)
	parked := h.call(joinReq("g", ids[1], new("i1"), "t", "u")) // rebalance: waits for i0
	if h.answered(parked) != nil || h.state("g") != PreparingRebalance {
		t.Fatalf("state %s", h.state("g"))
	}
	restart := h.call(joinReq("g", "", new("i1"), "t", "u"))
	h.wantErr(parked, kerr.FencedInstanceID)
	if h.answered(restart) != nil {
		t.Fatal("restarted member answered before the rebalance completed")
	}
	j0 := h.call(staticJoin("g", "i0", ids[0]))
	h.wantErr(j0, nil)
	if r := h.join(restart); r.ErrorCode != 0 || r.MemberID == ids[1] || r.Generation != h.join(j0).Generation {
		t.Fatalf("restart %+v", r)
	}
}

func TestErrorCodes(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", 2)
	h.wantErr(h.call(heartbeatReq("g", ids[0], gen+1)), kerr.IllegalGeneration)
	h.wantErr(h.call(heartbeatReq("g", "nobody", gen)), kerr.UnknownMemberID)
	h.wantErr(h.call(heartbeatReq("nogroup", ids[0], gen)), kerr.UnknownMemberID)
	h.wantErr(h.call(syncReq("g", ids[0], gen-1, nil)), kerr.IllegalGeneration)
	h.wantErr(h.call(commitReq("g", ids[0], gen-1, "t", 0, 1)), kerr.IllegalGeneration)
	h.wantErr(h.call(commitReq("g", "nobody", gen, "t", 0, 1)), kerr.UnknownMemberID)
	h.wantErr(h.call(commitReq("g", "", -1, "t", 0, 1)), kerr.UnknownMemberID) // a simple commit to a group with members
	bad := joinReq("g", ids[0], nil)
	bad.SessionTimeoutMillis = 10
	h.wantErr(h.call(bad), kerr.InvalidSessionTimeout)
	bad = joinReq("g", "", nil)
	bad.ProtocolType = "connect"
	h.wantErr(h.call(bad), kerr.InconsistentGroupProtocol)
	// A heartbeat naming a static instance the group does not know.
	hb := heartbeatReq("g", ids[0], gen)
	hb.InstanceID = new("ghost")
	h.wantErr(h.call(hb), kerr.UnknownMemberID)

	// The leader rejoins: a rebalance.
	j0 := h.call(joinReq("g", ids[0], nil))
	h.wantErr(h.call(syncReq("g", ids[1], gen, nil)), kerr.RebalanceInProgress)
	h.wantErr(h.call(heartbeatReq("g", ids[1], gen)), kerr.RebalanceInProgress)
	oc := h.call(commitReq("g", ids[1], gen, "t", 0, 7)) // commits still go through
	if len(h.pending) != 1 {
		t.Fatalf("%d appends", len(h.pending))
	}
	h.commitAll()
	h.wantErr(oc, nil)
	j1 := h.call(joinReq("g", ids[1], nil))
	h.wantErr(j0, nil)
	h.wantErr(j1, nil)
	// Completing: a valid member's commit is REBALANCE_IN_PROGRESS; a stale
	// generation's is ILLEGAL_GENERATION (Kafka checks the member first).
	h.wantErr(h.call(commitReq("g", ids[1], gen+1, "t", 0, 8)), kerr.RebalanceInProgress)
	h.wantErr(h.call(commitReq("g", ids[1], gen, "t", 0, 8)), kerr.IllegalGeneration)
	h.wantErr(h.call(commitReq("g", "nobody", gen+1, "t", 0, 8)), kerr.UnknownMemberID)
}

func TestOffsetCommitSimpleGroup(t *testing.T) {
	h := newHarness(t, testConfig())
	// Generation -1 without a group: a simple group; answered once committed.
	tok := h.call(commitReq("s", "", -1, "t", 0, 42))
	if h.answered(tok) != nil || len(h.pending) != 1 {
		t.Fatal("commit answered before its record was stored")
	}
	if _, ok := h.c.Offset("s", "t", 0); ok {
		t.Fatal("offset visible before it was committed")
	}
	h.commitNext()
	h.wantErr(tok, nil)
	if o, ok := h.c.Offset("s", "t", 0); !ok || o.Offset != 42 || o.LeaderEpoch != 3 || o.CommitTimestamp != h.now {
		t.Fatalf("offset %+v %v", o, ok)
	}
	// Metadata too large fails its partition only.
	req := commitReq("s", "", -1, "t", 0, 43)
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, kmsg.OffsetCommitRequestTopicPartition{Partition: 1, Offset: 9, Metadata: new(strings.Repeat("x", 4097))})
	tok = h.call(req)
	h.commitAll()
	ps := h.reply(tok).(*kmsg.OffsetCommitResponse).Topics[0].Partitions
	if ps[0].ErrorCode != 0 || ps[1].ErrorCode != kerr.OffsetMetadataTooLarge.Code {
		t.Fatalf("partitions %+v", ps)
	}
	if _, ok := h.c.Offset("s", "t", 1); ok {
		t.Fatal("an oversized commit was stored")
	}
	// A generation for a group that does not exist.
	h.wantErr(h.call(commitReq("nope", "m", 3, "t", 0, 1)), kerr.IllegalGeneration)
	v9 := commitReq("nope", "m", 3, "t", 0, 1)
	v9.Version = 9
	h.wantErr(h.call(v9), kerr.GroupIDNotFound)
	// A group that only has offsets exists: a member id is unknown there.
	h.wantErr(h.call(commitReq("s", "m", 3, "t", 0, 1)), kerr.UnknownMemberID)
}

func TestOffsetCommitAfterFailover(t *testing.T) {
	h := newHarness(t, testConfig())
	h.call(commitReq("s", "", -1, "t", 0, 1))
	h.commitAll()
	h.failover()
	// The simple group exists on the new coordinator too.
	h.wantErr(h.call(commitReq("s", "m", 3, "t", 0, 1)), kerr.UnknownMemberID)
	tok := h.call(commitReq("s", "", -1, "t", 0, 2))
	h.commitAll()
	h.wantErr(tok, nil)
	if o, _ := h.c.Offset("s", "t", 0); o.Offset != 2 {
		t.Fatalf("offset %d", o.Offset)
	}
}

func TestStoreFailures(t *testing.T) {
	h := newHarness(t, testConfig())
	_, j0 := h.newMember("g")
	_, j1 := h.newMember("g")
	h.tick(3000)
	r0, r1 := h.join(j0), h.join(j1)
	s1 := h.call(syncReq("g", r1.MemberID, r1.Generation, nil))
	s0 := h.call(syncReq("g", r0.MemberID, r0.Generation, map[string]string{r0.MemberID: "x", r1.MemberID: "y"}))
	h.failNext(kerr.NotLeaderForPartition.Code)
	h.wantErr(s0, kerr.NotCoordinator)
	h.wantErr(s1, kerr.NotCoordinator)
	if h.state("g") != PreparingRebalance {
		t.Fatalf("state %s after a failed store", h.state("g"))
	}
	// Rejoin, and fail the store with a record too large: for a group
	// record that is UNKNOWN_SERVER_ERROR (Kafka), not an offset error.
	j0, j1 = h.call(joinReq("g", r0.MemberID, nil)), h.call(joinReq("g", r1.MemberID, nil))
	h.wantErr(j1, nil)
	gen := h.join(j0).Generation
	s0 = h.call(syncReq("g", r0.MemberID, gen, map[string]string{r0.MemberID: "x"}))
	h.failNext(kerr.MessageTooLarge.Code)
	h.wantErr(s0, kerr.UnknownServerError)

	// Offset commits map the same errors their own way.
	c := h.call(commitReq("s", "", -1, "t", 0, 1))
	h.failNext(kerr.MessageTooLarge.Code)
	h.wantErr(c, kerr.InvalidCommitOffsetSize)
	c = h.call(commitReq("s", "", -1, "t", 0, 1))
	h.failNext(kerr.NotEnoughReplicas.Code)
	h.wantErr(c, kerr.CoordinatorNotAvailable)
	if _, ok := h.c.Offset("s", "t", 0); ok {
		t.Fatal("a failed commit is visible")
	}
}

func TestStoreTimeout(t *testing.T) {
	h := newHarness(t, testConfig())
	c := h.call(commitReq("s", "", -1, "t", 0, 1))
	h.tick(4999)
	if h.answered(c) != nil {
		t.Fatal("answered before the commit timeout")
	}
	h.tick(1)
	h.wantErr(c, kerr.CoordinatorNotAvailable)
	h.commitNext() // committed after all: no second answer (the harness checks)
	if o, ok := h.c.Offset("s", "t", 0); !ok || o.Offset != 1 {
		t.Fatal("a late commit is not applied")
	}
}

func TestDeactivateAnswersEveryWaitingCall(t *testing.T) {
	h := newHarness(t, testConfig())
	h.call(commitReq("s", "", -1, "t", 0, 1))
	h.commitAll()
	ids, _ := h.stableGroup("g", 3)
	kids, _ := h.stableGroup("k", 2)
	kj := h.call(joinReq("k", kids[0], nil)) // parked: kids[1] has not rejoined
	var last uint64
	for _, id := range ids {
		last = h.call(joinReq("g", id, nil))
	}
	gen2 := h.join(last).Generation
	s1 := h.call(syncReq("g", ids[1], gen2, nil)) // parked: waiting for the leader
	s0 := h.call(syncReq("g", ids[0], gen2, map[string]string{ids[0]: "x"}))
	oc := h.call(commitReq("s", "", -1, "t", 0, 2))
	_, nj := h.newMember("h") // parked: initial delay
	dg := h.call(&kmsg.DeleteGroupsRequest{Version: 2, Groups: []string{"s"}})
	h.wantErr(h.call(&kmsg.DeleteGroupsRequest{Version: 2, Groups: []string{"s"}}), kerr.GroupIDNotFound) // being deleted
	if len(h.pending) != 3 {
		t.Fatalf("%d appends pending", len(h.pending))
	}
	h.c.Deactivate()
	h.drain()
	for _, tok := range []uint64{kj, s0, s1, oc, nj, dg} {
		h.wantErr(tok, kerr.NotCoordinator)
	}
	if h.c.Active() {
		t.Fatal("still active")
	}
	h.wantErr(h.call(heartbeatReq("g", ids[0], gen2)), kerr.NotCoordinator)
	for _, a := range h.pending {
		h.c.AppendDone(a.ID, 0) // results arriving late are ignored
	}
	h.drain()
}

func TestFailoverRestoresGroupsAndOffsets(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", 3)
	h.call(commitReq("g", ids[0], gen, "t", 0, 10))
	h.commitAll()
	h.call(commitReq("g", ids[1], gen, "t", 1, 20))
	h.commitAll()
	h.failover()
	d, ok := h.c.Describe("g")
	if !ok || d.State != Stable || len(d.Members) != 3 {
		t.Fatalf("describe %+v", d)
	}
	for i, m := range d.Members {
		if m.MemberID != ids[i] || string(m.MemberAssignment) != "a-"+string(rune('0'+i)) {
			t.Fatalf("member %d: %+v", i, m)
		}
	}
	for _, id := range ids {
		h.wantErr(h.call(heartbeatReq("g", id, gen)), nil)
	}
	if o, _ := h.c.Offset("g", "t", 1); o.Offset != 20 {
		t.Fatalf("offset %d", o.Offset)
	}
	if offs := h.c.Offsets("g"); len(offs) != 1 || len(offs[0].Partitions) != 2 {
		t.Fatalf("offsets %+v", offs)
	}
	// The next rebalance continues the generation.
	j := h.call(joinReq("g", ids[0], nil))
	h.call(joinReq("g", ids[1], nil))
	h.call(joinReq("g", ids[2], nil))
	if r := h.join(j); r.Generation != gen+1 {
		t.Fatalf("generation %d after failover, want %d", r.Generation, gen+1)
	}
	// Members not heard from after the failover expire.
	h.tick(sessionMs + rebalanceMs)
	if s := h.state("g"); s != PreparingRebalance && s != Empty {
		t.Fatalf("state %s", s)
	}
}

func TestDeleteGroups(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", 1)
	h.call(commitReq("g", ids[0], gen, "t", 0, 5))
	h.commitAll()
	del := func(groups ...string) uint64 {
		return h.call(&kmsg.DeleteGroupsRequest{Version: 2, Groups: groups})
	}
	h.wantErr(del("g"), kerr.NonEmptyGroup)
	h.wantErr(del("unknown"), kerr.GroupIDNotFound)
	h.wantErr(h.call(leaveReq("g", ids[0])), nil)
	h.commitAll() // the empty group's record
	if h.state("g") != Empty {
		t.Fatal(h.state("g"))
	}
	tok := del("g")
	if h.answered(tok) != nil {
		t.Fatal("answered before the tombstones are stored")
	}
	h.wantErr(h.call(joinReq("g", "", nil)), kerr.CoordinatorNotAvailable) // being deleted
	a := h.commitNext()
	h.wantErr(tok, nil)
	var tombs int
	for _, r := range a.Records {
		if r.Value != nil {
			t.Fatal("a deletion stores a value")
		}
		tombs++
	}
	if tombs != 2 { // one offset, the group
		t.Fatalf("%d tombstones", tombs)
	}
	if _, ok := h.c.Offset("g", "t", 0); ok {
		t.Fatal("offset survived the deletion")
	}
	if _, ok := h.c.Describe("g"); ok || len(h.c.GroupNames()) != 0 || len(h.c.groups) != 0 {
		t.Fatalf("group survived: %v", h.c.GroupNames())
	}
	h.wantErr(del("g"), kerr.GroupIDNotFound)
}

// DeleteGroups tombstones a commit still being stored, so no offset of a
// deleted group survives.
func TestDeleteGroupsCoversInflightCommit(t *testing.T) {
	h := newHarness(t, testConfig())
	h.call(commitReq("s", "", -1, "t", 0, 1))
	h.commitAll()
	c := h.call(commitReq("s", "", -1, "t", 1, 2)) // not yet stored
	d := h.call(&kmsg.DeleteGroupsRequest{Version: 2, Groups: []string{"s"}})
	h.commitAll()
	h.wantErr(c, nil)
	h.wantErr(d, nil)
	if offs := h.c.Offsets("s"); len(offs) != 0 {
		t.Fatalf("offsets of a deleted group: %+v", offs)
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", 2) // subscribed to "t"
	c := commitReq("g", ids[0], gen, "t", 0, 5)
	c.Topics = append(c.Topics, kmsg.OffsetCommitRequestTopic{Topic: "u", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 6}}})
	h.call(c)
	h.commitAll()
	od := func(topic string) uint64 {
		return h.call(&kmsg.OffsetDeleteRequest{Group: "g", Topics: []kmsg.OffsetDeleteRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}})
	}
	h.wantErr(od("t"), kerr.GroupSubscribedToTopic)
	tok := od("u")
	if h.answered(tok) != nil {
		t.Fatal("answered before the tombstone is stored")
	}
	h.commitAll()
	h.wantErr(tok, nil)
	if _, ok := h.c.Offset("g", "u", 0); ok {
		t.Fatal("offset not deleted")
	}
	if _, ok := h.c.Offset("g", "t", 0); !ok {
		t.Fatal("the subscribed topic's offset was deleted")
	}
	h.wantErr(h.call(&kmsg.OffsetDeleteRequest{Group: "none"}), kerr.GroupIDNotFound)
}

func TestOffsetsRetention(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetentionMs = 600000
	h := newHarness(t, cfg)
	ret := cfg.OffsetsRetentionMs
	// A simple group: each offset by its commit time.
	h.call(commitReq("s", "", -1, "t", 0, 1))
	h.commitAll()
	h.tick(ret / 2)
	h.call(commitReq("s", "", -1, "t", 1, 2))
	h.commitAll()
	h.tick(ret/2 + cfg.RetentionCheckMs)
	h.commitAll()
	if _, ok := h.c.Offset("s", "t", 0); ok {
		t.Fatal("an offset older than the retention survived")
	}
	if _, ok := h.c.Offset("s", "t", 1); !ok {
		t.Fatal("a recent offset expired")
	}
	h.tick(ret / 2)
	h.commitAll()
	if _, ok := h.c.Offset("s", "t", 1); ok || len(h.c.groups) != 0 {
		t.Fatal("simple group survived its offsets")
	}

	// A consumer group: its offsets stay while it has members, then all
	// expire once it has been empty for the retention.
	ids, gen := h.stableGroup("g", 1)
	h.call(commitReq("g", ids[0], gen, "t", 0, 9))
	h.commitAll()
	for range int(2 * ret / (sessionMs / 2)) {
		h.tick(sessionMs / 2)
		h.wantErr(h.call(heartbeatReq("g", ids[0], gen)), nil)
	}
	h.commitAll()
	if _, ok := h.c.Offset("g", "t", 0); !ok {
		t.Fatal("a subscribed topic's offset expired in a stable group")
	}
	h.call(leaveReq("g", ids[0]))
	h.commitAll()
	h.tick(ret - cfg.RetentionCheckMs)
	h.commitAll()
	if _, ok := h.c.Offset("g", "t", 0); !ok {
		t.Fatal("offset expired before the group was empty for the retention")
	}
	h.tick(2 * cfg.RetentionCheckMs)
	h.commitAll()
	if _, ok := h.c.Offset("g", "t", 0); ok {
		t.Fatal("offset of a long-empty group survived")
	}
	if h.storedGroup("g") != nil || len(h.c.groups) != 0 {
		t.Fatal("expired group not tombstoned")
	}
}

// An offset being committed when the retention check runs is not expired:
// the acknowledged commit must not be deleted by a tombstone that follows it.
func TestExpiryKeepsInflightCommit(t *testing.T) {
	cfg := testConfig()
	cfg.RetentionCheckMs = 1000
	h := newHarness(t, cfg)
	h.call(commitReq("s", "", -1, "t", 0, 1))
	h.commitAll()
	h.tick(cfg.OffsetsRetentionMs - 500)
	c := h.call(commitReq("s", "", -1, "t", 0, 2)) // in flight during the check
	h.tick(1000)
	h.commitAll()
	h.wantErr(c, nil)
	if o, ok := h.c.Offset("s", "t", 0); !ok || o.Offset != 2 {
		t.Fatalf("acknowledged commit lost to expiry: %+v %v", o, ok)
	}
}

// The leader of a new generation syncs while the previous generation's
// store is still in flight: its assignment must still be stored.
func TestLeaderSyncWhileOldStoreInFlight(t *testing.T) {
	h := newHarness(t, testConfig())
	a, ja := h.newMember("g")
	b, jb := h.newMember("g")
	h.tick(3000)
	gen := h.join(ja).Generation
	h.wantErr(jb, nil)
	sa := h.call(syncReq("g", a, gen, map[string]string{a: "1", b: "2"})) // store 1 in flight
	jb = h.call(joinReq("g", b, nil, "t", "u"))                           // b changes its subscription
	h.wantErr(sa, kerr.RebalanceInProgress)
	ja = h.call(joinReq("g", a, nil, "t", "u"))
	gen2 := h.join(ja).Generation
	h.wantErr(jb, nil)
	sb := h.call(syncReq("g", b, gen2, nil))
	sa = h.call(syncReq("g", a, gen2, map[string]string{a: "3", b: "4"}))
	h.commitAll()
	if h.answered(sa) == nil {
		t.Fatal("the new generation's assignment was never stored")
	}
	if string(h.sync(sa).MemberAssignment) != "3" || string(h.sync(sb).MemberAssignment) != "4" {
		t.Fatal("wrong assignment")
	}
	if g := h.storedGroup("g"); g.Generation != gen2 {
		t.Fatalf("stored generation %d", g.Generation)
	}
}

// A static leader that does not rejoin is not kept as leader: a member
// that rejoined leads (Kafka's maybeElectNewJoinedLeader).
func TestStaticLeaderNotRejoinedIsReplaced(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.staticGroup("g", 2)
	j1 := h.call(joinReq("g", ids[1], new("i1"), "t", "u")) // rebalance; i0 heartbeats, never rejoins
	for range 4 {
		h.tick(rebalanceMs / 4)
		h.call(heartbeatReq("g", ids[0], gen))
	}
	r := h.join(j1)
	if r.ErrorCode != 0 || r.Generation != gen+1 || r.LeaderID != ids[1] || len(r.Members) != 2 {
		t.Fatalf("join %+v", r)
	}
}

// With nobody rejoined, the join phase is postponed instead of starting
// a generation nobody was told about.
func TestRebalanceWithNobodyRejoinedWaits(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.staticGroup("g", 2)
	j1 := h.call(joinReq("g", ids[1], new("i1"), "t", "u"))
	l := leaveReq("g")
	l.Members = []kmsg.LeaveGroupRequestMember{{InstanceID: new("i1")}}
	h.wantErr(h.call(l), nil)
	h.wantErr(j1, kerr.UnknownMemberID)
	for range 4 {
		h.tick(rebalanceMs / 4)
		h.call(heartbeatReq("g", ids[0], gen))
	}
	if s := h.state("g"); s != PreparingRebalance {
		t.Fatalf("state %s, want PreparingRebalance until someone rejoins", s)
	}
	j0 := h.call(joinReq("g", ids[0], new("i0")))
	if r := h.join(j0); r.ErrorCode != 0 || r.Generation != gen+1 || r.LeaderID != ids[0] {
		t.Fatalf("join %+v", r)
	}
}

// Members that were answered a join but never sync are removed after the
// rebalance timeout, even if they heartbeat (Kafka's pending sync).
func TestPendingSyncTimeout(t *testing.T) {
	h := newHarness(t, testConfig())
	a, ja := h.newMember("g")
	b, jb := h.newMember("g")
	h.tick(3000)
	gen := h.join(ja).Generation
	if h.join(ja).LeaderID != a {
		t.Fatal("leader")
	}
	h.wantErr(jb, nil)
	sb := h.call(syncReq("g", b, gen, nil))
	for range 5 { // the leader heartbeats but never syncs
		h.tick(rebalanceMs / 4)
		if h.answered(sb) != nil {
			break
		}
		h.call(heartbeatReq("g", a, gen))
	}
	h.wantErr(sb, kerr.RebalanceInProgress)
	h.wantErr(h.call(heartbeatReq("g", a, gen)), kerr.UnknownMemberID)
	j := h.call(joinReq("g", b, nil))
	if r := h.join(j); r.ErrorCode != 0 || r.LeaderID != b || len(r.Members) != 1 {
		t.Fatalf("rejoin %+v", r)
	}
}

// A new member does not push back the end of a rebalance: members that
// did not rejoin by the rebalance timeout are removed then.
func TestNewMemberDoesNotExtendRebalance(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", 2)
	j0 := h.call(joinReq("g", ids[0], nil, "t", "u"))
	for range 3 {
		h.tick(5000)
		h.wantErr(h.call(heartbeatReq("g", ids[1], gen)), kerr.RebalanceInProgress)
	}
	_, jn := h.newMember("g")
	h.tick(5000)
	if h.answered(j0) == nil || h.answered(jn) == nil {
		t.Fatal("a new member extended the rebalance past its timeout")
	}
	if r := h.join(j0); r.Generation != gen+1 || len(r.Members) != 2 {
		t.Fatalf("join %+v", r)
	}
}

// Groups that hold nothing are forgotten: a join with an unknown member
// id, or a member id handed out and never used.
func TestNoLeakedGroups(t *testing.T) {
	h := newHarness(t, testConfig())
	h.wantErr(h.call(joinReq("x", "client-gone", nil)), kerr.UnknownMemberID)
	h.wantErr(h.call(joinReq("y", "", nil)), kerr.MemberIDRequired)
	h.wantErr(h.call(syncReq("z", "m", 1, nil)), kerr.UnknownMemberID)
	h.tick(sessionMs)
	h.tick(1)
	if n := len(h.c.groups); n != 0 {
		t.Fatalf("%d groups kept with nothing in them: %v", n, h.c.sortedGroups()[0].id)
	}
}

// A group whose metadata record timed out (it may still commit) is not
// forgotten: its next generation follows the one in that record.
func TestGroupNotForgottenBehindItsRecord(t *testing.T) {
	h := newHarness(t, testConfig())
	a, ja := h.newMember("g")
	h.tick(3000)
	h.wantErr(ja, nil)
	h.wantErr(h.call(leaveReq("g", a)), nil) // Empty, generation 2, its record in flight
	h.tick(5000)                             // the store times out
	_, j := h.newMember("g")
	h.tick(3000)
	if r := h.join(j); r.ErrorCode != 0 || r.Generation != 3 {
		t.Fatalf("join %+v: the generation started again behind a stored record", r)
	}
}

// A static member restarting with different subscription metadata (a
// fresh client reports no owned partitions, say) but the same protocol
// keeps its assignment without a rebalance, as in Kafka, which rebalances
// only when the group's protocol would change; one asking for a protocol
// the others do not support is refused.
func TestStaticRestartWithNewMetadata(t *testing.T) {
	h := newHarness(t, testConfig())
	_, gen := h.staticGroup("g", 3)
	j := h.call(joinReq("g", "", new("i1"), "t", "other-topic")) // same "range" protocol, other metadata
	h.commitAll()
	if r := h.join(j); r.ErrorCode != 0 || r.Generation != gen {
		t.Fatalf("join %+v", r)
	}
	if h.state("g") != Stable {
		t.Fatalf("state %s: a static restart with new metadata rebalanced", h.state("g"))
	}
	other := joinReq("g", "", new("i2"))
	other.Protocols[0].Name = "roundrobin"
	h.wantErr(h.call(other), kerr.InconsistentGroupProtocol)
	if h.state("g") != Stable {
		t.Fatalf("state %s after a refused join", h.state("g"))
	}
}

// A batched LeaveGroup (v3+) removes several members in one request, by
// member id or static instance id, with an error per member: an unknown
// one is UNKNOWN_MEMBER_ID, an instance named with another incarnation's
// member id FENCED_INSTANCE_ID (and stays). The group rebalances once,
// without those that left.
func TestLeaveGroupBatched(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.staticGroup("g", 4)
	l := kmsg.NewPtrLeaveGroupRequest()
	l.Version, l.Group = 5, "g"
	l.Members = []kmsg.LeaveGroupRequestMember{
		{MemberID: ids[0]},
		{InstanceID: new("i1")},
		{MemberID: "nobody"},
		{InstanceID: new("i2"), MemberID: "an-old-incarnation"},
		{InstanceID: new("ghost")},
	}
	tok := h.call(l)
	resp := h.reply(tok).(*kmsg.LeaveGroupResponse)
	want := []int16{0, 0, kerr.UnknownMemberID.Code, kerr.FencedInstanceID.Code, kerr.UnknownMemberID.Code}
	if resp.ErrorCode != 0 || len(resp.Members) != len(want) {
		t.Fatalf("leave answer %+v", resp)
	}
	for i, m := range resp.Members {
		if m.ErrorCode != want[i] || m.MemberID != l.Members[i].MemberID || deref(m.InstanceID) != deref(l.Members[i].InstanceID) {
			t.Errorf("member %d answered %+v, want error %d", i, m, want[i])
		}
	}
	if h.state("g") != PreparingRebalance {
		t.Fatalf("state %s after members left", h.state("g"))
	}
	h.wantErr(h.call(heartbeatReq("g", ids[0], gen)), kerr.UnknownMemberID)
	j2 := h.call(staticJoin("g", "i2", ids[2]))
	j3 := h.call(staticJoin("g", "i3", ids[3]))
	for _, j := range []uint64{j2, j3} {
		h.wantErr(j, nil)
		if r := h.join(j); r.Generation != gen+1 {
			t.Fatalf("rejoin %+v, want generation %d", r, gen+1)
		}
	}
	if n := len(h.join(j2).Members) + len(h.join(j3).Members); n != 2 {
		t.Fatalf("%d members in the new generation, want 2", n)
	}
}
