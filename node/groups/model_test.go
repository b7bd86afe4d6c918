package groups

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// A randomized test of the coordinator against invariants: clients join,
// sync, heartbeat, leave and commit in any order; the partition commits,
// fails or times out the stores; the coordinator moves (Deactivate, then
// Activate of the same or a fresh replica). Every run is done twice from
// the same seed and must reply the same.

type opKind int

const (
	opJoin opKind = iota
	opSync
	opHeartbeat
	opLeave
	opCommit
	opSimpleCommit
	opTick
	opAppendDone
	opAppendFail
	opMove
	opDeleteSimple
	opOffsetDelete
	opStep // what the member would do next, as a client
	numOps
)

// weights make runs reach stable groups: mostly clients acting as clients,
// time passing and stores committing.
var opWeights = map[opKind]int{opStep: 12, opTick: 4, opAppendDone: 5}

type op struct {
	kind opKind
	m    int   // member
	x    int64 // a parameter: topics, partition, time, error, ...
}

func (o op) String() string { return fmt.Sprintf("%d/m%d/%d", o.kind, o.m, o.x) }

// Members 0-3 are in group g (3 is static), 4 in group h.
const modelMembers = 5

type client struct {
	group    string
	instance *string
	id       string
	gen      int32
	leader   bool
	members  []string // the leader's view
	synced   bool
	waiting  int // requests not yet answered
}

type offsetKeyT struct {
	group, topic string
	partition    int32
}

type modelRun struct {
	t        *rapid.T
	h        *harness
	clients  [modelMembers]*client
	who      map[uint64]int // token → member
	offsets  map[offsetKeyT]int64
	gens     map[string]int32 // the last stored generation of each group
	next     int64
	failures []int16
}

func newModelRun(t *rapid.T, seed uint64) *modelRun {
	cfg := testConfig()
	cfg.InitialRebalanceDelayMs = 1000
	cfg.MaxGroupSize = 8
	r := &modelRun{t: t, who: map[uint64]int{}, offsets: map[offsetKeyT]int64{}, gens: map[string]int32{},
		failures: []int16{kerr.NotLeaderForPartition.Code, kerr.NotEnoughReplicas.Code, kerr.MessageTooLarge.Code, kerr.RequestTimedOut.Code}}
	for i := range modelMembers {
		r.clients[i] = &client{group: "g"}
	}
	r.clients[3].instance = new("i3")
	r.clients[4].group = "h"
	r.h = newSeededHarness(t, cfg, seed)
	r.h.onApply = r.applied
	r.h.onReply = r.replied
	return r
}

// applied follows the committed records: the last offset of each
// partition, and each group's stored generation, which never decreases
// (but a tombstone deletes the group).
func (r *modelRun) applied(rec Record) {
	switch binary.BigEndian.Uint16(rec.Key) >= 2 { // the key's version: 0 and 1 are offsets
	case false:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(rec.Key); err != nil {
			r.t.Fatal(err)
		}
		key := offsetKeyT{k.Group, k.Topic, k.Partition}
		if rec.Value == nil {
			delete(r.offsets, key)
			return
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(rec.Value); err != nil {
			r.t.Fatal(err)
		}
		r.offsets[key] = v.Offset
	case true:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(rec.Key); err != nil {
			r.t.Fatal(err)
		}
		if rec.Value == nil {
			delete(r.gens, k.Group)
			return
		}
		var v kmsg.GroupMetadataValue
		if err := v.ReadFrom(rec.Value); err != nil {
			r.t.Fatal(err)
		}
		if last, ok := r.gens[k.Group]; ok && v.Generation < last {
			r.t.Fatalf("group %s stored generation %d after %d", k.Group, v.Generation, last)
		}
		r.gens[k.Group] = v.Generation
	}
}

// storedMember finds a member in the group's last stored metadata, by id
// or by static instance (a static member that restarted is stored under
// its old id until the next assignment).
func (r *modelRun) storedMember(group, id string, instance *string) (*kmsg.GroupMetadataValue, *kmsg.GroupMetadataValueMember) {
	s := r.h.storedGroup(group)
	if s == nil {
		return nil, nil
	}
	for i, m := range s.Members {
		if m.MemberID == id || (instance != nil && m.InstanceID != nil && *m.InstanceID == *instance) {
			return s, &s.Members[i]
		}
	}
	return s, nil
}

// replied checks that a reply answers its request, and follows the
// clients' state.
func (r *modelRun) replied(rep Reply) {
	req := r.h.asked[rep.Token]
	if reflect.TypeOf(rep.Msg) != reflect.TypeOf(req.ResponseKind()) || rep.Msg.GetVersion() != req.GetVersion() {
		r.t.Fatalf("token %d: %T v%d answers %T v%d", rep.Token, rep.Msg, rep.Msg.GetVersion(), req, req.GetVersion())
	}
	i, ok := r.who[rep.Token]
	var c *client
	if ok {
		c = r.clients[i]
		c.waiting--
	}
	switch resp := rep.Msg.(type) {
	case *kmsg.JoinGroupResponse:
		switch resp.ErrorCode {
		case 0:
			if resp.Generation < 1 || resp.MemberID == "" || resp.LeaderID == "" || resp.Protocol == nil || *resp.Protocol != "range" {
				r.t.Fatalf("join answer %+v", resp)
			}
			c.id, c.gen, c.leader, c.members, c.synced = resp.MemberID, resp.Generation, resp.LeaderID == resp.MemberID, nil, false
			for _, m := range resp.Members {
				c.members = append(c.members, m.MemberID)
			}
			if c.leader && !slices.Contains(c.members, c.id) {
				r.t.Fatalf("leader %s not among the members it was given %v", c.id, c.members)
			}
			if !c.leader && len(c.members) > 0 {
				r.t.Fatalf("a follower was given the members")
			}
		case kerr.MemberIDRequired.Code:
			if resp.MemberID == "" {
				r.t.Fatal("MEMBER_ID_REQUIRED without an id")
			}
			c.id = resp.MemberID
		case kerr.UnknownMemberID.Code, kerr.FencedInstanceID.Code:
			c.id, c.gen = "", 0
		}
	case *kmsg.SyncGroupResponse:
		if resp.ErrorCode != 0 {
			c.gen = 0 // rejoin
			return
		}
		c.synced = true
		sreq := req.(*kmsg.SyncGroupRequest)
		s, m := r.storedMember(sreq.Group, sreq.MemberID, c.instance)
		if m == nil || s.Generation != sreq.Generation {
			r.t.Fatalf("sync of %s generation %d answered, stored: %+v", sreq.MemberID, sreq.Generation, s)
		}
		if !bytes.Equal(resp.MemberAssignment, m.Assignment) {
			r.t.Fatalf("sync answered %q, stored %q", resp.MemberAssignment, m.Assignment)
		}
	case *kmsg.OffsetCommitResponse:
		creq := req.(*kmsg.OffsetCommitRequest)
		if len(resp.Topics) != len(creq.Topics) || len(resp.Topics[0].Partitions) != len(creq.Topics[0].Partitions) {
			r.t.Fatalf("commit answer %+v to %+v", resp, creq)
		}
		p := creq.Topics[0].Partitions[0]
		if resp.Topics[0].Partitions[0].ErrorCode == 0 {
			// Acknowledged only once committed: it reads back.
			if o, ok := r.h.c.Offset(creq.Group, creq.Topics[0].Topic, p.Partition); !ok || o.Offset != p.Offset {
				r.t.Fatalf("commit of %d acknowledged, reads %+v %v", p.Offset, o, ok)
			}
		}
	case *kmsg.LeaveGroupResponse:
		if resp.ErrorCode == 0 && len(resp.Members) != len(req.(*kmsg.LeaveGroupRequest).Members) {
			r.t.Fatalf("leave answer %+v", resp)
		}
		if resp.ErrorCode == 0 && resp.Members[0].ErrorCode == 0 {
			c.id, c.gen = "", 0
		}
	case *kmsg.HeartbeatResponse:
		switch resp.ErrorCode {
		case kerr.UnknownMemberID.Code, kerr.FencedInstanceID.Code:
			c.id, c.gen = "", 0
		case kerr.RebalanceInProgress.Code, kerr.IllegalGeneration.Code:
			c.gen = 0
		}
	}
}

func (r *modelRun) call(i int, req kmsg.Request) {
	tok := r.h.token + 1
	r.who[tok] = i
	r.clients[i].waiting++
	r.h.call(req)
}

func (r *modelRun) do(o op) {
	h := r.h
	c := r.clients[o.m]
	if o.kind == opStep {
		switch {
		case c.waiting > 0:
			o.kind, o.x = opTick, 1 // 500 ms
		case c.id == "" || c.gen == 0:
			r.call(o.m, joinReq(c.group, c.id, c.instance))
			r.check()
			return
		case !c.synced:
			o.kind = opSync
		case o.x%3 == 0:
			o.kind = opCommit
		default:
			o.kind = opHeartbeat
		}
	}
	switch o.kind {
	case opJoin:
		topics := []string{"t"}
		if o.x%2 == 1 {
			topics = append(topics, "u")
		}
		id := c.id
		if o.x%5 == 4 {
			id = "" // a restart
		}
		req := joinReq(c.group, id, c.instance, topics...)
		if o.x%7 == 6 {
			req.Version = 3 // no KIP-394, no static membership
		}
		r.call(o.m, req)
	case opSync:
		var assign map[string]string
		if c.leader {
			assign = map[string]string{}
			for _, id := range c.members {
				assign[id] = fmt.Sprintf("%d/%s", c.gen, id)
			}
		}
		req := syncReq(c.group, c.id, c.gen, assign)
		req.InstanceID = c.instance
		r.call(o.m, req)
	case opHeartbeat:
		req := heartbeatReq(c.group, c.id, c.gen)
		req.InstanceID = c.instance
		r.call(o.m, req)
	case opLeave:
		req := leaveReq(c.group, c.id)
		req.Members[0].InstanceID = c.instance
		r.call(o.m, req)
	case opCommit:
		r.next++
		req := commitReq(c.group, c.id, c.gen, "t", int32(o.x%2), r.next)
		req.InstanceID = c.instance
		r.call(o.m, req)
	case opSimpleCommit:
		r.next++
		r.call(o.m, commitReq("s", "", -1, "t", int32(o.x%2), r.next))
	case opTick:
		h.tick([]int64{1, 500, 1000, 5000, 12000}[o.x%5])
	case opAppendDone:
		if len(h.pending) > 0 {
			h.commitNext()
		}
	case opAppendFail:
		if len(h.pending) > 0 {
			h.failNext(r.failures[o.x%int64(len(r.failures))])
		}
	case opMove:
		h.c.Deactivate()
		h.drain()
		same := o.x/2%2 == 0
		if o.x%2 == 0 { // what was proposed commits after all, in order
			for _, a := range h.pending {
				for _, rec := range a.Records {
					h.log = append(h.log, rec)
					r.applied(rec)
					if same {
						h.apply(h.c, rec)
					}
				}
			}
		}
		h.pending = nil
		if same {
			h.c.Activate(h.now) // the same replica leads again
			h.drain()
		} else {
			h.replay(New(h.cfg))
		}
	case opDeleteSimple:
		r.call(o.m, &kmsg.DeleteGroupsRequest{Version: 2, Groups: []string{"s"}})
	case opOffsetDelete:
		group := []string{"s", "g"}[o.x%2]
		r.call(o.m, &kmsg.OffsetDeleteRequest{Group: group, Topics: []kmsg.OffsetDeleteRequestTopic{{Topic: []string{"t", "u"}[o.x/2%2], Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}})
	}
	r.check()
}

// check asserts the invariants that hold between any two steps.
func (r *modelRun) check() {
	c := r.h.c
	// Offsets read back as last committed.
	for k, v := range r.offsets { //lint:maporder-ok a test's assertions, order does not matter
		if o, ok := c.Offset(k.group, k.topic, k.partition); !ok || o.Offset != v {
			r.t.Fatalf("offset %+v reads %+v %v, committed %d", k, o, ok, v)
		}
	}
	for _, group := range []string{"g", "h", "s"} {
		n := 0
		for _, to := range c.Offsets(group) {
			n += len(to.Partitions)
		}
		want := 0
		for k := range r.offsets {
			if k.group == group {
				want++
			}
		}
		if n != want {
			r.t.Fatalf("group %s has %d offsets, %d committed", group, n, want)
		}
	}
	// A stable group's members hold the assignment last stored.
	for _, group := range []string{"g", "h"} {
		g := c.groups[group]
		if g == nil || !g.live || g.state != Stable {
			continue
		}
		for _, id := range g.order {
			m := g.members[id]
			s, sm := r.storedMember(group, id, m.instance)
			if sm == nil || s.Generation != g.generation || !bytes.Equal(sm.Assignment, m.assignment) || m.assignment == nil {
				r.t.Fatalf("stable group %s generation %d: member %s assignment %q, stored %+v", group, g.generation, id, m.assignment, s)
			}
		}
	}
	if len(c.groups) > 3 {
		r.t.Fatalf("%d groups", len(c.groups))
	}
}

func drawOps(t *rapid.T) []op {
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) op {
		var kinds []opKind
		for k := range numOps {
			for range max(1, opWeights[k]) {
				kinds = append(kinds, k)
			}
		}
		return op{
			kind: rapid.SampledFrom(kinds).Draw(t, "kind"),
			m:    rapid.IntRange(0, modelMembers-1).Draw(t, "member"),
			x:    rapid.Int64Range(0, 1<<20).Draw(t, "x"),
		}
	}), 20, 400).Draw(t, "ops")
}

func runModel(t *rapid.T, seed uint64, ops []op) []Reply {
	r := newModelRun(t, seed)
	for _, o := range ops {
		r.do(o)
	}
	// Moving away answers everything still waiting.
	r.h.c.Deactivate()
	r.h.drain()
	for tok, req := range r.h.asked { //lint:maporder-ok a test's assertions, order does not matter
		if r.h.replies[tok] == nil {
			r.t.Fatalf("token %d (%T) never answered", tok, req)
		}
	}
	return r.h.trace
}

func TestCoordinatorModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		seed := rapid.Uint64().Draw(t, "seed")
		ops := drawOps(t)
		a := runModel(t, seed, ops)
		b := runModel(t, seed, ops)
		if len(a) != len(b) {
			t.Fatalf("same seed, %d then %d replies", len(a), len(b))
		}
		for i := range a {
			if a[i].Token != b[i].Token || !bytes.Equal(encode(a[i].Msg), encode(b[i].Msg)) {
				t.Fatalf("same seed, reply %d differs: %+v then %+v", i, a[i].Msg, b[i].Msg)
			}
		}
	})
}

func encode(m kmsg.Response) []byte { return m.AppendTo(nil) }
