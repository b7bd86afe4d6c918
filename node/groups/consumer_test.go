package groups

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// KIP-848 consumer groups: scenarios against the coordinator.

// topicTable is a fake broker topic table.
type topicTable map[string]int32

func topicID(name string) [16]byte {
	var id [16]byte
	copy(id[:], "topic-"+name)
	return id
}

func consumerConfig(topics topicTable) Config {
	cfg := testConfig()
	cfg.Topic = func(name string) ([16]byte, int32, bool) {
		n, ok := topics[name]
		return topicID(name), n, ok
	}
	cfg.TopicNames = func() []string {
		var out []string
		for name := range topics {
			out = append(out, name)
		}
		slices.Sort(out)
		return out
	}
	return cfg
}

// owned builds a heartbeat's owned partitions of topic t.
func owned(t string, ps ...int32) []kmsg.ConsumerGroupHeartbeatRequestTopic {
	out := []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if len(ps) > 0 {
		out = append(out, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: topicID(t), Partitions: ps})
	}
	return out
}

func cghb(group, member string, epoch int32, topics []string, own []kmsg.ConsumerGroupHeartbeatRequestTopic) *kmsg.ConsumerGroupHeartbeatRequest {
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Version, r.Group, r.MemberID, r.MemberEpoch = 1, group, member, epoch
	r.RebalanceTimeoutMillis = rebalanceMs
	r.SubscribedTopicNames = topics
	r.Topics = own
	return r
}

// keepalive is a heartbeat with nothing but the member and its epoch.
func keepalive(group, member string, epoch int32) *kmsg.ConsumerGroupHeartbeatRequest {
	r := cghb(group, member, epoch, nil, nil)
	r.RebalanceTimeoutMillis = -1
	return r
}

func (h *harness) cg(token uint64) *kmsg.ConsumerGroupHeartbeatResponse {
	h.t.Helper()
	r, ok := h.reply(token).(*kmsg.ConsumerGroupHeartbeatResponse)
	if !ok {
		h.t.Fatalf("token %d: %T", token, h.reply(token))
	}
	return r
}

// beat sends a heartbeat, commits what it stores and returns the answer,
// which must carry no error.
func (h *harness) beat(req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	h.t.Helper()
	tok := h.call(req)
	h.commitAll()
	r := h.cg(tok)
	if r.ErrorCode != 0 {
		h.t.Fatalf("heartbeat of %s epoch %d: %v %s", req.MemberID, req.MemberEpoch, kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage))
	}
	return r
}

func (h *harness) beatErr(req *kmsg.ConsumerGroupHeartbeatRequest, want *kerr.Error) {
	h.t.Helper()
	tok := h.call(req)
	h.commitAll()
	if r := h.cg(tok); r.ErrorCode != want.Code {
		h.t.Fatalf("heartbeat of %s epoch %d: %v %s, want %v", req.MemberID, req.MemberEpoch, kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage), want)
	}
}

// parts lists the partitions of topic t in an answer's assignment (nil:
// no assignment in the answer).
func parts(r *kmsg.ConsumerGroupHeartbeatResponse, t string) []int32 {
	if r.Assignment == nil {
		return nil
	}
	out := []int32{}
	for _, at := range r.Assignment.Topics {
		if at.TopicID == topicID(t) {
			out = append(out, at.Partitions...)
		}
	}
	return out
}

func TestConsumerRevokeBeforeReassign(t *testing.T) {
	h := newHarness(t, consumerConfig(topicTable{"t": 6}))
	// The first member gets everything once its records are committed.
	tok := h.call(cghb("g", "m1", 0, []string{"t"}, owned("t")))
	if h.answered(tok) != nil {
		t.Fatal("the join was answered before its records were committed")
	}
	h.commitAll()
	r := h.cg(tok)
	if r.ErrorCode != 0 || r.MemberEpoch != 1 || len(parts(r, "t")) != 6 || r.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("first join: %+v %v", r, parts(r, "t"))
	}
	if s := h.state("g"); s != Stable {
		t.Fatalf("state %s", s)
	}
	// A second member joins: nothing is free, so it waits.
	r2 := h.beat(cghb("g", "m2", 0, []string{"t"}, owned("t")))
	if r2.MemberEpoch != 2 || len(parts(r2, "t")) != 0 {
		t.Fatalf("second join: epoch %d parts %v", r2.MemberEpoch, parts(r2, "t"))
	}
	if s := h.state("g"); s != Reconciling {
		t.Fatalf("state %s", s)
	}
	// The first is asked to revoke half, staying at its epoch.
	r1 := h.beat(cghb("g", "m1", 1, []string{"t"}, owned("t", 0, 1, 2, 3, 4, 5)))
	keep := parts(r1, "t")
	if r1.MemberEpoch != 1 || len(keep) != 3 {
		t.Fatalf("revocation: epoch %d keep %v", r1.MemberEpoch, keep)
	}
	// Until it reports them revoked, the second still gets nothing.
	r2 = h.beat(cghb("g", "m2", 2, []string{"t"}, owned("t")))
	if len(parts(r2, "t")) != 0 || r2.MemberEpoch != 2 {
		t.Fatalf("second member given %v before revocation", parts(r2, "t"))
	}
	// A keepalive of the first (no owned partitions reported) changes
	// nothing either.
	if r := h.beat(keepalive("g", "m1", 1)); r.MemberEpoch != 1 || r.Assignment != nil {
		t.Fatalf("keepalive during revocation: %+v", r)
	}
	r1 = h.beat(cghb("g", "m1", 1, []string{"t"}, owned("t", keep...)))
	if r1.MemberEpoch != 2 {
		t.Fatalf("after revoking: epoch %d", r1.MemberEpoch)
	}
	r2 = h.beat(cghb("g", "m2", 2, []string{"t"}, owned("t")))
	got := parts(r2, "t")
	if len(got) != 3 {
		t.Fatalf("second member finally got %v", got)
	}
	all := append(slices.Clone(keep), got...)
	slices.Sort(all)
	if !slices.Equal(all, []int32{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("partitions %v", all)
	}
	h.beat(cghb("g", "m2", 2, []string{"t"}, owned("t", got...)))
	if s := h.state("g"); s != Stable {
		t.Fatalf("state %s", s)
	}
	d := h.c.ConsumerGroupDescribe("g")
	if d.ErrorCode != 0 || d.State != Stable || d.Epoch != 2 || d.AssignmentEpoch != 2 || len(d.Members) != 2 || d.AssignorName != "uniform" {
		t.Fatalf("describe %+v", d)
	}
}

func TestConsumerEpochsAndFencing(t *testing.T) {
	h := newHarness(t, consumerConfig(topicTable{"t": 4}))
	h.beat(cghb("g", "m1", 0, []string{"t"}, owned("t")))
	h.beatErr(keepalive("g", "m1", 5), kerr.FencedMemberEpoch)
	h.beatErr(keepalive("g", "nobody", 1), kerr.UnknownMemberID)
	h.beatErr(keepalive("other", "m1", 1), kerr.GroupIDNotFound)
	// A second member bumps the epoch; m1 reaches epoch 2 after revoking.
	h.beat(cghb("g", "m2", 0, []string{"t"}, owned("t")))
	r := h.beat(cghb("g", "m1", 1, []string{"t"}, owned("t", 0, 1, 2, 3)))
	h.beat(cghb("g", "m1", 1, []string{"t"}, owned("t", parts(r, "t")...)))
	// The answer bumping it to 2 was "lost": epoch 1 with a subset of its
	// partitions is accepted, a full set of others is not.
	h.beat(cghb("g", "m1", 1, []string{"t"}, owned("t", parts(r, "t")...)))
	h.beatErr(cghb("g", "m1", 0+1, []string{"t"}, owned("t", 0, 1, 2, 3)), kerr.FencedMemberEpoch)
	// A fenced member rejoins under its id at epoch 0 and gets its
	// assignment again.
	rj := h.beat(cghb("g", "m1", 0, []string{"t"}, owned("t")))
	if rj.MemberEpoch != 2 || !slices.Equal(parts(rj, "t"), parts(r, "t")) {
		t.Fatalf("rejoin: epoch %d parts %v, had %v", rj.MemberEpoch, parts(rj, "t"), parts(r, "t"))
	}
	// Validation.
	bad := cghb("g", "m3", 0, []string{"t"}, owned("t", 1))
	h.beatErr(bad, kerr.InvalidRequest)
	bad = cghb("g", "m3", 0, nil, owned("t"))
	h.beatErr(bad, kerr.InvalidRequest)
	bad = cghb("g", "", 0, []string{"t"}, owned("t"))
	h.beatErr(bad, kerr.InvalidRequest)
	bad = cghb("g", "m3", -3, []string{"t"}, owned("t"))
	h.beatErr(bad, kerr.InvalidRequest)
	bad = cghb("g", "m3", 0, []string{"t"}, owned("t"))
	bad.ServerAssignor = new("sticky")
	h.beatErr(bad, kerr.UnsupportedAssignor)
	bad = cghb("g", "m3", 0, nil, owned("t"))
	bad.SubscribedTopicRegex = new("t(")
	h.beatErr(bad, kerr.InvalidRegularExpression)
}

func TestConsumerSessionExpiryAndLeave(t *testing.T) {
	h := newHarness(t, consumerConfig(topicTable{"t": 4}))
	ids := []string{"a", "b", "c"}
	epochs := stableConsumers(h, "g", "t", ids)
	// b stops heartbeating: it is fenced after the session timeout, and
	// the others share its partitions.
	for range 9 {
		h.tick(5000)
		for _, id := range []string{"a", "c"} {
			h.beat(keepalive("g", id, epochs[id]))
		}
	}
	h.commitAll()
	if d := h.c.ConsumerGroupDescribe("g"); len(d.Members) != 2 || d.Epoch != 4 {
		t.Fatalf("after b's session: %+v", d)
	}
	h.beatErr(keepalive("g", "b", epochs["b"]), kerr.UnknownMemberID)
	got := settle(h, "g", "t", []string{"a", "c"})
	if len(got["a"])+len(got["c"]) != 4 || len(got["a"]) != 2 {
		t.Fatalf("after expiry: %v", got)
	}
	// c leaves: a gets everything.
	lv := keepalive("g", "c", -1)
	r := h.beat(lv)
	if r.MemberEpoch != -1 {
		t.Fatalf("leave answer %+v", r)
	}
	got = settle(h, "g", "t", []string{"a"})
	if len(got["a"]) != 4 {
		t.Fatalf("after leave: %v", got)
	}
	h.beatErr(keepalive("g", "c", -1), kerr.UnknownMemberID)
	// The last member leaves: the group is empty and can be deleted.
	h.beat(keepalive("g", "a", -1))
	if s := h.state("g"); s != Empty {
		t.Fatalf("state %s", s)
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"g"}
	tok := h.call(del)
	h.commitAll()
	h.wantErr(tok, nil)
	if h.c.groups["g"] != nil {
		t.Fatalf("deleted group still held")
	}
}

func TestConsumerRebalanceTimeout(t *testing.T) {
	h := newHarness(t, consumerConfig(topicTable{"t": 4}))
	h.beat(cghb("g", "a", 0, []string{"t"}, owned("t")))
	h.beat(cghb("g", "b", 0, []string{"t"}, owned("t")))
	r := h.beat(cghb("g", "a", 1, []string{"t"}, owned("t", 0, 1, 2, 3)))
	if r.MemberEpoch != 1 || len(parts(r, "t")) != 2 {
		t.Fatalf("revocation asked: %+v", r)
	}
	// a keeps heartbeating but never revokes: fenced after its rebalance
	// timeout, and b gets everything.
	for range rebalanceMs / 5000 {
		h.tick(5000)
		h.call(cghb("g", "a", 1, []string{"t"}, owned("t", 0, 1, 2, 3)))
		h.commitAll()
		h.beat(keepalive("g", "b", 2))
	}
	h.commitAll()
	if got := settle(h, "g", "t", []string{"b"}); len(got["b"]) != 4 {
		t.Fatalf("after a's rebalance timeout: %v", got)
	}
}

func TestConsumerStaticMembers(t *testing.T) {
	h := newHarness(t, consumerConfig(topicTable{"t": 4}))
	join := func(id, instance string) *kmsg.ConsumerGroupHeartbeatRequest {
		r := cghb("g", id, 0, []string{"t"}, owned("t"))
		r.InstanceID = new(instance)
		return r
	}
	h.beat(join("s1", "i1"))
	h.beat(join("s2", "i2"))
	got := settle(h, "g", "t", []string{"s1", "s2"})
	epoch := h.c.ConsumerGroupDescribe("g").Epoch
	// Another process with the same instance id cannot take it.
	h.beatErr(join("s1b", "i1"), kerr.UnreleasedInstanceID)
	// s1 leaves temporarily (-2) and comes back under a new id: it gets
	// the same partitions, with no new group epoch.
	lv := keepalive("g", "s1", -2)
	lv.InstanceID = new("i1")
	if r := h.beat(lv); r.MemberEpoch != -2 {
		t.Fatalf("static leave answer %+v", r)
	}
	r := h.beat(join("s1b", "i1"))
	if !slices.Equal(parts(r, "t"), got["s1"]) {
		t.Fatalf("rejoined static member got %v, had %v", parts(r, "t"), got["s1"])
	}
	d := h.c.ConsumerGroupDescribe("g")
	if d.Epoch != epoch || len(d.Members) != 2 || d.Members[0].MemberID != "s1b" {
		t.Fatalf("after static rejoin: %+v", d)
	}
	// The old id is fenced.
	old := keepalive("g", "s1", 3)
	old.InstanceID = new("i1")
	h.beatErr(old, kerr.FencedInstanceID)
	// A static member that left temporarily and does not come back is
	// removed when its session ends.
	lv = keepalive("g", "s2", -2)
	lv.InstanceID = new("i2")
	h.beat(lv)
	e := r.MemberEpoch
	for range 10 {
		h.tick(5000)
		e = h.beat(keepalive("g", "s1b", e)).MemberEpoch
	}
	h.commitAll()
	if got := settle(h, "g", "t", []string{"s1b"}); len(got["s1b"]) != 4 {
		t.Fatalf("after the static member's session: %v", got)
	}
}

func TestConsumerFailoverRebuild(t *testing.T) {
	h := newHarness(t, consumerConfig(topicTable{"t": 6, "u": 2}))
	ids := []string{"a", "b", "c"}
	epochs := stableConsumers(h, "g", "t", ids)
	before := h.c.ConsumerGroupDescribe("g")
	h.failover()
	after := h.c.ConsumerGroupDescribe("g")
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("rebuilt group differs:\n%+v\n%+v", before, after)
	}
	for _, id := range ids {
		if r := h.beat(keepalive("g", id, epochs[id])); r.MemberEpoch != epochs[id] {
			t.Fatalf("member %s after failover: %+v", id, r)
		}
	}
	// A commit with the member's epoch works; with another, it is stale.
	commit := func(id string, epoch int32) uint64 {
		r := commitReq("g", id, epoch, "t", 0, 10)
		r.Version = 9
		tok := h.call(r)
		h.commitAll()
		return tok
	}
	h.wantErr(commit("a", epochs["a"]), nil)
	h.wantErr(commit("a", epochs["a"]-1), kerr.StaleMemberEpoch)
	h.wantErr(commit("zz", epochs["a"]), kerr.UnknownMemberID)
	if code := h.c.ValidateOffsetFetch("g", new("a"), epochs["a"]+1); code != kerr.StaleMemberEpoch.Code {
		t.Fatalf("offset fetch with a wrong epoch: %v", kerr.ErrorForCode(code))
	}
	// A classic join to a consumer group with members is refused.
	h.wantErr(h.call(joinReq("g", "", nil)), kerr.InconsistentGroupProtocol)
	// A member subscribing to a second topic bumps the epoch; the
	// assignment covers both.
	h.beat(cghb("g", "a", epochs["a"], []string{"t", "u"}, owned("t")))
	d := h.c.ConsumerGroupDescribe("g")
	if d.Epoch != before.Epoch+1 {
		t.Fatalf("epoch %d after a subscription change", d.Epoch)
	}
	// ListGroups and DescribeGroups report the type and state.
	l := h.c.List()
	if len(l) != 1 || l[0].Type != "consumer" || l[0].ProtocolType != "consumer" {
		t.Fatalf("list %+v", l)
	}
}

func TestConsumerClassicConversion(t *testing.T) {
	h := newHarness(t, consumerConfig(topicTable{"t": 2}))
	// An empty classic group (it had a generation) becomes a consumer group.
	ids, gen := h.stableGroup("g", 1)
	h.wantErr(h.call(leaveReq("g", ids[0])), nil)
	h.commitAll()
	_ = gen
	h.beat(cghb("g", "m", 0, []string{"t"}, owned("t")))
	if h.storedGroup("g") != nil {
		t.Fatalf("classic metadata kept after conversion")
	}
	// A classic group with members is not.
	h.stableGroup("k", 1)
	h.beatErr(cghb("k", "m", 0, []string{"t"}, owned("t")), kerr.GroupIDNotFound)
	// The consumer group, once empty, becomes classic on a join.
	h.beat(keepalive("g", "m", -1))
	id, tok := h.newMember("g")
	h.tick(3000)
	h.wantErr(tok, nil)
	jr := h.join(tok)
	if jr.MemberID != id {
		t.Fatal("join")
	}
	sync := h.call(syncReq("g", id, jr.Generation, map[string]string{id: "x"}))
	h.commitAll()
	h.wantErr(sync, nil)
	h.failover()
	if d, _ := h.c.Describe("g"); d.ProtocolType != "consumer" || d.State != Stable || len(h.c.List()) != 2 || h.c.List()[0].Type != "classic" {
		t.Fatalf("after conversion back and failover: %+v %+v", d, h.c.List())
	}
	if h.c.ConsumerGroupDescribe("g").ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatal("a classic group described as a consumer group")
	}
}

func TestConsumerStoreFailure(t *testing.T) {
	h := newHarness(t, consumerConfig(topicTable{"t": 4}))
	h.beat(cghb("g", "a", 0, []string{"t"}, owned("t")))
	tok := h.call(cghb("g", "b", 0, []string{"t"}, owned("t")))
	h.failNext(kerr.RequestTimedOut.Code)
	if r := h.cg(tok); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("failed store answered %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// The group is back to what is committed: b is unknown, a alone.
	d := h.c.ConsumerGroupDescribe("g")
	if len(d.Members) != 1 || d.Epoch != 1 {
		t.Fatalf("after a failed store: %+v", d)
	}
	h.beat(cghb("g", "b", 0, []string{"t"}, owned("t")))
	if got := settle(h, "g", "t", []string{"a", "b"}); len(got["a"]) != 2 || len(got["b"]) != 2 {
		t.Fatalf("after retry: %v", got)
	}
}

// stableConsumers joins members to group over topic and settles them;
// it returns their epochs.
func stableConsumers(h *harness, group, topic string, ids []string) map[string]int32 {
	h.t.Helper()
	for _, id := range ids {
		h.beat(cghb(group, id, 0, []string{topic}, owned(topic)))
	}
	settle(h, group, topic, ids)
	d := h.c.ConsumerGroupDescribe(group)
	out := map[string]int32{}
	for _, m := range d.Members {
		out[m.MemberID] = m.MemberEpoch
	}
	return out
}

// settle has members heartbeat as a client would (reporting what they
// own) until the group is stable; it returns what each owns.
func settle(h *harness, group, topic string, ids []string) map[string][]int32 {
	h.t.Helper()
	own := map[string][]int32{}
	epoch := map[string]int32{}
	d := h.c.ConsumerGroupDescribe(group)
	for _, m := range d.Members {
		epoch[m.MemberID] = m.MemberEpoch
		for _, a := range m.Assignment.TopicPartitions {
			own[m.MemberID] = append(own[m.MemberID], a.Partitions...)
		}
	}
	for range 20 {
		for _, id := range ids {
			r := h.beat(cghb(group, id, epoch[id], []string{topic}, owned(topic, own[id]...)))
			epoch[id] = r.MemberEpoch
			if r.Assignment != nil {
				own[id] = parts(r, topic)
			}
		}
		if h.state(group) == Stable {
			checkDisjoint(h, own)
			return own
		}
	}
	h.t.Fatalf("group %s not stable: %+v", group, h.c.ConsumerGroupDescribe(group))
	return nil
}

func checkDisjoint(h *harness, own map[string][]int32) {
	h.t.Helper()
	seen := map[int32]string{}
	for id, ps := range own {
		for _, p := range ps {
			if o, dup := seen[p]; dup {
				h.t.Fatalf("partition %d owned by %s and %s", p, o, id)
			}
			seen[p] = id
		}
	}
}
