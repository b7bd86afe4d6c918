package groups

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A static member that left (-2) and rejoins under a new id after the
// group's target moved is answered the target epoch: it owns nothing, so
// there is nothing to revoke (Kafka's computeNextAssignment waits only
// when ownsRevokedPartitions). Found by review: it was answered epoch 0,
// and its next heartbeat INVALID_REQUEST.
func TestStaticRejoinAfterTargetMovedGetsTargetEpoch(t *testing.T) {
	h := staticLeftWhileTargetMoved(t)
	// s1 comes back under a new id.
	r := h.beat(staticJoin848("s1b", "i1"))
	t.Logf("rejoin answer: epoch %d parts %v", r.MemberEpoch, parts(r, "t"))
	if r.MemberEpoch <= 0 {
		// The client now heartbeats with epoch 0 and its owned partitions:
		next := cghb("g", "s1b", r.MemberEpoch, []string{"t"}, owned("t", parts(r, "t")...))
		next.InstanceID = new("i1")
		tok := h.call(next)
		h.commitAll()
		rr := h.cg(tok)
		t.Fatalf("static rejoin answered member epoch %d (Kafka: the target epoch); the client's next heartbeat at that epoch with its partitions gets %v", r.MemberEpoch, kerr.ErrorForCode(rr.ErrorCode))
	}
}

// A static member's rejoin under a new member id takes over its old
// target and recomputes nothing at the same group epoch, as Kafka's
// replaceMember. Found by review: with the range assignor (member-id
// ordered) the recomputation moved another member's target without an
// epoch bump; that member, stable at the epoch, was never reconciled, and
// two partitions were consumed by nobody.
func TestStaticRejoinKeepsTargetsAtSameEpoch(t *testing.T) {
	h := newHarness(t, consumerConfig(topicTable{"t": 4}))
	hb := func(id, instance string, epoch int32, own ...int32) *kmsg.ConsumerGroupHeartbeatRequest {
		r := cghb("g", id, epoch, []string{"t"}, owned("t", own...))
		r.InstanceID = new(instance)
		r.ServerAssignor = new("range")
		return r
	}
	h.beat(hb("s1", "i1", 0))
	h.beat(hb("s2", "i2", 0))
	own := map[string][]int32{}
	ep := map[string]int32{}
	inst := map[string]string{"s1": "i1", "s2": "i2", "x": "i1"}
	d := h.c.ConsumerGroupDescribe("g")
	for _, m := range d.Members {
		ep[m.MemberID] = m.MemberEpoch
	}
	step := func(ids ...string) {
		for _, id := range ids {
			r := h.beat(hb(id, inst[id], ep[id], own[id]...))
			ep[id] = r.MemberEpoch
			if r.Assignment != nil {
				own[id] = parts(r, "t")
			}
		}
	}
	for range 5 {
		step("s1", "s2")
	}
	if h.state("g") != Stable {
		t.Fatalf("not stable: %+v", h.c.ConsumerGroupDescribe("g"))
	}
	t.Logf("before: s1 %v s2 %v", own["s1"], own["s2"])
	epochBefore := h.c.ConsumerGroupDescribe("g").Epoch
	lv := keepalive("g", "s1", -2)
	lv.InstanceID = new("i1")
	h.beat(lv)
	// s1 comes back as "x" (sorts after s2).
	r := h.beat(hb("x", "i1", 0))
	ep["x"], own["x"] = r.MemberEpoch, parts(r, "t")
	for range 10 {
		step("s2", "x")
	}
	d = h.c.ConsumerGroupDescribe("g")
	for _, m := range d.Members {
		t.Logf("%s epoch %d assigned %v target %v", m.MemberID, m.MemberEpoch, m.Assignment.TopicPartitions, m.TargetAssignment.TopicPartitions)
	}
	if d.Epoch != epochBefore || d.State != Stable {
		t.Fatalf("after a static rejoin the group is %s at epoch %d (was %d); Kafka keeps every target and the group Stable", d.State, d.Epoch, epochBefore)
	}
}

// The same under its own id (a KIP-1082 client keeps its id): it was
// answered member epoch -2, which kgo ignores.
func TestStaticRejoinSameIDAfterTargetMoved(t *testing.T) {
	h := staticLeftWhileTargetMoved(t)
	r := h.beat(staticJoin848("s1", "i1"))
	if r.MemberEpoch <= 0 {
		t.Fatalf("static rejoin under the same id answered member epoch %d, parts %v (Kafka: the target epoch)", r.MemberEpoch, parts(r, "t"))
	}
}

// Partitions added to a subscribed topic bump the group epoch and are
// assigned.
func TestPartitionsAddedBumpEpoch(t *testing.T) {
	tt := topicTable{"t": 2}
	h := newHarness(t, consumerConfig(tt))
	settleIDs := []string{"a", "b"}
	stableConsumers(h, "g", "t", settleIDs)
	e := h.c.ConsumerGroupDescribe("g").Epoch
	tt["t"] = 6
	got := settle(h, "g", "t", settleIDs)
	if d := h.c.ConsumerGroupDescribe("g"); d.Epoch != e+1 || len(got["a"])+len(got["b"]) != 6 {
		t.Fatalf("after adding partitions: epoch %d (was %d), %v", d.Epoch, e, got)
	}
}

// staticJoin848 is a KIP-848 join (epoch 0, owning nothing) of a static
// member.
func staticJoin848(id, instance string) *kmsg.ConsumerGroupHeartbeatRequest {
	r := cghb("g", id, 0, []string{"t"}, owned("t"))
	r.InstanceID = new(instance)
	return r
}

// staticLeftWhileTargetMoved: static member s1 (instance i1) owned all four
// partitions of t and left for a restart (-2); a dynamic member d joined
// meanwhile, so s1's target shrank.
func staticLeftWhileTargetMoved(t *testing.T) *harness {
	h := newHarness(t, consumerConfig(topicTable{"t": 4}))
	r := h.beat(staticJoin848("s1", "i1"))
	h.beat(cghb("g", "s1", r.MemberEpoch, []string{"t"}, owned("t", 0, 1, 2, 3)))
	lv := keepalive("g", "s1", -2)
	lv.InstanceID = new("i1")
	h.beat(lv)
	h.beat(cghb("g", "d", 0, []string{"t"}, owned("t")))
	return h
}
