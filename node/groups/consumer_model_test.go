package groups

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// A randomized test of KIP-848 groups: clients heartbeat (full or
// keepalive), leave and go silent; stores commit, fail or wait; time
// passes; the coordinator moves. Whatever happens, no partition is held
// by two members, a client owns only what its member holds unless its
// commits would be refused (it was fenced), and answers are well formed.

type cclient struct {
	id      string
	epoch   int32
	owned   []int32
	lastOK  int64 // when an answer last confirmed membership
	joined  bool
	waiting bool
	n       int // id generation
}

func TestConsumerModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := newSeededHarness(t, consumerConfig(topicTable{"t": 5}), 1)
		cls := make([]*cclient, 4)
		for i := range cls {
			cls[i] = &cclient{id: fmt.Sprintf("c%d-0", i)}
		}
		who := map[uint64]int{}
		h.onReply = func(rep Reply) {
			i, ok := who[rep.Token]
			if !ok {
				return
			}
			c := cls[i]
			c.waiting = false
			r := rep.Msg.(*kmsg.ConsumerGroupHeartbeatResponse)
			req := h.asked[rep.Token].(*kmsg.ConsumerGroupHeartbeatRequest)
			switch r.ErrorCode {
			case 0:
				if req.MemberEpoch < 0 {
					c.joined, c.owned, c.epoch = false, nil, 0
					return
				}
				if r.MemberEpoch < 0 || r.MemberID == nil || *r.MemberID != c.id {
					t.Fatalf("answer %+v to %s", r, c.id)
				}
				c.joined, c.epoch, c.lastOK = true, r.MemberEpoch, h.now
				if r.Assignment != nil {
					c.owned = parts(r, "t")
				}
			case kerr.FencedMemberEpoch.Code:
				c.joined, c.owned, c.epoch = false, nil, 0
			case kerr.UnknownMemberID.Code, kerr.GroupIDNotFound.Code:
				c.n++
				c.joined, c.owned, c.epoch, c.id = false, nil, 0, fmt.Sprintf("c%d-%d", i, c.n)
			case kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
			default:
				t.Fatalf("%s: unexpected %v", c.id, kerr.ErrorForCode(r.ErrorCode))
			}
		}
		// A client owns only what the coordinator gave it: either its
		// commits would be refused (it was fenced, and learns at its next
		// heartbeat), or what it owns is the member's, which no other
		// member holds.
		check := func() {
			cg := h.c.cons(h.c.groups["g"])
			for _, c := range cls {
				if !c.joined || len(c.owned) == 0 {
					continue
				}
				if cg == nil || validateConsumerCommit(cg, c.id, c.epoch, 9) != 0 {
					continue
				}
				m := cg.Members[c.id]
				for _, p := range c.owned {
					if !m.Assigned.has(topicID("t"), p) && !m.PendingRevocation.has(topicID("t"), p) {
						t.Fatalf("%s (epoch %d) owns %d, the coordinator does not say so: %s", c.id, c.epoch, p, dumpMembers(cg.Members))
					}
				}
			}
			if cg != nil {
				cg.owners() // panics on a partition held by two members
			}
		}
		steps := rapid.IntRange(1, 120).Draw(t, "steps")
		for range steps {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); op {
			case 0, 1, 2, 3: // a client heartbeats (full), or joins
				i := rapid.IntRange(0, len(cls)-1).Draw(t, "client")
				c := cls[i]
				if c.waiting {
					continue
				}
				if c.joined && h.now-c.lastOK >= 45000 {
					c.joined, c.owned, c.epoch = false, nil, 0 // the client gave up
				}
				req := cghb("g", c.id, c.epoch, []string{"t"}, owned("t", c.owned...))
				if !c.joined {
					req = cghb("g", c.id, 0, []string{"t"}, owned("t"))
				}
				c.waiting = true
				who[h.token+1] = i
				h.call(req)
			case 4: // a keepalive
				i := rapid.IntRange(0, len(cls)-1).Draw(t, "client")
				if c := cls[i]; c.joined && !c.waiting && h.now-c.lastOK < 45000 {
					c.waiting = true
					who[h.token+1] = i
					h.call(keepalive("g", c.id, c.epoch))
				}
			case 5: // a client leaves
				i := rapid.IntRange(0, len(cls)-1).Draw(t, "client")
				if c := cls[i]; c.joined && !c.waiting {
					c.waiting, c.joined, c.owned = true, false, nil
					who[h.token+1] = i
					h.call(keepalive("g", c.id, -1))
				}
			case 6, 7: // stores commit
				if len(h.pending) > 0 {
					h.commitNext()
				}
			case 8: // time passes, or a store fails
				if len(h.pending) > 0 && rapid.Bool().Draw(t, "fail") {
					h.failNext(kerr.NotEnoughReplicas.Code)
				} else {
					h.tick(int64(rapid.IntRange(1, 20).Draw(t, "seconds")) * 1000)
				}
			case 9: // the coordinator moves
				if rapid.IntRange(0, 3).Draw(t, "move") == 0 {
					h.failover()
				}
			}
			check()
		}
		// Every member state the coordinator holds is self-consistent.
		if cg := h.c.cons(h.c.groups["g"]); cg != nil {
			cg.owners() // panics on a partition owned twice
			for _, id := range cg.memberIDs() {
				m := cg.Members[id]
				if !slices.IsSorted(m.SubscribedTopics) {
					t.Fatalf("member %s subscription unsorted", id)
				}
			}
		}
	})
}
