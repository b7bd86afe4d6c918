package groups

import (
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/env"
)

// Config configures the coordinator of one __consumer_offsets partition.
// Zero values take Apache Kafka's defaults.
type Config struct {
	Partition int32
	Env       env.Env
	// InitialRebalanceDelayMs is group.initial.rebalance.delay.ms (3000;
	// negative for none): how long the first rebalance of an empty group
	// waits for more members.
	InitialRebalanceDelayMs int64
	// MinSessionTimeoutMs and MaxSessionTimeoutMs are
	// group.min/max.session.timeout.ms (6000, 1800000).
	MinSessionTimeoutMs, MaxSessionTimeoutMs int32
	// MaxGroupSize is group.max.size (Kafka: unbounded; sluice: 1000).
	MaxGroupSize int
	// OffsetsRetentionMs is offsets.retention.minutes in ms (7 days).
	OffsetsRetentionMs int64
	// RetentionCheckMs is offsets.retention.check.interval.ms (600000).
	RetentionCheckMs int64
	// CommitTimeoutMs is offsets.commit.timeout.ms (5000): how long a
	// store waits for its records to commit before the request fails.
	CommitTimeoutMs int64
	// MaxMetadataBytes is offset.metadata.max.bytes (4096).
	MaxMetadataBytes int
	// ConsumerSessionTimeoutMs is group.consumer.session.timeout.ms
	// (45000) and ConsumerHeartbeatIntervalMs
	// group.consumer.heartbeat.interval.ms (5000), for KIP-848 groups.
	ConsumerSessionTimeoutMs, ConsumerHeartbeatIntervalMs int32
	// Topic looks a topic up in the broker's topic table (its id and
	// partition count), and TopicNames lists the table's topics sorted:
	// KIP-848 groups assign from them. Both must be deterministic
	// functions of the node's applied metadata. Nil: no topics.
	Topic      func(name string) (id [16]byte, partitions int32, ok bool)
	TopicNames func() []string
}

func (c Config) withDefaults() Config {
	switch {
	case c.InitialRebalanceDelayMs == 0:
		c.InitialRebalanceDelayMs = 3000
	case c.InitialRebalanceDelayMs < 0:
		c.InitialRebalanceDelayMs = 0 // no delay
	}
	if c.MinSessionTimeoutMs == 0 {
		c.MinSessionTimeoutMs = 6000
	}
	if c.MaxSessionTimeoutMs == 0 {
		c.MaxSessionTimeoutMs = 1800000
	}
	if c.MaxGroupSize == 0 {
		c.MaxGroupSize = 1000
	}
	if c.OffsetsRetentionMs == 0 {
		c.OffsetsRetentionMs = 7 * 24 * 3600 * 1000
	}
	if c.RetentionCheckMs == 0 {
		c.RetentionCheckMs = 600000
	}
	if c.CommitTimeoutMs == 0 {
		c.CommitTimeoutMs = 5000
	}
	if c.MaxMetadataBytes == 0 {
		c.MaxMetadataBytes = 4096
	}
	if c.ConsumerSessionTimeoutMs == 0 {
		c.ConsumerSessionTimeoutMs = 45000
	}
	if c.ConsumerHeartbeatIntervalMs == 0 {
		c.ConsumerHeartbeatIntervalMs = 5000
	}
	return c
}

// Group states, with Kafka's names (DescribeGroups, ListGroups).
const (
	Empty               = "Empty"
	PreparingRebalance  = "PreparingRebalance"
	CompletingRebalance = "CompletingRebalance"
	Stable              = "Stable"
	Dead                = "Dead"
)

// Reply answers the request Handle was given with Token.
type Reply struct {
	Token uint64
	Msg   kmsg.Response
}

// Record is one record to store in the partition; a nil Value is a
// tombstone.
type Record struct {
	Key, Value []byte
}

// Append asks the node to propose Records to the partition (acks=all) and
// report the outcome with AppendDone(ID, ...).
type Append struct {
	ID      uint64
	Records []Record
}

// Output is what Ready hands back.
type Output struct {
	Replies []Reply
	Appends []Append
}

// Committed is a group's committed offset for one partition.
type Committed struct {
	Offset          int64
	LeaderEpoch     int32
	Metadata        string
	CommitTimestamp int64
	// ExpireTimestamp, when not 0, is when the offset expires: the commit
	// time plus the retention time an OffsetCommit v2–v4 asked for.
	ExpireTimestamp int64
}

// Caller identifies the client of a request (JoinGroup records it).
type Caller struct {
	ClientID, ClientHost string
}

type call struct {
	token uint64
	req   kmsg.Request
}

type member struct {
	id, clientID, clientHost string
	instance                 *string
	sessionMs, rebalanceMs   int32
	protocols                []kmsg.JoinGroupRequestProtocol
	assignment               []byte
	deadline                 int64 // session expiry
	join, sync               *call // awaiting a response
	// pendingSync: answered a join of this generation, not yet synced;
	// removed if it has not synced by the group's syncDeadline.
	pendingSync bool
}

func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// group is one group's state: what is stored (applied on every replica),
// and, on the active coordinator, the live protocol state.
type group struct {
	id      string
	stored  *kmsg.GroupMetadataValue
	offsets map[string]map[int32]Committed

	live         bool
	state        string
	since        int64 // when it entered state
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	order        []string          // member ids, in join order
	instances    map[string]string // static instance id → member id
	pendingIDs   map[string]int64  // ids handed out with MEMBER_ID_REQUIRED → expiry
	joinDeadline int64
	delayUntil   int64
	delayLimit   int64
	initial      bool  // an initial rebalance: completes when its delay ends
	syncDeadline int64 // members still pendingSync then are removed
	// storingGen is the generation whose assignment is being stored (0:
	// none); a store of an earlier generation does not hold up this one's.
	storingGen int32
	// inflight counts the offset commits of each partition being stored:
	// retention must not delete what a pending commit is about to write,
	// and a deletion must cover it.
	inflight map[string]map[int32]int
	// storesInflight counts the group's metadata records being stored: a
	// group with one in flight is not forgotten, or its generation would
	// start again from zero behind the record.
	storesInflight int
	// cg is the state of a KIP-848 consumer group (consumer.go); nil for
	// a classic one.
	cg *consumerState
}

type pendingAppend struct {
	id       uint64
	deadline int64
	done     func(code int16)
	// late, if set, runs once at the deadline instead of done: the
	// append stays pending until its outcome is known (keep).
	late func()
	keep bool
}

// Coordinator is the group coordinator of one __consumer_offsets partition.
type Coordinator struct {
	cfg    Config
	log    *slog.Logger
	rand   *env.Rand
	nowMs  int64
	active bool
	groups map[string]*group

	nextAppend uint64
	appends    []*pendingAppend
	nextCheck  int64
	out        Output
	regexes    map[string]*regexp.Regexp // compiled subscription regexes
	// deletedTopics: topics deleted while this replica was not the
	// coordinator and whose offsets it held; Activate deletes what is
	// left of them (DeleteTopicOffsets). At most maxDeletedTopics.
	deletedTopics map[string]bool
}

// maxDeletedTopics bounds the deleted topics an inactive replica keeps
// for its next activation; beyond it the first by name is forgotten (its
// offsets then expire with offsets.retention.minutes).
const maxDeletedTopics = 1024

// New returns the coordinator state machine of one partition, inactive.
func New(cfg Config) *Coordinator {
	cfg = cfg.withDefaults()
	cfg.Env.Check()
	return &Coordinator{cfg: cfg, log: cfg.Env.Log.With("offsets_partition", cfg.Partition), rand: cfg.Env.Rand,
		groups: map[string]*group{}, regexes: map[string]*regexp.Regexp{}}
}

// topic looks a topic up in the node's table (Config.Topic).
func (c *Coordinator) topic(name string) (id [16]byte, partitions int32, ok bool) {
	if c.cfg.Topic == nil {
		return id, 0, false
	}
	return c.cfg.Topic(name)
}

// Active reports whether this replica is serving as the coordinator.
func (c *Coordinator) Active() bool { return c.active }

// Ready returns and clears the accumulated output.
func (c *Coordinator) Ready() Output {
	out := c.out
	c.out = Output{}
	return out
}

func (c *Coordinator) reply(cl *call, resp kmsg.Response) {
	c.out.Replies = append(c.out.Replies, Reply{Token: cl.token, Msg: resp})
}

func (c *Coordinator) sortedGroups() []*group {
	ids := slices.Sorted(maps.Keys(c.groups))
	out := make([]*group, len(ids))
	for i, id := range ids {
		out[i] = c.groups[id]
	}
	return out
}

// Activate makes this replica the coordinator: it leads the partition and
// has applied every committed record. Live groups are rebuilt from the
// stored metadata; members get a fresh session.
func (c *Coordinator) Activate(nowMs int64) {
	c.nowMs = nowMs
	c.active = true
	if Planted("no-replay") {
		clear(c.groups)
	}
	c.nextCheck = nowMs + c.cfg.RetentionCheckMs
	n := 0
	for _, g := range c.sortedGroups() {
		c.rebuild(g)
		c.activateConsumers(g)
		if g.live || g.cg != nil {
			n++
		}
	}
	c.log.Info("group coordinator active", "groups", n)
	var gone []string
	for _, t := range slices.Sorted(maps.Keys(c.deletedTopics)) {
		if _, _, exists := c.topic(t); !exists {
			gone = append(gone, t)
		}
	}
	c.deletedTopics = nil
	c.tombstoneTopics(gone)
}

func (c *Coordinator) rebuild(g *group) {
	g.members, g.order, g.instances, g.pendingIDs = map[string]*member{}, nil, map[string]string{}, map[string]int64{}
	g.joinDeadline, g.delayUntil, g.initial, g.syncDeadline, g.storingGen = 0, 0, false, 0, 0
	s := g.stored
	if s == nil {
		g.live = false
		g.state, g.since, g.protocolType, g.protocol, g.generation, g.leader = Empty, 0, "", "", 0, ""
		return
	}
	g.live = true
	g.protocolType, g.generation = s.ProtocolType, s.Generation
	g.protocol, g.leader = deref(s.Protocol), deref(s.Leader)
	g.since = s.CurrentStateTimestamp
	for _, sm := range s.Members {
		m := &member{id: sm.MemberID, clientID: sm.ClientID, clientHost: sm.ClientHost, instance: sm.InstanceID,
			sessionMs: sm.SessionTimeoutMillis, rebalanceMs: sm.RebalanceTimeoutMillis,
			protocols:  []kmsg.JoinGroupRequestProtocol{{Name: g.protocol, Metadata: sm.Subscription}},
			assignment: sm.Assignment, deadline: c.nowMs + int64(sm.SessionTimeoutMillis)}
		if m.rebalanceMs <= 0 {
			m.rebalanceMs = m.sessionMs
		}
		g.addMember(m)
	}
	if len(g.members) > 0 && g.protocol != "" {
		g.state = Stable
	} else {
		g.state = Empty
	}
}

// Deactivate: this replica no longer coordinates (it lost leadership or
// its storage). Waiting requests are answered NOT_COORDINATOR, and the
// live state is dropped; the stored state stays.
func (c *Coordinator) Deactivate() {
	if !c.active {
		return
	}
	c.active = false
	for _, g := range c.sortedGroups() {
		for _, id := range g.order {
			m := g.members[id]
			c.failCalls(m, kerr.NotCoordinator.Code)
		}
		g.live, g.members, g.order, g.instances, g.pendingIDs = false, nil, nil, nil, nil
	}
	for _, a := range c.appends {
		a.done(kerr.NotCoordinator.Code)
	}
	c.appends = nil
	for _, g := range c.sortedGroups() {
		c.deactivateConsumers(g)
		if g.stored == nil && len(g.offsets) == 0 && g.cg == nil {
			delete(c.groups, g.id)
		}
	}
	c.log.Info("group coordinator inactive")
}

func (c *Coordinator) failCalls(m *member, code int16) {
	if m.join != nil {
		c.reply(m.join, joinError(m.join.req.(*kmsg.JoinGroupRequest), code))
		m.join = nil
	}
	if m.sync != nil {
		c.reply(m.sync, syncError(m.sync.req.(*kmsg.SyncGroupRequest), code))
		m.sync = nil
	}
}

func (g *group) addMember(m *member) {
	if g.members == nil {
		g.members, g.instances = map[string]*member{}, map[string]string{}
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	if m.instance != nil {
		g.instances[*m.instance] = m.id
	}
}

func (g *group) removeMember(id string) {
	m := g.members[id]
	if m == nil {
		return
	}
	delete(g.members, id)
	g.order = slices.DeleteFunc(g.order, func(x string) bool { return x == id })
	if m.instance != nil && g.instances[*m.instance] == id {
		delete(g.instances, *m.instance)
	}
	if g.leader == id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
}

// group returns the group, creating an empty live one when create is set.
func (c *Coordinator) group(id string, create bool) *group {
	g := c.groups[id]
	if g == nil {
		if !create {
			return nil
		}
		g = &group{id: id}
		c.groups[id] = g
	}
	if create && !g.live {
		g.live, g.state, g.since = true, Empty, c.nowMs
		g.members, g.instances, g.pendingIDs = map[string]*member{}, map[string]string{}, map[string]int64{}
	}
	return g
}

// Handle takes a request that waits for the group protocol or for a store:
// JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit (its topics
// named, not by id), DeleteGroups (only groups of this partition) and
// OffsetDelete. The response comes out of Ready with token.
func (c *Coordinator) Handle(token uint64, who Caller, req kmsg.Request) {
	cl := &call{token: token, req: req}
	if !c.active {
		c.reply(cl, ErrorResponse(req, kerr.NotCoordinator.Code))
		return
	}
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		c.join(cl, who, r)
	case *kmsg.SyncGroupRequest:
		c.syncGroup(cl, r)
	case *kmsg.HeartbeatRequest:
		c.heartbeat(cl, r)
	case *kmsg.LeaveGroupRequest:
		c.leave(cl, r)
	case *kmsg.OffsetCommitRequest:
		c.commit(cl, r)
	case *kmsg.DeleteGroupsRequest:
		c.deleteGroups(cl, r)
	case *kmsg.OffsetDeleteRequest:
		c.offsetDelete(cl, r)
	case *kmsg.ConsumerGroupHeartbeatRequest:
		c.consumerHeartbeat(cl, who, r)
	default:
		panic(fmt.Sprintf("groups: Handle given %T", req))
	}
}

// store appends records; done runs with the outcome (0 when committed).
func (c *Coordinator) store(recs []Record, done func(code int16)) {
	c.nextAppend++
	c.appends = append(c.appends, &pendingAppend{id: c.nextAppend, deadline: c.nowMs + c.cfg.CommitTimeoutMs, done: done})
	c.out.Appends = append(c.out.Appends, Append{ID: c.nextAppend, Records: recs})
}

// storeGroup stores the group's metadata record.
func (c *Coordinator) storeGroup(g *group, done func(code int16)) {
	g.storesInflight++
	c.store([]Record{c.groupRecord(g)}, func(code int16) {
		g.storesInflight--
		done(code)
	})
}

// AppendDone reports an Append's outcome: code is 0 once its records are
// committed, else the partition's error code.
func (c *Coordinator) AppendDone(id uint64, code int16) {
	i := slices.IndexFunc(c.appends, func(a *pendingAppend) bool { return a.id == id })
	if i < 0 {
		return // timed out, or answered when this replica was deactivated
	}
	a := c.appends[i]
	c.appends = slices.Delete(c.appends, i, i+1)
	a.done(code)
}

// storeError maps a partition's append error to what group clients
// expect, as Kafka's group coordinator does: a record too large is
// INVALID_COMMIT_OFFSET_SIZE for offsets and UNKNOWN_SERVER_ERROR for
// group metadata.
func storeError(code int16, offsets bool) int16 {
	switch code {
	case 0, kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
		return code
	case kerr.UnknownTopicOrPartition.Code, kerr.NotEnoughReplicas.Code, kerr.NotEnoughReplicasAfterAppend.Code,
		kerr.RequestTimedOut.Code:
		return kerr.CoordinatorNotAvailable.Code
	case kerr.NotLeaderForPartition.Code, kerr.KafkaStorageError.Code:
		return kerr.NotCoordinator.Code
	case kerr.MessageTooLarge.Code, kerr.RecordListTooLarge.Code, kerr.InvalidFetchSize.Code:
		if offsets {
			return kerr.InvalidCommitOffsetSize.Code
		}
	}
	return kerr.UnknownServerError.Code
}

// Tick advances the clock: sessions, rebalance deadlines, the initial
// rebalance delay, store timeouts and offset retention.
func (c *Coordinator) Tick(nowMs int64) {
	c.nowMs = nowMs
	if !c.active {
		return
	}
	keep := c.appends[:0]
	var expired []*pendingAppend
	var late []func()
	for _, a := range c.appends {
		switch {
		case a.deadline > nowMs || a.keep:
		case a.late != nil:
			late = append(late, a.late)
			a.keep = true
		default:
			expired = append(expired, a)
			continue
		}
		keep = append(keep, a)
	}
	clear(c.appends[len(keep):])
	c.appends = keep
	for _, a := range expired {
		a.done(kerr.CoordinatorNotAvailable.Code)
	}
	for _, f := range late {
		f()
	}
	for _, g := range c.sortedGroups() {
		if !g.live {
			continue
		}
		c.expireMembers(g)
		c.expirePendingSync(g)
		c.maybeCompleteJoin(g)
		c.maybeForget(g, false)
	}
	c.tickConsumers()
	if nowMs >= c.nextCheck {
		c.nextCheck = nowMs + c.cfg.RetentionCheckMs
		c.expireOffsets()
	}
}

func (c *Coordinator) expireMembers(g *group) {
	for _, id := range slices.Sorted(maps.Keys(g.pendingIDs)) {
		if g.pendingIDs[id] <= c.nowMs {
			delete(g.pendingIDs, id)
		}
	}
	var gone []string
	for _, id := range g.order {
		m := g.members[id]
		if m.join != nil || m.sync != nil || m.deadline > c.nowMs {
			continue // awaiting a response keeps a member alive
		}
		gone = append(gone, id)
	}
	for _, id := range gone {
		c.log.Info("group member session expired", "group", g.id, "member", id)
		g.removeMember(id)
	}
	if len(gone) > 0 {
		c.memberLeft(g)
	}
}

// expirePendingSync removes the members that were answered a join but
// did not sync within the rebalance timeout, even if they heartbeat
// (Kafka's pending sync): the group would otherwise wait on them forever.
func (c *Coordinator) expirePendingSync(g *group) {
	if g.syncDeadline == 0 || g.syncDeadline > c.nowMs || (g.state != CompletingRebalance && g.state != Stable) {
		return
	}
	g.syncDeadline = 0
	var gone []string
	for _, id := range g.order {
		if g.members[id].pendingSync {
			gone = append(gone, id)
		}
	}
	for _, id := range gone {
		c.log.Info("group member did not sync in time", "group", g.id, "member", id)
		c.failCalls(g.members[id], kerr.UnknownMemberID.Code)
		g.removeMember(id)
	}
	if len(gone) > 0 {
		c.memberLeft(g)
	}
}

func (g *group) rebalanceTimeoutMs() int64 {
	timeout := int32(0)
	for _, id := range g.order {
		timeout = max(timeout, g.members[id].rebalanceMs)
	}
	return int64(timeout)
}

// memberLeft follows a member's removal: a stable (or completing) group
// rebalances; a rebalancing one may now be complete.
func (c *Coordinator) memberLeft(g *group) {
	switch g.state {
	case Stable, CompletingRebalance:
		c.prepareRebalance(g, "member left")
		c.maybeCompleteJoin(g) // at once if the others rejoined, or none is left
	case PreparingRebalance:
		c.maybeCompleteJoin(g)
	}
}

func (c *Coordinator) setState(g *group, s string) {
	g.state, g.since = s, c.nowMs
}

func (c *Coordinator) prepareRebalance(g *group, why string) {
	if g.state == CompletingRebalance {
		// Assignments of the generation being completed are void.
		for _, id := range g.order {
			m := g.members[id]
			m.assignment = nil
			if m.sync != nil {
				c.reply(m.sync, syncError(m.sync.req.(*kmsg.SyncGroupRequest), kerr.RebalanceInProgress.Code))
				m.sync = nil
			}
		}
	}
	for _, id := range g.order {
		g.members[id].pendingSync = false
	}
	g.syncDeadline = 0
	wasEmpty := g.state == Empty
	c.setState(g, PreparingRebalance)
	timeout := g.rebalanceTimeoutMs()
	g.joinDeadline = c.nowMs + timeout
	g.delayUntil, g.initial = 0, false
	if wasEmpty && c.cfg.InitialRebalanceDelayMs > 0 {
		g.delayUntil = c.nowMs + c.cfg.InitialRebalanceDelayMs
		g.delayLimit = c.nowMs + timeout
		g.initial = true
	}
	c.log.Debug("group rebalancing", "group", g.id, "generation", g.generation, "why", why)
}

func (c *Coordinator) maybeCompleteJoin(g *group) {
	if g.state != PreparingRebalance {
		return
	}
	if g.delayUntil > c.nowMs {
		return
	}
	if g.initial {
		// The delay is over: who joined during it forms the group, as in
		// Kafka's InitialDelayedJoin (member ids handed out but not yet
		// used do not hold it up).
		c.completeJoin(g)
		return
	}
	all := len(g.pendingIDs) == 0
	for _, id := range g.order {
		if g.members[id].join == nil {
			all = false
			break
		}
	}
	if !all && c.nowMs < g.joinDeadline {
		return
	}
	c.completeJoin(g)
}

func (c *Coordinator) completeJoin(g *group) {
	// Dynamic members that did not rejoin in time are gone; static ones
	// stay until their session ends.
	for _, id := range slices.Clone(g.order) {
		if m := g.members[id]; m.join == nil && m.instance == nil {
			g.removeMember(id)
		}
	}
	g.initial = false
	if len(g.members) > 0 {
		if !c.electJoinedLeader(g) {
			// Nobody rejoined (only static members that did not remain):
			// wait another rebalance timeout for them to rejoin or their
			// sessions to end, rather than start a generation nobody is
			// told about (Kafka postpones too).
			g.joinDeadline = c.nowMs + g.rebalanceTimeoutMs()
			c.log.Warn("group could not complete a rebalance: no member rejoined", "group", g.id)
			return
		}
	}
	g.generation++
	if len(g.members) == 0 {
		c.setState(g, Empty)
		g.protocol, g.leader = "", ""
		c.storeGroup(g, func(int16) {})
		c.log.Info("group is empty", "group", g.id, "generation", g.generation)
		return
	}
	g.protocol = g.selectProtocol()
	c.setState(g, CompletingRebalance)
	g.syncDeadline = c.nowMs + g.rebalanceTimeoutMs()
	c.log.Info("group rebalanced", "group", g.id, "generation", g.generation, "members", len(g.members), "protocol", g.protocol, "leader", g.leader)
	for _, id := range g.order {
		m := g.members[id]
		m.assignment = nil
		if m.join == nil {
			continue
		}
		m.deadline = c.nowMs + int64(m.sessionMs)
		m.pendingSync = true
		c.reply(m.join, c.joinResponse(g, m, m.join.req.(*kmsg.JoinGroupRequest), false))
		m.join = nil
	}
}

// electJoinedLeader keeps the leader if it rejoined, else makes the first
// member that rejoined the leader (a static leader that did not rejoin
// would never sync); false if nobody rejoined.
func (c *Coordinator) electJoinedLeader(g *group) bool {
	if m := g.members[g.leader]; m != nil && m.join != nil {
		return true
	}
	for _, id := range g.order {
		if g.members[id].join != nil {
			g.leader = id
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol every member supports that the most
// members prefer (Kafka's vote; ties go to the earliest in the first
// member's list).
func (g *group) selectProtocol() string {
	first := g.members[g.order[0]]
	var cands []string
	for _, p := range first.protocols {
		if g.allSupport(p.Name) {
			cands = append(cands, p.Name)
		}
	}
	votes := map[string]int{}
	for _, id := range g.order {
		for _, p := range g.members[id].protocols {
			if slices.Contains(cands, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, p := range cands {
		if best == "" || votes[p] > votes[best] {
			best = p
		}
	}
	return best
}

func (g *group) allSupport(protocol string) bool {
	for _, id := range g.order {
		if !g.members[id].supports(protocol) {
			return false
		}
	}
	return true
}

func (m *member) supports(protocol string) bool {
	return slices.ContainsFunc(m.protocols, func(p kmsg.JoinGroupRequestProtocol) bool { return p.Name == protocol })
}

// compatible reports whether a member with these protocols can join g.
func (g *group) compatible(protocolType string, protocols []kmsg.JoinGroupRequestProtocol, exclude string) bool {
	if len(g.members) == 0 || (len(g.members) == 1 && g.members[exclude] != nil) {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		ok := true
		for _, id := range g.order {
			if id != exclude && !g.members[id].supports(p.Name) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// groupRecord is the group's metadata record, as stored on a completed
// sync or when the group empties.
func (c *Coordinator) groupRecord(g *group) Record {
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.ProtocolType, v.Generation, v.CurrentStateTimestamp = g.protocolType, g.generation, g.since
	if g.protocol != "" {
		v.Protocol = new(g.protocol)
	}
	if g.leader != "" {
		v.Leader = new(g.leader)
	}
	for _, id := range g.order {
		m := g.members[id]
		v.Members = append(v.Members, kmsg.GroupMetadataValueMember{
			MemberID: m.id, InstanceID: m.instance, ClientID: m.clientID, ClientHost: m.clientHost,
			RebalanceTimeoutMillis: m.rebalanceMs, SessionTimeoutMillis: m.sessionMs,
			Subscription: m.metadata(g.protocol), Assignment: m.assignment,
		})
	}
	return Record{Key: groupKey(g.id), Value: v.AppendTo(nil)}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
