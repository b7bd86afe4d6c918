package groups

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
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
