package groups

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The KIP-848 consumer group protocol (ConsumerGroupHeartbeat), after
// Apache Kafka's GroupMetadataManager.consumerGroupHeartbeat and
// CurrentAssignmentBuilder. A heartbeat computes the records its changes
// need from the live state (member metadata, subscription metadata, group
// epoch, target assignment, the member's current assignment), replays them
// into the live state at once, stores them, and is answered once they are
// committed: an assignment is never handed out before it is durable.
//
// A group has at most one store in flight; its requests that come
// meanwhile wait for it and are then handled in order. A store that fails
// so leaves the live state ahead of the log by exactly that store, and the
// group is rebuilt from its committed records (Kafka reverts its
// in-memory state to the last committed offset the same way); with
// several in flight, a later one computed on a failed one could commit
// and leave the log itself inconsistent (two members owning a partition).

// Consumer group states, with Kafka's names.
const (
	Assigning   = "Assigning"
	Reconciling = "Reconciling"
)

// consumerState is what a group of the consumer protocol holds beyond the
// classic fields of group.
type consumerState struct {
	stored *cgroup // as its committed records build it (every replica)
	live   *cgroup // the active coordinator's state, ahead by the stores in flight

	// storing: a store of the group is in flight (at most one); reply
	// answers the request that made it, once it is done.
	storing bool
	reply   func(code int16)
	// queue holds the group's requests that came while storing, handled
	// in order once the store is done, on the state it left.
	queue []queued
}

type queued struct {
	cl  *call
	who Caller
}

// cons is the group's consumer-protocol state as this replica serves it
// (live on the active coordinator, stored otherwise), or nil for a
// classic group.
func (c *Coordinator) cons(g *group) *cgroup {
	if g == nil || g.cg == nil {
		return nil
	}
	if c.active {
		return g.cg.live
	}
	return g.cg.stored
}

func (c *Coordinator) sessionMs() int64  { return int64(c.cfg.ConsumerSessionTimeoutMs) }
func (c *Coordinator) intervalMs() int32 { return c.cfg.ConsumerHeartbeatIntervalMs }

func heartbeatError(req *kmsg.ConsumerGroupHeartbeatRequest, code int16, msg string) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	resp.ErrorCode = code
	if msg != "" {
		resp.ErrorMessage = new(msg)
	}
	return resp
}

// validateHeartbeat checks a request as Kafka's
// throwIfConsumerGroupHeartbeatRequestIsInvalid does.
func (c *Coordinator) validateHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest) (int16, string) {
	invalid := kerr.InvalidRequest.Code
	switch {
	case req.Group == "":
		return invalid, "GroupId can't be empty."
	case req.InstanceID != nil && *req.InstanceID == "":
		return invalid, "InstanceId can't be empty."
	case req.RackID != nil && *req.RackID == "":
		return invalid, "RackId can't be empty."
	}
	switch e := req.MemberEpoch; {
	case e > 0 || e == leaveEpoch:
		if req.MemberID == "" {
			return invalid, "MemberId can't be empty."
		}
	case e == 0:
		switch {
		case req.Version >= 1 && req.MemberID == "":
			return invalid, "MemberId can't be empty."
		case req.RebalanceTimeoutMillis == -1:
			return invalid, "RebalanceTimeoutMs must be provided in first request."
		case req.Topics == nil || len(req.Topics) > 0:
			return invalid, "TopicPartitions must be empty when (re-)joining."
		case req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
			return invalid, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."
		}
	case e == staticLeaveEpoch:
		if req.MemberID == "" {
			return invalid, "MemberId can't be empty."
		}
		if req.InstanceID == nil {
			return invalid, "InstanceId can't be null."
		}
	default:
		return invalid, "MemberEpoch is invalid."
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		if _, err := c.regex(*req.SubscribedTopicRegex); err != nil {
			return kerr.InvalidRegularExpression.Code, "SubscribedTopicRegex " + *req.SubscribedTopicRegex + " is not a valid regular expression: " + err.Error()
		}
	}
	if req.ServerAssignor != nil && !slices.Contains(assignors, *req.ServerAssignor) {
		return kerr.UnsupportedAssignor.Code, "ServerAssignor " + *req.ServerAssignor + " is not supported. Supported assignors: uniform, range."
	}
	return 0, ""
}

// regex compiles a subscription regex, anchored: Kafka (RE2/J, the syntax
// of Go's regexp) matches the whole topic name. Compiled ones are cached,
// boundedly.
func (c *Coordinator) regex(src string) (*regexp.Regexp, error) {
	if re, ok := c.regexes[src]; ok {
		return re, nil
	}
	re, err := regexp.Compile("^(?:" + src + ")$")
	if err != nil {
		return nil, err
	}
	if len(c.regexes) >= 256 {
		clear(c.regexes)
	}
	c.regexes[src] = re
	return re, nil
}

// newConsumerMemberID is a v0 member id (v1 clients bring their own):
// 16 random bytes, base64url, as Kafka's Uuid.toString.
func (c *Coordinator) newConsumerMemberID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := c.rand.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// classicEmpty reports whether a classic group may become a consumer
// group: it has no members (Kafka's migration policy, for empty groups).
func (g *group) classicEmpty() bool {
	return !g.live || (len(g.members) == 0 && len(g.pendingIDs) == 0 && g.state != Dead)
}

func (c *Coordinator) consumerHeartbeat(cl *call, who Caller, req *kmsg.ConsumerGroupHeartbeatRequest) {
	fail := func(code int16, format string, args ...any) {
		c.reply(cl, heartbeatError(req, code, fmt.Sprintf(format, args...)))
	}
	if code, msg := c.validateHeartbeat(req); code != 0 {
		fail(code, "%s", msg)
		return
	}
	if req.MemberEpoch == leaveEpoch || req.MemberEpoch == staticLeaveEpoch {
		c.consumerLeave(cl, req)
		return
	}
	g := c.groups[req.Group]
	var recs []Record
	if c.cons(g) == nil {
		if req.MemberEpoch != 0 {
			fail(kerr.GroupIDNotFound.Code, "Consumer group %s not found.", req.Group)
			return
		}
		if g != nil && !g.classicEmpty() {
			fail(kerr.GroupIDNotFound.Code, "Group %s is not a consumer group.", req.Group)
			return
		}
		if g == nil {
			g = &group{id: req.Group}
			c.groups[req.Group] = g
		}
		if g.stored != nil || g.generation > 0 {
			recs = append(recs, Record{Key: groupKey(g.id)}) // the classic group is replaced
			c.log.Info("empty classic group becomes a consumer group", "group", g.id)
		}
		g.live, g.state, g.generation, g.protocol, g.protocolType, g.leader = false, Empty, 0, "", "", ""
		g.members, g.order, g.instances, g.pendingIDs = nil, nil, nil, nil
		if g.cg == nil {
			g.cg = &consumerState{}
		}
		g.cg.live = newCgroup()
	}
	s := g.cg
	if s.storing {
		c.enqueue(g, cl, who)
		return
	}
	cg := s.live
	mid := req.MemberID
	if mid == "" {
		mid = c.newConsumerMemberID() // v0
	}
	full := func() bool {
		return req.MemberEpoch == 0 || (req.RebalanceTimeoutMillis != -1 &&
			(req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.Topics != nil)
	}()

	// The member, as it is now (a blank one if it is new).
	var member *cmember
	isNew, replaced := false, ""
	fenced := func(m *cmember) bool {
		if req.MemberEpoch == 0 {
			return false // a rejoin of a known member: re-admitted in place
		}
		if req.MemberEpoch > m.Epoch {
			fail(kerr.FencedMemberEpoch.Code, "The consumer group member has a greater member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", req.MemberEpoch, m.Epoch)
			return true
		}
		if req.MemberEpoch < m.Epoch && (req.MemberEpoch != m.PrevEpoch || !ownedSubset(req.Topics, m.Assigned)) {
			fail(kerr.FencedMemberEpoch.Code, "The consumer group member has a smaller member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", req.MemberEpoch, m.Epoch)
			return true
		}
		return false
	}
	newMember := func() bool {
		if len(cg.Members) >= c.cfg.MaxGroupSize {
			fail(kerr.GroupMaxSizeReached.Code, "The consumer group has reached its maximum capacity of %d members.", c.cfg.MaxGroupSize)
			return false
		}
		member, isNew = &cmember{ID: mid, Assigned: tps{}, PendingRevocation: tps{}}, true
		return true
	}
	if req.InstanceID == nil {
		member = cg.Members[mid]
		switch {
		case member == nil && req.MemberEpoch != 0:
			fail(kerr.UnknownMemberID.Code, "Member %s is not a member of group %s.", mid, req.Group)
			return
		case member == nil:
			if !newMember() {
				return
			}
		case fenced(member):
			return
		}
	} else {
		old := cg.staticMember(*req.InstanceID)
		switch {
		case req.MemberEpoch != 0 && old == nil:
			fail(kerr.UnknownMemberID.Code, "Instance id %s is unknown.", *req.InstanceID)
			return
		case req.MemberEpoch != 0 && old.ID != mid:
			fail(kerr.FencedInstanceID.Code, "Static member %s with instance id %s was fenced by member %s.", mid, *req.InstanceID, old.ID)
			return
		case req.MemberEpoch != 0:
			if member = old; fenced(member) {
				return
			}
		case old == nil:
			if member = cg.Members[mid]; member == nil && !newMember() {
				return
			}
		case old.ID == mid:
			member = old
		case old.Epoch != staticLeaveEpoch:
			fail(kerr.UnreleasedInstanceID.Code, "Static member %s with instance id %s cannot join the group because the instance id is owned by %s member.", mid, *req.InstanceID, old.ID)
			return
		default:
			// The static member comes back under a new member id: it
			// takes over the old one's assignment (KIP-345 in KIP-848).
			replaced = old.ID
			member = old.clone()
			member.ID, member.Epoch, member.PrevEpoch = mid, 0, 0
			recs = append(recs, recRemoveMember(g.id, old.ID)...)
			recs = append(recs, recMember(g.id, member), recTarget(g.id, mid, cg.Target[old.ID]), recCurrent(g.id, member))
			c.log.Info("static member rejoined", "group", g.id, "instance", *req.InstanceID, "old", old.ID, "new", mid)
		}
	}

	// 1. The member's metadata; a new subscription bumps the group epoch.
	upd := member.clone()
	if req.InstanceID != nil {
		upd.InstanceID = new(*req.InstanceID)
	}
	if req.RackID != nil {
		upd.RackID = new(*req.RackID)
	}
	if req.RebalanceTimeoutMillis != -1 {
		upd.RebalanceTimeoutMs = req.RebalanceTimeoutMillis
	}
	if req.ServerAssignor != nil {
		upd.ServerAssignor = *req.ServerAssignor
	}
	if req.SubscribedTopicNames != nil {
		names := slices.Clone(req.SubscribedTopicNames)
		slices.Sort(names)
		upd.SubscribedTopics = slices.Compact(names)
	}
	if req.SubscribedTopicRegex != nil {
		upd.SubscribedRegex = *req.SubscribedTopicRegex
	}
	upd.ClientID, upd.ClientHost = who.ClientID, who.ClientHost
	bump := cg.Epoch == 0
	if isNew || !upd.sameMetadata(member) {
		recs = append(recs, recMember(g.id, upd))
		if isNew || !slices.Equal(upd.SubscribedTopics, member.SubscribedTopics) || upd.SubscribedRegex != member.SubscribedRegex {
			bump = true
		}
	}
	view := maps.Clone(cg.Members)
	delete(view, replaced)
	view[upd.ID] = upd
	sub := c.subscriptionMeta(view)
	if !maps.Equal(sub, cg.Subscription) {
		recs = append(recs, recSubscription(g.id, sub))
		bump = true
	}
	epoch := cg.Epoch
	if bump {
		epoch++
		recs = append(recs, recGroupEpoch(g.id, epoch))
		c.log.Debug("consumer group epoch bumped", "group", g.id, "epoch", epoch)
	}

	// 2. The target assignment, when the group epoch moved past it.
	targetEpoch, target := cg.AssignmentEpoch, cg.Target[upd.ID]
	if replaced != "" && target == nil {
		target = cg.Target[replaced]
	}
	// Only a new group epoch recomputes targets, as Kafka: a static member
	// back under a new id takes over its old target above (recomputing at
	// the same epoch could move others' targets while they, stable at
	// that epoch, are never reconciled towards them).
	if epoch > cg.AssignmentEpoch {
		prev := maps.Clone(cg.Target)
		if replaced != "" {
			prev[upd.ID] = prev[replaced]
			delete(prev, replaced)
		}
		targets := c.targetAssignment(view, sub, prev)
		for _, id := range slices.Sorted(maps.Keys(targets)) {
			if old, ok := prev[id]; !ok || !old.equal(targets[id]) {
				recs = append(recs, recTarget(g.id, id, targets[id]))
			}
		}
		recs = append(recs, recTargetMeta(g.id, epoch))
		targetEpoch, target = epoch, targets[upd.ID]
		c.log.Info("consumer group target assignment computed", "group", g.id, "epoch", epoch, "members", len(view))
	}
	if target == nil {
		target = tps{}
	}

	// 3. Reconcile the member towards its target.
	owned := req.Topics
	if req.MemberEpoch == 0 {
		owned = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	}
	before := upd.clone()
	if !(upd.State == memberStable && upd.Epoch == targetEpoch) || req.MemberEpoch == 0 {
		upd = reconcile(upd, targetEpoch, target, ownersOf(view), owned)
	}
	changed := !upd.sameCurrent(before)
	if isNew || changed {
		recs = append(recs, recCurrent(g.id, upd))
	}

	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	resp.MemberID, resp.MemberEpoch, resp.HeartbeatIntervalMillis = new(upd.ID), upd.Epoch, c.intervalMs()
	if full || !upd.Assigned.equal(member.Assigned) {
		resp.Assignment = &kmsg.ConsumerGroupHeartbeatResponseAssignment{Topics: []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}}
		for _, t := range upd.Assigned.topics() {
			resp.Assignment.Topics = append(resp.Assignment.Topics, kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{TopicID: t, Partitions: slices.Clone(upd.Assigned[t])})
		}
	}

	c.replayLive(g, recs)
	m := cg.Members[upd.ID]
	if m == nil {
		panic(fmt.Sprintf("groups: member %s of %s missing after its heartbeat", upd.ID, g.id))
	}
	m.sessionDeadline = c.nowMs + c.sessionMs()
	if changed || isNew {
		m.rebalanceDeadline = 0
		if m.State == memberUnrevokedPartitions {
			m.rebalanceDeadline = c.nowMs + int64(max(m.RebalanceTimeoutMs, 0))
		}
	}
	if isNew {
		c.log.Info("member joins the consumer group", "group", g.id, "member", upd.ID, "instance", deref(upd.InstanceID))
	}
	c.consStore(g, recs, func(code int16) {
		if code != 0 {
			c.reply(cl, heartbeatError(req, code, ""))
			return
		}
		c.reply(cl, resp)
	})
}

// ownedSubset reports whether the partitions a member says it owns are
// all assigned to it (nil: it did not say).
func ownedSubset(owned []kmsg.ConsumerGroupHeartbeatRequestTopic, assigned tps) bool {
	if owned == nil {
		return false
	}
	for _, t := range owned {
		for _, p := range t.Partitions {
			if !assigned.has(t.TopicID, p) {
				return false
			}
		}
	}
	return true
}

// ownersOf maps every partition assigned or pending revocation to the
// member holding it.
func ownersOf(members map[string]*cmember) map[[16]byte]map[int32]string {
	cg := &cgroup{Members: members}
	return cg.owners()
}

// reconcile moves a member one step towards its target, as Kafka's
// CurrentAssignmentBuilder: partitions it must give up are revoked first
// (the member stays at its epoch until it reports them gone); partitions
// still held by another member are withheld (UNRELEASED_PARTITIONS) until
// released; then it reaches the target epoch.
func reconcile(m *cmember, targetEpoch int32, target tps, owners map[[16]byte]map[int32]string, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) *cmember {
	switch m.State {
	case memberStable:
		if m.Epoch == targetEpoch {
			return m
		}
		return nextAssignment(m, m.Epoch, targetEpoch, target, owners, owned)
	case memberUnrevokedPartitions:
		if ownsAny(owned, m.PendingRevocation) {
			return m
		}
		return nextAssignment(m, m.Epoch+1, targetEpoch, target, owners, owned)
	default: // memberUnreleasedPartitions
		return nextAssignment(m, m.Epoch, targetEpoch, target, owners, owned)
	}
}

// ownsAny reports whether the member still owns any of revoking; a
// member that did not report its partitions (nil) still owns them.
func ownsAny(owned []kmsg.ConsumerGroupHeartbeatRequestTopic, revoking tps) bool {
	if owned == nil {
		return true
	}
	for _, t := range owned {
		for _, p := range t.Partitions {
			if revoking.has(t.TopicID, p) {
				return true
			}
		}
	}
	return false
}

// nextAssignment moves m towards target, as Kafka's
// CurrentAssignmentBuilder.computeNextAssignment: it waits for revocation
// only of partitions the member still owns (a member rejoining owns none),
// and otherwise goes to the target epoch.
func nextAssignment(m *cmember, epoch, targetEpoch int32, target tps, owners map[[16]byte]map[int32]string, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) *cmember {
	assigned, revoking, adding := tps{}, tps{}, tps{}
	unreleased := false
	topics := map[[16]byte]bool{}
	for t := range target { //lint:maporder-ok collecting a set
		topics[t] = true
	}
	for t := range m.Assigned { //lint:maporder-ok collecting a set
		topics[t] = true
	}
	for _, t := range slices.SortedFunc(maps.Keys(topics), compareIDs) {
		for _, p := range m.Assigned[t] {
			if target.has(t, p) {
				assigned.add(t, p)
			} else {
				revoking.add(t, p)
			}
		}
		for _, p := range target[t] {
			if assigned.has(t, p) {
				continue
			}
			if _, held := owners[t][p]; held {
				unreleased = true
				continue
			}
			adding.add(t, p)
		}
	}
	n := m.clone()
	n.PrevEpoch = m.Epoch
	switch {
	case len(revoking) > 0 && ownsAny(owned, revoking):
		n.State, n.Epoch, n.Assigned, n.PendingRevocation = memberUnrevokedPartitions, epoch, assigned, revoking
	default:
		for _, t := range adding.topics() {
			for _, p := range adding[t] {
				assigned.add(t, p)
			}
		}
		n.State, n.Epoch, n.Assigned, n.PendingRevocation = memberStable, targetEpoch, assigned, tps{}
		if unreleased {
			n.State = memberUnreleasedPartitions
		}
	}
	return n
}

// subscribedNames is every topic a member subscribes to: by name, and
// those of the topic table its regex matches.
func (c *Coordinator) subscribedNames(m *cmember) []string {
	names := slices.Clone(m.SubscribedTopics)
	if m.SubscribedRegex != "" && c.cfg.TopicNames != nil {
		if re, err := c.regex(m.SubscribedRegex); err == nil {
			for _, t := range c.cfg.TopicNames() {
				if re.MatchString(t) {
					names = append(names, t)
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// subscriptionMeta is the subscription metadata of these members: every
// topic one subscribes to that exists, with its id and partition count.
func (c *Coordinator) subscriptionMeta(members map[string]*cmember) map[string]topicMeta {
	out := map[string]topicMeta{}
	for _, id := range slices.Sorted(maps.Keys(members)) {
		for _, name := range c.subscribedNames(members[id]) {
			if _, ok := out[name]; ok || c.cfg.Topic == nil {
				continue
			}
			if tid, n, ok := c.cfg.Topic(name); ok && n > 0 {
				out[name] = topicMeta{ID: tid, IDHex: hex.EncodeToString(tid[:]), Name: name, Partitions: n}
			}
		}
	}
	return out
}

// preferredAssignor is the assignor most members ask for (ties to the
// first name), or the default.
func preferredAssignor(members map[string]*cmember) string {
	votes := map[string]int{}
	for _, m := range members { //lint:maporder-ok counting
		if m.ServerAssignor != "" {
			votes[m.ServerAssignor]++
		}
	}
	best := AssignorUniform
	for _, a := range slices.Sorted(maps.Keys(votes)) {
		if votes[a] > votes[best] {
			best = a
		}
	}
	return best
}

func (c *Coordinator) targetAssignment(members map[string]*cmember, sub map[string]topicMeta, prev map[string]tps) map[string]tps {
	var topics []assignTopic
	for _, name := range slices.Sorted(maps.Keys(sub)) {
		t := sub[name]
		topics = append(topics, assignTopic{id: t.ID, name: name, partitions: t.Partitions})
	}
	var ams []assignMember
	for _, id := range slices.Sorted(maps.Keys(members)) {
		am := assignMember{id: id, prev: prev[id]}
		for _, name := range c.subscribedNames(members[id]) {
			if t, ok := sub[name]; ok {
				am.topics = append(am.topics, t.ID)
			}
		}
		ams = append(ams, am)
	}
	return assign(preferredAssignor(members), ams, topics)
}

// fenceRecords remove a member and bump the group epoch (Kafka's
// consumerGroupFenceMember).
func (c *Coordinator) fenceRecords(g *group, m *cmember) []Record {
	cg := g.cg.live
	recs := recRemoveMember(g.id, m.ID)
	view := maps.Clone(cg.Members)
	delete(view, m.ID)
	if sub := c.subscriptionMeta(view); !maps.Equal(sub, cg.Subscription) {
		recs = append(recs, recSubscription(g.id, sub))
	}
	return append(recs, recGroupEpoch(g.id, cg.Epoch+1))
}

func (c *Coordinator) consumerLeave(cl *call, req *kmsg.ConsumerGroupHeartbeatRequest) {
	fail := func(code int16, format string, args ...any) {
		c.reply(cl, heartbeatError(req, code, fmt.Sprintf(format, args...)))
	}
	g := c.groups[req.Group]
	cg := c.cons(g)
	if cg == nil {
		fail(kerr.GroupIDNotFound.Code, "Consumer group %s not found.", req.Group)
		return
	}
	if g.cg.storing {
		c.enqueue(g, cl, Caller{})
		return
	}
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	resp.MemberID, resp.MemberEpoch = new(req.MemberID), req.MemberEpoch
	var m *cmember
	var recs []Record
	if req.InstanceID == nil {
		if m = cg.Members[req.MemberID]; m == nil {
			fail(kerr.UnknownMemberID.Code, "Member %s is not a member of group %s.", req.MemberID, req.Group)
			return
		}
		recs = c.fenceRecords(g, m)
		c.log.Info("member left the consumer group", "group", g.id, "member", m.ID)
	} else {
		m = cg.staticMember(*req.InstanceID)
		switch {
		case m == nil:
			fail(kerr.UnknownMemberID.Code, "Instance id %s is unknown.", *req.InstanceID)
			return
		case m.ID != req.MemberID:
			fail(kerr.FencedInstanceID.Code, "Static member %s with instance id %s was fenced by member %s.", req.MemberID, *req.InstanceID, m.ID)
			return
		case req.MemberEpoch == staticLeaveEpoch:
			// It keeps its assignment for its session timeout, to come
			// back under a new member id.
			leaving := m.clone()
			leaving.Epoch, leaving.PendingRevocation = staticLeaveEpoch, tps{}
			recs = []Record{recCurrent(g.id, leaving)}
			c.log.Info("static member temporarily left the consumer group", "group", g.id, "member", m.ID, "instance", *req.InstanceID)
		default:
			recs = c.fenceRecords(g, m)
			c.log.Info("static member left the consumer group", "group", g.id, "member", m.ID, "instance", *req.InstanceID)
		}
	}
	c.replayLive(g, recs)
	if lm := cg.Members[m.ID]; lm != nil {
		lm.rebalanceDeadline = 0
	}
	c.consStore(g, recs, func(code int16) {
		if code != 0 {
			c.reply(cl, heartbeatError(req, code, ""))
			return
		}
		c.reply(cl, resp)
	})
}

// tickConsumers fences the members whose session ended or that did not
// revoke in time.
func (c *Coordinator) tickConsumers() {
	for _, g := range c.sortedGroups() {
		if g.cg == nil || g.cg.live == nil || g.cg.storing {
			continue
		}
		cg := g.cg.live
		for _, id := range cg.memberIDs() {
			m := cg.Members[id]
			if m == nil {
				continue
			}
			switch {
			case m.sessionDeadline <= c.nowMs:
				c.log.Info("consumer group member session expired", "group", g.id, "member", id)
			case m.rebalanceDeadline > 0 && m.rebalanceDeadline <= c.nowMs && m.State == memberUnrevokedPartitions:
				c.log.Info("consumer group member did not revoke its partitions in time", "group", g.id, "member", id)
			default:
				continue
			}
			recs := c.fenceRecords(g, m)
			c.replayLive(g, recs)
			c.consStore(g, recs, nil)
			break // one store at a time; the others next tick
		}
	}
}

// replayLive applies records the active coordinator wrote to its live
// state.
func (c *Coordinator) replayLive(g *group, recs []Record) {
	for _, r := range recs {
		version, _, member, err := parseConsumerKey(r.Key)
		if err != nil || version < keyConsumerGroupMetadata || version > keyConsumerGroupCurrentMember {
			continue // the classic group's tombstone
		}
		if _, err := g.cg.live.replay(version, member, r.Value); err != nil {
			panic(fmt.Sprintf("groups: replaying our own record of %s: %v", g.id, err))
		}
	}
}

// enqueue parks a request of a group with a store in flight.
func (c *Coordinator) enqueue(g *group, cl *call, who Caller) {
	g.cg.queue = append(g.cg.queue, queued{cl: cl, who: who})
}

// consStore stores a group's records (none: reply at once) and calls
// reply, if any, once they are done: with 0 if they were committed, else
// the error to answer.
func (c *Coordinator) consStore(g *group, recs []Record, reply func(code int16)) {
	s := g.cg
	if len(recs) == 0 {
		if reply != nil {
			reply(0)
		}
		return
	}
	if s.storing {
		panic(fmt.Sprintf("groups: a second store of consumer group %s in flight", g.id))
	}
	s.storing, s.reply = true, reply
	g.storesInflight++
	c.store(recs, func(code int16) {
		g.storesInflight--
		c.consStoreDone(g, code)
	})
	// Past offsets.commit.timeout.ms the requests waiting on it are
	// answered COORDINATOR_NOT_AVAILABLE, but the store stays in flight
	// until its outcome is known: its records may still commit, and the
	// live state must not move on without knowing.
	c.appends[len(c.appends)-1].late = func() { c.consStoreLate(g) }
}

func (c *Coordinator) consStoreLate(g *group) {
	s := g.cg
	if s == nil || !s.storing {
		return
	}
	if s.reply != nil {
		s.reply(kerr.CoordinatorNotAvailable.Code)
		s.reply = nil
	}
	q := s.queue
	s.queue = nil
	for _, w := range q {
		c.reply(w.cl, ErrorResponse(w.cl.req, kerr.CoordinatorNotAvailable.Code))
	}
}

func (c *Coordinator) consStoreDone(g *group, code int16) {
	s := g.cg
	if s == nil || !s.storing {
		return
	}
	s.storing = false
	if code != 0 {
		c.log.Warn("consumer group store failed", "group", g.id, "code", code)
		if c.active {
			c.resyncConsumer(g)
		}
	}
	if s.reply != nil {
		r := s.reply
		s.reply = nil
		r(storeError(code, false))
	}
	if !c.active {
		return
	}
	// The requests that waited, on the state the store left.
	for len(s.queue) > 0 && !s.storing && g.cg == s {
		w := s.queue[0]
		s.queue = s.queue[1:]
		c.Handle(w.cl.token, w.who, w.cl.req)
	}
}

// resyncConsumer rebuilds the live group from its committed records,
// keeping the members' sessions.
func (c *Coordinator) resyncConsumer(g *group) {
	s := g.cg
	old := s.live
	if s.stored == nil {
		s.live = nil
		c.log.Info("consumer group rebuilt: it does not exist", "group", g.id)
		return
	}
	s.live = s.stored.clone()
	for _, id := range s.live.memberIDs() {
		m := s.live.Members[id]
		m.sessionDeadline = c.nowMs + c.sessionMs()
		if old != nil && old.Members[id] != nil {
			m.sessionDeadline = old.Members[id].sessionDeadline
		}
		if m.State == memberUnrevokedPartitions {
			m.rebalanceDeadline = c.nowMs + int64(m.RebalanceTimeoutMs)
		}
	}
	c.log.Info("consumer group rebuilt from its committed records", "group", g.id, "epoch", s.live.Epoch)
}

// applyConsumer applies a committed consumer group record (key versions
// 3–8) on any replica.
func (c *Coordinator) applyConsumer(key, value []byte) error {
	version, id, member, err := parseConsumerKey(key)
	if err != nil {
		return err
	}
	g := c.groups[id]
	if g == nil {
		if value == nil {
			return nil
		}
		g = &group{id: id}
		c.groups[id] = g
	}
	if g.cg == nil {
		g.cg = &consumerState{}
	}
	s := g.cg
	if s.stored == nil {
		if value == nil {
			return nil
		}
		s.stored = newCgroup()
	}
	deleted, err := s.stored.replay(version, member, value)
	if err != nil {
		return fmt.Errorf("groups: consumer group %q record v%d: %w", id, version, err)
	}
	if deleted {
		s.stored = nil
	}
	if s.stored == nil && s.live == nil && !s.storing {
		g.cg = nil
		c.maybeForget(g, true)
	}
	return nil
}

// activateConsumers rebuilds the live consumer groups from their
// committed records; every member gets a fresh session.
func (c *Coordinator) activateConsumers(g *group) {
	if g.cg == nil {
		return
	}
	*g.cg = consumerState{stored: g.cg.stored}
	if g.cg.stored == nil {
		g.cg = nil
		return
	}
	g.cg.live = g.cg.stored.clone()
	for _, id := range g.cg.live.memberIDs() {
		m := g.cg.live.Members[id]
		m.sessionDeadline = c.nowMs + c.sessionMs()
		if m.State == memberUnrevokedPartitions {
			m.rebalanceDeadline = c.nowMs + int64(m.RebalanceTimeoutMs)
		}
	}
}

func (c *Coordinator) deactivateConsumers(g *group) {
	if g.cg == nil {
		return
	}
	if g.cg.reply != nil {
		g.cg.reply(kerr.NotCoordinator.Code)
	}
	for _, w := range g.cg.queue {
		c.reply(w.cl, ErrorResponse(w.cl.req, kerr.NotCoordinator.Code))
	}
	*g.cg = consumerState{stored: g.cg.stored}
	if g.cg.stored == nil {
		g.cg = nil
	}
}

// validateConsumerCommit checks an OffsetCommit to a consumer group, as
// Kafka's ConsumerGroup.validateOffsetCommit: a commit without a member
// (generation -1) only to an empty group; a member's must carry its
// current epoch (STALE_MEMBER_EPOCH), with OffsetCommit v9+.
func validateConsumerCommit(cg *cgroup, memberID string, epoch int32, version int16) int16 {
	if epoch < 0 && len(cg.Members) == 0 {
		return 0
	}
	m := cg.Members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case version < 9:
		return kerr.UnsupportedVersion.Code
	case epoch != m.Epoch:
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// ValidateOffsetFetch checks the member of an OffsetFetch (v9+) against a
// consumer group: UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH; a fetch without
// a member (epoch -1), or of a classic group, is not checked.
func (c *Coordinator) ValidateOffsetFetch(group string, memberID *string, epoch int32) int16 {
	cg := c.cons(c.groups[group])
	if cg == nil || epoch < 0 {
		return 0
	}
	m := cg.Members[deref(memberID)]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case m.Epoch != epoch:
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// consumerState is the state DescribeGroups and ListGroups report.
func (cg *cgroup) state() string {
	if len(cg.Members) == 0 {
		return Empty
	}
	if cg.Epoch > cg.AssignmentEpoch {
		return Assigning
	}
	for _, m := range cg.Members { //lint:maporder-ok any member decides
		if m.Epoch != cg.AssignmentEpoch || m.State != memberStable {
			return Reconciling
		}
	}
	return Stable
}

func (cg *cgroup) topicName(id [16]byte) string {
	for _, name := range slices.Sorted(maps.Keys(cg.Subscription)) {
		if cg.Subscription[name].ID == id {
			return name
		}
	}
	return ""
}

// describeConsumer answers DescribeGroups for a consumer group: its
// state, protocol type "consumer", the assignor as the protocol, and each
// member's subscription and assignment in the classic consumer encoding.
func (c *Coordinator) describeConsumer(g *group, cg *cgroup) kmsg.DescribeGroupsResponseGroup {
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group, d.State, d.ProtocolType, d.Protocol = g.id, cg.state(), "consumer", preferredAssignor(cg.Members)
	for _, id := range cg.memberIDs() {
		m := cg.Members[id]
		md := kmsg.NewConsumerMemberMetadata()
		md.Version, md.Topics = 0, c.subscribedNames(m)
		as := kmsg.NewConsumerMemberAssignment()
		for _, t := range m.Assigned.topics() {
			as.Topics = append(as.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: cg.topicName(t), Partitions: slices.Clone(m.Assigned[t])})
		}
		d.Members = append(d.Members, kmsg.DescribeGroupsResponseGroupMember{MemberID: id, InstanceID: m.InstanceID,
			ClientID: m.ClientID, ClientHost: m.ClientHost, ProtocolMetadata: md.AppendTo(nil), MemberAssignment: as.AppendTo(nil)})
	}
	return d
}

// ConsumerGroupDescribe answers ConsumerGroupDescribe for one group.
func (c *Coordinator) ConsumerGroupDescribe(id string) kmsg.ConsumerGroupDescribeResponseGroup {
	d := kmsg.NewConsumerGroupDescribeResponseGroup()
	d.Group = id
	g := c.groups[id]
	cg := c.cons(g)
	if cg == nil {
		d.ErrorCode = kerr.GroupIDNotFound.Code
		msg := "Group " + id + " is not a consumer group."
		if !g.known() {
			msg = "Group " + id + " not found."
		}
		d.ErrorMessage = &msg
		return d
	}
	d.State, d.Epoch, d.AssignmentEpoch, d.AssignorName = cg.state(), cg.Epoch, cg.AssignmentEpoch, preferredAssignor(cg.Members)
	toAssignment := func(a tps) kmsg.Assignment {
		var out kmsg.Assignment
		for _, t := range a.topics() {
			out.TopicPartitions = append(out.TopicPartitions, kmsg.AssignmentTopicPartition{TopicID: t, Topic: cg.topicName(t), Partitions: slices.Clone(a[t])})
		}
		return out
	}
	for _, mid := range cg.memberIDs() {
		m := cg.Members[mid]
		dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.RackID, dm.MemberEpoch = mid, m.InstanceID, m.RackID, m.Epoch
		dm.ClientID, dm.ClientHost, dm.SubscribedTopics = m.ClientID, m.ClientHost, slices.Clone(m.SubscribedTopics)
		if m.SubscribedRegex != "" {
			dm.SubscribedTopicRegex = new(m.SubscribedRegex)
		}
		if dm.SubscribedTopics == nil {
			dm.SubscribedTopics = []string{}
		}
		dm.Assignment, dm.TargetAssignment = toAssignment(m.Assigned), toAssignment(cg.Target[mid])
		dm.MemberType = 1 // consumer protocol
		d.Members = append(d.Members, dm)
	}
	return d
}

// consumerToClassic turns an empty consumer group into nothing, for a
// JoinGroup to make it a classic group (Kafka's migration policy, for
// empty groups): its records are deleted, its offsets kept. False if it
// has members.
func (c *Coordinator) consumerToClassic(g *group) bool {
	cg := g.cg.live
	if len(cg.Members) > 0 || g.cg.storing {
		return false
	}
	c.store(consumerTombstones(g.id, cg), func(int16) {})
	g.cg.live = nil
	c.log.Info("empty consumer group becomes a classic group", "group", g.id)
	return true
}
