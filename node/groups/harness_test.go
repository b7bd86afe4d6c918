package groups

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/env"
)

// harness drives one Coordinator as the node does: requests go in with a
// token, replies and appends come out of Ready, and the test decides when
// an append commits (its records are applied, then AppendDone) or fails.
// Every committed record is kept, so a fresh replica can replay them.
// tb is what the harness needs of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

type harness struct {
	t       tb
	cfg     Config
	c       *Coordinator
	now     int64
	token   uint64
	replies map[uint64]kmsg.Response
	asked   map[uint64]kmsg.Request
	trace   []Reply  // every reply, in order
	pending []Append // appends not yet done, in proposal order
	log     []Record // committed records, in order
	onApply func(Record)
	onReply func(Reply)
}

func testConfig() Config {
	return Config{InitialRebalanceDelayMs: 3000, OffsetsRetentionMs: 24 * 3600 * 1000, RetentionCheckMs: 60000}
}

func newHarness(t testing.TB, cfg Config) *harness { return newSeededHarness(t, cfg, 1) }

func newSeededHarness(t tb, cfg Config, seed uint64) *harness {
	e, _ := env.NewDeterministic(seed, 0)
	cfg.Env = e
	h := &harness{t: t, cfg: cfg, replies: map[uint64]kmsg.Response{}, asked: map[uint64]kmsg.Request{}, now: 1000}
	h.c = New(cfg)
	h.c.Activate(h.now)
	h.drain()
	return h
}

// call hands req to the coordinator and returns its token.
func (h *harness) call(req kmsg.Request) uint64 {
	h.t.Helper()
	h.token++
	h.asked[h.token] = req
	h.c.Handle(h.token, Caller{ClientID: "client", ClientHost: "/10.0.0.1"}, req)
	h.drain()
	return h.token
}

func (h *harness) drain() {
	h.t.Helper()
	out := h.c.Ready()
	for _, r := range out.Replies {
		if _, ok := h.asked[r.Token]; !ok {
			h.t.Fatalf("reply to token %d never asked", r.Token)
		}
		if _, dup := h.replies[r.Token]; dup {
			h.t.Fatalf("second reply to token %d: %#v", r.Token, r.Msg)
		}
		h.replies[r.Token] = r.Msg
		h.trace = append(h.trace, r)
		if h.onReply != nil {
			h.onReply(r)
		}
	}
	h.pending = append(h.pending, out.Appends...)
}

// answered returns the reply to token, or nil.
func (h *harness) answered(token uint64) kmsg.Response { return h.replies[token] }

func (h *harness) reply(token uint64) kmsg.Response {
	h.t.Helper()
	r := h.replies[token]
	if r == nil {
		h.t.Fatalf("no reply to token %d (%T)", token, h.asked[token])
	}
	return r
}

// apply applies a committed record to the coordinator and logs it.
func (h *harness) apply(c *Coordinator, r Record) {
	h.t.Helper()
	if err := c.Apply(r.Key, r.Value); err != nil {
		h.t.Fatalf("apply: %v", err)
	}
}

// commitNext commits the oldest pending append: its records are applied,
// then it is reported done.
func (h *harness) commitNext() Append {
	h.t.Helper()
	if len(h.pending) == 0 {
		h.t.Fatalf("no pending append")
	}
	a := h.pending[0]
	h.pending = h.pending[1:]
	for _, r := range a.Records {
		h.apply(h.c, r)
		h.log = append(h.log, r)
		if h.onApply != nil {
			h.onApply(r)
		}
	}
	h.c.AppendDone(a.ID, 0)
	h.drain()
	return a
}

// commitAll commits every pending append, including those that follow.
func (h *harness) commitAll() {
	h.t.Helper()
	for len(h.pending) > 0 {
		h.commitNext()
	}
}

// failNext reports the oldest pending append failed with code; its records
// are never applied.
func (h *harness) failNext(code int16) {
	h.t.Helper()
	a := h.pending[0]
	h.pending = h.pending[1:]
	h.c.AppendDone(a.ID, code)
	h.drain()
}

func (h *harness) tick(ms int64) {
	h.t.Helper()
	h.now += ms
	h.c.Tick(h.now)
	h.drain()
}

// failover deactivates the coordinator, drops what was not committed, and
// activates a fresh replica that only applied the committed records.
func (h *harness) failover() {
	h.t.Helper()
	h.c.Deactivate()
	h.drain()
	h.pending = nil
	c := New(h.cfg)
	h.replay(c)
}

// replay activates c, a replica that applied every committed record.
func (h *harness) replay(c *Coordinator) {
	h.t.Helper()
	for _, r := range h.log {
		h.apply(c, r)
	}
	c.Activate(h.now)
	h.c = c
	h.drain()
}

// Requests.

const (
	sessionMs   = 10000
	rebalanceMs = 20000
)

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version, m.Topics = 1, topics
	return m.AppendTo(nil)
}

func joinReq(group, memberID string, instance *string, topics ...string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version, r.Group, r.MemberID, r.InstanceID = 9, group, memberID, instance
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis, r.ProtocolType = sessionMs, rebalanceMs, "consumer"
	if len(topics) == 0 {
		topics = []string{"t"}
	}
	r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta(topics...)}}
	return r
}

func syncReq(group, memberID string, generation int32, assign map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version, r.Group, r.MemberID, r.Generation = 5, group, memberID, generation
	for _, id := range sortedKeys(assign) {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: []byte(assign[id])})
	}
	return r
}

func heartbeatReq(group, memberID string, generation int32) *kmsg.HeartbeatRequest {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version, r.Group, r.MemberID, r.Generation = 4, group, memberID, generation
	return r
}

func leaveReq(group string, memberIDs ...string) *kmsg.LeaveGroupRequest {
	r := kmsg.NewPtrLeaveGroupRequest()
	r.Version, r.Group = 5, group
	for _, id := range memberIDs {
		r.Members = append(r.Members, kmsg.LeaveGroupRequestMember{MemberID: id})
	}
	return r
}

func commitReq(group, memberID string, generation int32, topic string, partition int32, offset int64) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version, r.Group, r.MemberID, r.Generation = 8, group, memberID, generation
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: partition, Offset: offset, LeaderEpoch: 3}}}}
	return r
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

// Reply accessors.

func (h *harness) join(token uint64) *kmsg.JoinGroupResponse {
	h.t.Helper()
	r, ok := h.reply(token).(*kmsg.JoinGroupResponse)
	if !ok {
		h.t.Fatalf("token %d: %T, want a join response", token, h.reply(token))
	}
	return r
}

func (h *harness) sync(token uint64) *kmsg.SyncGroupResponse {
	h.t.Helper()
	return h.reply(token).(*kmsg.SyncGroupResponse)
}

func (h *harness) errCode(token uint64) int16 {
	h.t.Helper()
	switch r := h.reply(token).(type) {
	case *kmsg.JoinGroupResponse:
		return r.ErrorCode
	case *kmsg.SyncGroupResponse:
		return r.ErrorCode
	case *kmsg.HeartbeatResponse:
		return r.ErrorCode
	case *kmsg.LeaveGroupResponse:
		if r.ErrorCode == 0 && len(r.Members) > 0 {
			return r.Members[0].ErrorCode
		}
		return r.ErrorCode
	case *kmsg.OffsetCommitResponse:
		return r.Topics[0].Partitions[0].ErrorCode
	case *kmsg.DeleteGroupsResponse:
		return r.Groups[0].ErrorCode
	case *kmsg.OffsetDeleteResponse:
		if r.ErrorCode == 0 && len(r.Topics) > 0 {
			return r.Topics[0].Partitions[0].ErrorCode
		}
		return r.ErrorCode
	}
	h.t.Fatalf("token %d: unexpected %T", token, h.reply(token))
	return 0
}

func (h *harness) wantErr(token uint64, want *kerr.Error) {
	h.t.Helper()
	code := h.errCode(token)
	if want == nil && code != 0 {
		h.t.Fatalf("token %d (%T): %v, want no error", token, h.asked[token], kerr.ErrorForCode(code))
	}
	if want != nil && code != want.Code {
		h.t.Fatalf("token %d (%T): %v, want %v", token, h.asked[token], kerr.ErrorForCode(code), want)
	}
}

// newMember joins group in two steps (MEMBER_ID_REQUIRED first) and
// returns its member id and the token of the parked join.
func (h *harness) newMember(group string, topics ...string) (string, uint64) {
	h.t.Helper()
	tok := h.call(joinReq(group, "", nil, topics...))
	h.wantErr(tok, kerr.MemberIDRequired)
	id := h.join(tok).MemberID
	if id == "" {
		h.t.Fatalf("MEMBER_ID_REQUIRED without a member id")
	}
	return id, h.call(joinReq(group, id, nil, topics...))
}

// stableGroup forms group with n members: all join, the leader assigns
// "a-<index>" to each, and the assignment is committed. It returns the
// member ids (in join order) and the generation.
func (h *harness) stableGroup(group string, n int) ([]string, int32) {
	h.t.Helper()
	ids := make([]string, n)
	toks := make([]uint64, n)
	for i := range n {
		ids[i], toks[i] = h.newMember(group)
	}
	h.tick(3000) // the initial rebalance delay
	var leader string
	var gen int32
	for i, tok := range toks {
		r := h.join(tok)
		if r.ErrorCode != 0 {
			h.t.Fatalf("join %d: %v", i, kerr.ErrorForCode(r.ErrorCode))
		}
		leader, gen = r.LeaderID, r.Generation
	}
	assign := map[string]string{}
	for i, id := range ids {
		assign[id] = fmt.Sprintf("a-%d", i)
	}
	syncs := make([]uint64, n)
	for i, id := range ids {
		var a map[string]string
		if id == leader {
			a = assign
		}
		syncs[i] = h.call(syncReq(group, id, gen, a))
	}
	h.commitAll()
	for i, tok := range syncs {
		if got := string(h.sync(tok).MemberAssignment); got != assign[ids[i]] {
			h.t.Fatalf("member %d assignment %q, want %q", i, got, assign[ids[i]])
		}
	}
	return ids, gen
}

func (h *harness) state(group string) string {
	h.t.Helper()
	d, ok := h.c.Describe(group)
	if !ok {
		return Dead
	}
	return d.State
}
