package groups

import (
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The classic group protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup.

func joinError(req *kmsg.JoinGroupRequest, code int16) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode, resp.Generation, resp.MemberID = code, -1, req.MemberID
	return resp
}

func syncError(req *kmsg.SyncGroupRequest, code int16) *kmsg.SyncGroupResponse {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.ErrorCode = code
	return resp
}

// newMemberID is Kafka's form: the client id, a dash and a random UUID.
func (c *Coordinator) newMemberID(clientID string) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := c.rand.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return clientID + "-" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func cloneProtocols(ps []kmsg.JoinGroupRequestProtocol) []kmsg.JoinGroupRequestProtocol {
	out := make([]kmsg.JoinGroupRequestProtocol, len(ps))
	for i, p := range ps {
		out[i] = kmsg.JoinGroupRequestProtocol{Name: p.Name, Metadata: slices.Clone(p.Metadata)}
	}
	return out
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	return slices.EqualFunc(a, b, func(x, y kmsg.JoinGroupRequestProtocol) bool {
		return x.Name == y.Name && string(x.Metadata) == string(y.Metadata)
	})
}

func (c *Coordinator) join(cl *call, who Caller, req *kmsg.JoinGroupRequest) {
	fail := func(code int16) { c.reply(cl, joinError(req, code)) }
	switch {
	case req.Group == "":
		fail(kerr.InvalidGroupID.Code)
		return
	case req.SessionTimeoutMillis < c.cfg.MinSessionTimeoutMs || req.SessionTimeoutMillis > c.cfg.MaxSessionTimeoutMs:
		fail(kerr.InvalidSessionTimeout.Code)
		return
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	rebalanceMs := req.RebalanceTimeoutMillis
	if req.Version == 0 || rebalanceMs <= 0 {
		rebalanceMs = req.SessionTimeoutMillis
	}
	if g := c.groups[req.Group]; c.cons(g) != nil {
		if !c.consumerToClassic(g) {
			fail(kerr.InconsistentGroupProtocol.Code) // a consumer group with members
			return
		}
	}
	if g := c.groups[req.Group]; req.MemberID != "" && (g == nil || !g.live) {
		fail(kerr.UnknownMemberID.Code) // and no group is created for it
		return
	}
	g := c.group(req.Group, true)
	if g.state == Dead {
		fail(kerr.CoordinatorNotAvailable.Code)
		return
	}
	instance := req.InstanceID
	if req.Version < 5 {
		instance = nil
	}

	if req.MemberID == "" {
		var old *member
		if instance != nil {
			old = g.members[g.instances[*instance]]
		}
		if !g.compatible(req.ProtocolType, req.Protocols, idOf(old)) {
			fail(kerr.InconsistentGroupProtocol.Code)
			return
		}
		if old == nil && len(g.members)+len(g.pendingIDs) >= c.cfg.MaxGroupSize {
			fail(kerr.GroupMaxSizeReached.Code)
			return
		}
		id := c.newMemberID(who.ClientID)
		switch {
		case old != nil:
			c.replaceStatic(cl, g, old, id, req, rebalanceMs)
		case instance == nil && req.Version >= 4:
			// KIP-394: the member must come back with this id, so an id is
			// never leaked by a join whose response was lost.
			g.pendingIDs[id] = c.nowMs + int64(req.SessionTimeoutMillis)
			resp := joinError(req, kerr.MemberIDRequired.Code)
			resp.MemberID = id
			c.reply(cl, resp)
		default:
			c.addAndRebalance(cl, g, id, who, req, instance, rebalanceMs)
		}
		return
	}

	if _, ok := g.pendingIDs[req.MemberID]; ok {
		if !g.compatible(req.ProtocolType, req.Protocols, "") {
			fail(kerr.InconsistentGroupProtocol.Code)
			return
		}
		delete(g.pendingIDs, req.MemberID)
		c.addAndRebalance(cl, g, req.MemberID, who, req, instance, rebalanceMs)
		return
	}
	m := g.members[req.MemberID]
	if instance != nil {
		if cur, ok := g.instances[*instance]; ok && cur != req.MemberID {
			fail(kerr.FencedInstanceID.Code)
			return
		}
	}
	if m == nil {
		fail(kerr.UnknownMemberID.Code)
		return
	}
	if !g.compatible(req.ProtocolType, req.Protocols, m.id) {
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	same := sameProtocols(m.protocols, req.Protocols)
	switch {
	case g.state == CompletingRebalance && same:
		// A retried join of the generation being completed.
		c.reply(cl, c.joinResponse(g, m, req, false))
		return
	case g.state == Stable && same && m.id != g.leader:
		c.reply(cl, c.joinResponse(g, m, req, false))
		m.deadline = c.nowMs + int64(m.sessionMs)
		return
	}
	c.updateMember(m, who, req, rebalanceMs)
	c.awaitJoin(m, cl)
	if g.state != PreparingRebalance {
		c.prepareRebalance(g, "member "+m.id+" rejoined")
	}
	c.maybeCompleteJoin(g)
}

func idOf(m *member) string {
	if m == nil {
		return ""
	}
	return m.id
}

// awaitJoin parks a member's join; an earlier one still parked (a client
// retry) is answered first.
func (c *Coordinator) awaitJoin(m *member, cl *call) {
	if m.join != nil {
		c.reply(m.join, joinError(m.join.req.(*kmsg.JoinGroupRequest), kerr.RebalanceInProgress.Code))
	}
	m.join = cl
}

func (c *Coordinator) updateMember(m *member, who Caller, req *kmsg.JoinGroupRequest, rebalanceMs int32) {
	m.clientID, m.clientHost = who.ClientID, who.ClientHost
	m.sessionMs, m.rebalanceMs = req.SessionTimeoutMillis, rebalanceMs
	m.protocols = cloneProtocols(req.Protocols)
	m.deadline = c.nowMs + int64(m.sessionMs)
}

func (c *Coordinator) addAndRebalance(cl *call, g *group, id string, who Caller, req *kmsg.JoinGroupRequest, instance *string, rebalanceMs int32) {
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	m := &member{id: id}
	if instance != nil {
		m.instance = new(*instance)
	}
	c.updateMember(m, who, req, rebalanceMs)
	g.addMember(m)
	c.awaitJoin(m, cl)
	if g.state == PreparingRebalance {
		// A new member during the initial delay extends it, up to the
		// rebalance timeout (Kafka's InitialDelayedJoin). Otherwise the
		// rebalance still ends when it would have: were each new member
		// to push it back, a trickle of them would hold it open forever.
		if g.delayUntil > c.nowMs {
			g.delayUntil = min(c.nowMs+c.cfg.InitialRebalanceDelayMs, max(g.delayLimit, g.delayUntil))
		}
	} else {
		c.prepareRebalance(g, "member "+id+" joined")
	}
	c.maybeCompleteJoin(g)
}

// replaceStatic: a static member rejoined without its member id (a
// restart). The old id is fenced; a stable group with unchanged
// subscription keeps its assignment without a rebalance (KIP-345), once
// the new id is stored.
func (c *Coordinator) replaceStatic(cl *call, g *group, old *member, id string, req *kmsg.JoinGroupRequest, rebalanceMs int32) {
	c.failCalls(old, kerr.FencedInstanceID.Code)
	oldID := old.id
	delete(g.members, oldID)
	old.id = id
	g.members[id] = old
	g.order[slices.Index(g.order, oldID)] = id
	g.instances[*old.instance] = id
	wasLeader := g.leader == oldID
	if wasLeader {
		g.leader = id
	}
	c.log.Info("static member replaced", "group", g.id, "instance", *old.instance, "old", oldID, "new", id)
	// As Kafka: a stable group rebalances only if the new subscription
	// would change the group's protocol; the member's metadata itself may
	// differ (a restarted client reports no owned partitions, say).
	if g.state == Stable && (!wasLeader || req.Version >= 9) {
		prev := old.protocols
		old.protocols = cloneProtocols(req.Protocols)
		if g.selectProtocol() == g.protocol {
			prevSession, prevRebalance := old.sessionMs, old.rebalanceMs
			old.sessionMs, old.rebalanceMs = req.SessionTimeoutMillis, rebalanceMs
			old.deadline = c.nowMs + int64(old.sessionMs)
			// As Kafka, the new member id is stored before the join is
			// answered: a coordinator taking over rebuilds the group from
			// its stored metadata, and with the old id there it would
			// fence the live instance and let the old one back in. If the
			// store fails, the replacement is undone (when nothing has
			// changed the member since) and the join gets the error.
			gen := g.generation
			c.storeGroup(g, func(code int16) {
				code = storeError(code, false)
				switch {
				case g.live && old.id != id:
					// Another restart of the instance replaced this one
					// meanwhile: this join is the fenced one (Kafka answers
					// it so when the replacement happens).
					c.reply(cl, joinError(req, kerr.FencedInstanceID.Code))
					return
				case g.live && g.members[id] != old:
					// It left or expired meanwhile.
					c.reply(cl, joinError(req, kerr.UnknownMemberID.Code))
					return
				case code == 0:
					c.reply(cl, c.joinResponse(g, old, req, wasLeader))
					return
				}
				if g.live && g.generation == gen {
					delete(g.members, id)
					old.id = oldID
					g.members[oldID] = old
					g.order[slices.Index(g.order, id)] = oldID
					g.instances[*old.instance] = oldID
					if wasLeader {
						g.leader = oldID
					}
					old.protocols, old.sessionMs, old.rebalanceMs = prev, prevSession, prevRebalance
					c.log.Info("static member replacement undone: its store failed", "group", g.id, "instance", *old.instance, "code", code)
				}
				c.reply(cl, joinError(req, code))
			})
			return
		}
		old.protocols = prev
	}
	c.updateMember(old, Caller{ClientID: old.clientID, ClientHost: old.clientHost}, req, rebalanceMs)
	c.awaitJoin(old, cl)
	if g.state != PreparingRebalance {
		c.prepareRebalance(g, "static member "+*old.instance+" rejoined")
	}
	c.maybeCompleteJoin(g)
}

// joinResponse is the join answer of the current generation: the leader
// gets every member's metadata (skip: it already holds an assignment,
// KIP-814).
func (c *Coordinator) joinResponse(g *group, m *member, req *kmsg.JoinGroupRequest, skip bool) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation, resp.MemberID, resp.LeaderID = g.generation, m.id, g.leader
	resp.ProtocolType, resp.Protocol = new(g.protocolType), new(g.protocol)
	resp.SkipAssignment = skip
	if m.id == g.leader {
		for _, id := range g.order {
			o := g.members[id]
			resp.Members = append(resp.Members, kmsg.JoinGroupResponseMember{MemberID: o.id, InstanceID: o.instance, ProtocolMetadata: o.metadata(g.protocol)})
		}
	}
	return resp
}

// check validates a member's request against the group: the static
// instance, the member id and the generation.
func (c *Coordinator) check(g *group, memberID string, instance *string, generation int32) (*member, int16) {
	if g == nil || !g.live || g.state == Dead {
		return nil, kerr.UnknownMemberID.Code
	}
	if instance != nil { // Kafka's validateMember
		cur, ok := g.instances[*instance]
		switch {
		case !ok:
			return nil, kerr.UnknownMemberID.Code
		case cur != memberID:
			return nil, kerr.FencedInstanceID.Code
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return m, kerr.IllegalGeneration.Code
	}
	return m, 0
}

func (c *Coordinator) syncGroup(cl *call, req *kmsg.SyncGroupRequest) {
	g := c.groups[req.Group]
	instance := req.InstanceID
	if req.Version < 3 {
		instance = nil
	}
	m, code := c.check(g, req.MemberID, instance, req.Generation)
	if code == 0 && req.Version >= 5 && ((req.ProtocolType != nil && *req.ProtocolType != g.protocolType) ||
		(req.Protocol != nil && *req.Protocol != g.protocol)) {
		code = kerr.InconsistentGroupProtocol.Code
	}
	if code != 0 {
		c.reply(cl, syncError(req, code))
		return
	}
	m.deadline = c.nowMs + int64(m.sessionMs)
	if g.state == CompletingRebalance || g.state == Stable {
		m.pendingSync = false
	}
	switch g.state {
	case Empty:
		c.reply(cl, syncError(req, kerr.UnknownMemberID.Code))
	case PreparingRebalance:
		c.reply(cl, syncError(req, kerr.RebalanceInProgress.Code))
	case Stable:
		c.reply(cl, c.syncResponse(g, m, req))
	case CompletingRebalance:
		if m.sync != nil {
			c.reply(m.sync, syncError(m.sync.req.(*kmsg.SyncGroupRequest), kerr.RebalanceInProgress.Code))
		}
		m.sync = cl
		if m.id != g.leader || g.storingGen == g.generation {
			return
		}
		for _, id := range g.order {
			g.members[id].assignment = nil
		}
		for _, a := range req.GroupAssignment {
			if o := g.members[a.MemberID]; o != nil {
				o.assignment = slices.Clone(a.MemberAssignment)
			}
		}
		for _, id := range g.order { // members the leader left out get an empty assignment
			if o := g.members[id]; o.assignment == nil {
				o.assignment = []byte{}
			}
		}
		gen := g.generation
		g.storingGen = gen
		c.storeGroup(g, func(code int16) {
			if g.storingGen == gen {
				g.storingGen = 0
			}
			if !g.live || g.state != CompletingRebalance || g.generation != gen {
				return // deactivated, or a rebalance began meanwhile and answered the syncs
			}
			code = storeError(code, false)
			if code != 0 {
				for _, id := range g.order {
					o := g.members[id]
					o.assignment = nil
					if o.sync != nil {
						c.reply(o.sync, syncError(o.sync.req.(*kmsg.SyncGroupRequest), code))
						o.sync = nil
					}
				}
				c.prepareRebalance(g, "storing the assignment failed")
				return
			}
			c.setState(g, Stable)
			for _, id := range g.order {
				o := g.members[id]
				if o.sync != nil {
					c.reply(o.sync, c.syncResponse(g, o, o.sync.req.(*kmsg.SyncGroupRequest)))
					o.sync = nil
				}
				o.deadline = c.nowMs + int64(o.sessionMs)
			}
		})
	}
}

func (c *Coordinator) syncResponse(g *group, m *member, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.ProtocolType, resp.Protocol = new(g.protocolType), new(g.protocol)
	resp.MemberAssignment = m.assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp
}

func (c *Coordinator) heartbeat(cl *call, req *kmsg.HeartbeatRequest) {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	g := c.groups[req.Group]
	instance := req.InstanceID
	if req.Version < 3 {
		instance = nil
	}
	m, code := c.check(g, req.MemberID, instance, req.Generation)
	if code == 0 {
		switch g.state {
		case Empty:
			code = kerr.UnknownMemberID.Code
		case PreparingRebalance:
			m.deadline = c.nowMs + int64(m.sessionMs)
			code = kerr.RebalanceInProgress.Code
		default:
			m.deadline = c.nowMs + int64(m.sessionMs)
		}
	}
	resp.ErrorCode = code
	c.reply(cl, resp)
}

func (c *Coordinator) leave(cl *call, req *kmsg.LeaveGroupRequest) {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	g := c.groups[req.Group]
	if g == nil || !g.live || g.state == Dead {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		c.reply(cl, resp)
		return
	}
	members := req.Members
	if req.Version < 3 {
		members = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	left := false
	for _, lm := range members {
		code := int16(0)
		id := lm.MemberID
		if lm.InstanceID != nil {
			cur, ok := g.instances[*lm.InstanceID]
			switch {
			case !ok:
				code = kerr.UnknownMemberID.Code
			case id != "" && id != cur:
				code = kerr.FencedInstanceID.Code
			default:
				id = cur
			}
		} else if g.members[id] == nil {
			if _, ok := g.pendingIDs[id]; ok {
				delete(g.pendingIDs, id)
				left = true
			} else {
				code = kerr.UnknownMemberID.Code
			}
		}
		if code == 0 && g.members[id] != nil {
			m := g.members[id]
			c.failCalls(m, kerr.UnknownMemberID.Code)
			g.removeMember(id)
			left = true
			c.log.Info("group member left", "group", g.id, "member", id)
		}
		if req.Version >= 3 {
			resp.Members = append(resp.Members, kmsg.LeaveGroupResponseMember{MemberID: lm.MemberID, InstanceID: lm.InstanceID, ErrorCode: code})
		} else {
			resp.ErrorCode = code
		}
	}
	if left {
		c.memberLeft(g)
	}
	c.reply(cl, resp)
}

// ErrorResponse answers a request Handle takes with code everywhere:
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS and the like.
func ErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		return joinError(r, code)
	case *kmsg.SyncGroupRequest:
		return syncError(r, code)
	case *kmsg.HeartbeatRequest:
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.LeaveGroupRequest:
		resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.OffsetCommitRequest:
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, t := range r.Topics {
			rt := kmsg.OffsetCommitResponseTopic{Topic: t.Topic, TopicID: t.TopicID}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: code})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.DeleteGroupsRequest:
		resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
		for _, g := range r.Groups {
			resp.Groups = append(resp.Groups, kmsg.DeleteGroupsResponseGroup{Group: g, ErrorCode: code})
		}
		return resp
	case *kmsg.OffsetDeleteRequest:
		resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.ConsumerGroupHeartbeatRequest:
		return heartbeatError(r, code, "")
	}
	panic(fmt.Sprintf("groups: no error response for %T", req))
}
