package groups

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A static member restarts (JoinGroup with its instance id and no member
// id) into a Stable group: it gets a new member id without a rebalance.
// The group metadata with the new member id is stored before the answer,
// as Kafka does (updateStaticMemberThenRebalanceOrCompleteJoin), so after
// a coordinator failover the new incarnation is the member and the old one
// stays fenced (found by review: nothing was stored, and the new
// coordinator rebuilt the group with the old member id).
func TestStaticReplacementSurvivesFailover(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.staticGroup("g", 3)
	j := h.call(staticJoin("g", "i1", "")) // a restart
	h.commitAll()                          // whatever the join stored
	r := h.join(j)
	if r.ErrorCode != 0 {
		t.Fatalf("restart join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	newID := r.MemberID
	s := h.call(syncReq("g", newID, gen, nil))
	h.wantErr(s, nil)

	h.failover()

	hb := heartbeatReq("g", newID, gen)
	hb.InstanceID = new("i1")
	if code := h.errCode(h.call(hb)); code != 0 {
		t.Errorf("new incarnation's heartbeat after failover: %v, want no error", kerr.ErrorForCode(code))
	}
	oc := commitReq("g", newID, gen, "t", 0, 5)
	oc.InstanceID = new("i1")
	tok := h.call(oc)
	h.commitAll()
	if code := h.errCode(tok); code != 0 {
		t.Errorf("new incarnation's commit after failover: %v, want no error", kerr.ErrorForCode(code))
	}
	old := heartbeatReq("g", ids[1], gen)
	old.InstanceID = new("i1")
	if code := h.errCode(h.call(old)); code != kerr.FencedInstanceID.Code {
		t.Errorf("fenced old incarnation's heartbeat after failover: %v, want FENCED_INSTANCE_ID", kerr.ErrorForCode(code))
	}
}

// OffsetCommit v2–v4's retention time overrides offsets.retention.minutes
// for that offset, longer or shorter, across a failover too (the record
// carries an expire timestamp, value version 1), as in Kafka
// (OffsetMetadataManager.expireTimestampMs); -1 keeps the broker's.
func TestOffsetCommitRetentionTime(t *testing.T) {
	h := newHarness(t, testConfig()) // offsets.retention: 1 day
	const hour = 3600 * 1000
	for _, c := range []struct {
		p         int32
		retention int64
	}{{0, 30 * 24 * hour}, {1, 2 * hour}, {2, -1}} {
		req := commitReq("s", "", -1, "t", c.p, 42)
		req.Version, req.RetentionTimeMillis = 2, c.retention
		tok := h.call(req)
		h.commitAll()
		h.wantErr(tok, nil)
	}
	h.failover()
	alive := func(p int32) bool { _, ok := h.c.Offset("s", "t", p); return ok }
	for range 3 * 60 { // three hours, a minute at a time
		h.tick(60000)
		h.commitAll()
	}
	if !alive(0) || alive(1) || !alive(2) {
		t.Fatalf("after 3 hours: 30-day %v, 2-hour %v, default %v; want only the 2-hour one expired", alive(0), alive(1), alive(2))
	}
	for range 2 * 24 * 60 { // two days more
		h.tick(60000)
		h.commitAll()
	}
	if !alive(0) || alive(2) {
		t.Fatalf("after 2 days: 30-day %v, default %v; want only the 30-day one kept", alive(0), alive(2))
	}
}

// Two restarts of one static instance while the first's store is in
// flight: the first join is fenced, the second gets the member (found by
// review: both were answered with the second's id, so the fenced process
// could act as the member).
func TestStaticDoubleRestartDuringStore(t *testing.T) {
	h := newHarness(t, testConfig())
	_, gen := h.staticGroup("g", 3)
	j1 := h.call(staticJoin("g", "i1", ""))
	j2 := h.call(staticJoin("g", "i1", ""))
	h.commitAll()
	r1, r2 := h.join(j1), h.join(j2)
	if r1.ErrorCode != kerr.FencedInstanceID.Code {
		t.Fatalf("first restart's join: %+v, want FENCED_INSTANCE_ID", r1)
	}
	if r2.ErrorCode != 0 || r2.MemberID == "" || r2.Generation != gen {
		t.Fatalf("second restart's join: %+v", r2)
	}
	hb := heartbeatReq("g", r2.MemberID, gen)
	hb.InstanceID = new("i1")
	h.wantErr(h.call(hb), nil)
	// A static member removed while its restart is being stored: the join
	// gets UNKNOWN_MEMBER_ID, not a dead id.
	j3 := h.call(staticJoin("g", "i2", ""))
	l := leaveReq("g")
	l.Members = []kmsg.LeaveGroupRequestMember{{InstanceID: new("i2")}}
	h.call(l)
	h.commitAll()
	if r := h.join(j3); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("join of a member that left meanwhile: %+v, want UNKNOWN_MEMBER_ID", r)
	}
}
