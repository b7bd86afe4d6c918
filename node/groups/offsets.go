package groups

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Committed offsets, the records that store them and the group metadata,
// and the requests that read and delete them.

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version, k.Group, k.Topic, k.Partition = 1, group, topic, partition
	return k.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version, k.Group = 2, group
	return k.AppendTo(nil)
}

// offsetValue encodes a commit as Kafka does: version 3, or version 1
// when it carries an expire timestamp (only v1 has the field).
func offsetValue(o Committed) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version, v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = 3, o.Offset, o.LeaderEpoch, o.Metadata, o.CommitTimestamp
	if o.ExpireTimestamp != 0 {
		v.Version, v.ExpireTimestamp = 1, o.ExpireTimestamp
	}
	return v.AppendTo(nil)
}

// Apply applies one committed record of the partition, on every replica.
// Records of other kinds (Kafka's transaction markers, future versions)
// are skipped; an undecodable one is an error the caller logs.
func (c *Coordinator) Apply(key, value []byte) error {
	if len(key) < 2 {
		return fmt.Errorf("groups: record key of %d bytes", len(key))
	}
	switch binary.BigEndian.Uint16(key) {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("groups: offset key: %w", err)
		}
		if value == nil {
			c.dropOffset(k.Group, k.Topic, k.Partition)
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("groups: offset value of group %q: %w", k.Group, err)
		}
		g := c.groups[k.Group]
		if g == nil {
			g = &group{id: k.Group}
			c.groups[k.Group] = g
		}
		if g.offsets == nil {
			g.offsets = map[string]map[int32]Committed{}
		}
		ps := g.offsets[k.Topic]
		if ps == nil {
			ps = map[int32]Committed{}
			g.offsets[k.Topic] = ps
		}
		epoch := v.LeaderEpoch
		if v.Version < 3 {
			epoch = -1
		}
		o := Committed{Offset: v.Offset, LeaderEpoch: epoch, Metadata: v.Metadata, CommitTimestamp: v.CommitTimestamp}
		if v.Version == 1 {
			o.ExpireTimestamp = v.ExpireTimestamp
		}
		ps[k.Partition] = o
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("groups: group key: %w", err)
		}
		g := c.groups[k.Group]
		if value == nil {
			if g != nil {
				g.stored = nil
				c.maybeForget(g, true)
			}
			return nil
		}
		v := new(kmsg.GroupMetadataValue)
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("groups: group value of %q: %w", k.Group, err)
		}
		if g == nil {
			g = &group{id: k.Group}
			c.groups[k.Group] = g
		}
		g.stored = v
	case keyConsumerGroupMetadata, keyConsumerGroupPartitionMeta, keyConsumerGroupMemberMetadata,
		keyConsumerGroupTargetMeta, keyConsumerGroupTargetMember, keyConsumerGroupCurrentMember:
		return c.applyConsumer(key, value)
	}
	return nil
}

// DeleteTopicOffsets deletes every group's committed offsets of a topic
// that was just deleted, as Kafka does when a topic goes: a topic created
// again under the name must not inherit them. The caller calls it on every
// replica when the deletion is applied. The active coordinator stores
// tombstones at once (commits of the topic still being stored included: a
// tombstone is ordered after them); an inactive replica that holds
// offsets of the topic notes it, and stores the tombstones if it becomes
// the coordinator while the name is still unknown (the coordinator at the
// deletion may have failed before storing them).
func (c *Coordinator) DeleteTopicOffsets(topic string) {
	if !c.active {
		if !c.holdsTopic(topic) {
			return
		}
		if c.deletedTopics == nil {
			c.deletedTopics = map[string]bool{}
		}
		if len(c.deletedTopics) >= maxDeletedTopics {
			forget := slices.Min(slices.Collect(maps.Keys(c.deletedTopics))) //lint:maporder-ok the minimum is the same in any order
			delete(c.deletedTopics, forget)
			c.log.Warn("too many deleted topics noted; forgetting one", "topic", forget)
		}
		c.deletedTopics[topic] = true
		return
	}
	c.tombstoneTopics([]string{topic})
}

// holdsTopic reports whether some group has an offset of topic, stored or
// being stored.
func (c *Coordinator) holdsTopic(topic string) bool {
	for _, g := range c.groups { //lint:maporder-ok an existence test
		if len(g.offsets[topic]) > 0 || len(g.inflight[topic]) > 0 {
			return true
		}
	}
	return false
}

// tombstoneTopics stores tombstones for every group's offsets of topics.
func (c *Coordinator) tombstoneTopics(topics []string) {
	var recs []Record
	for _, g := range c.sortedGroups() {
		for _, t := range topics {
			ps := slices.Collect(maps.Keys(g.offsets[t])) //lint:maporder-ok sorted below
			for p := range g.inflight[t] {                //lint:maporder-ok sorted below
				if _, ok := g.offsets[t][p]; !ok {
					ps = append(ps, p)
				}
			}
			slices.Sort(ps)
			for _, p := range ps {
				recs = append(recs, Record{Key: offsetKey(g.id, t, p)})
			}
		}
	}
	if len(recs) == 0 {
		return
	}
	c.log.Info("offsets of deleted topics deleted", "topics", topics, "partitions", len(recs))
	c.store(recs, func(code int16) {
		if code != 0 {
			c.log.Warn("storing the deletion of deleted topics' offsets failed; they expire with offsets.retention.minutes", "topics", topics, "code", code)
		}
	})
}

func (c *Coordinator) dropOffset(group, topic string, partition int32) {
	g := c.groups[group]
	if g == nil {
		return
	}
	delete(g.offsets[topic], partition)
	if len(g.offsets[topic]) == 0 {
		delete(g.offsets, topic)
	}
	c.maybeForget(g, false)
}

// maybeForget drops a group that holds nothing any more: no offsets, no
// stored metadata, no members, no member id handed out, nothing being
// stored. A live group that ever had a generation goes only through a
// tombstone (tombstoned: its own was just applied): dropped silently,
// its generation would start again from zero while a record of a higher
// one may still be committed behind it.
func (c *Coordinator) maybeForget(g *group, tombstoned bool) {
	if len(g.offsets) > 0 || g.stored != nil || len(g.inflight) > 0 || g.storesInflight > 0 || g.cg != nil {
		return
	}
	switch {
	case !g.live || g.state == Dead:
	case g.state == Empty && len(g.members) == 0 && len(g.pendingIDs) == 0 && (g.generation == 0 || tombstoned):
	default:
		return
	}
	delete(c.groups, g.id)
}

func (g *group) inflightAdd(topic string, partition int32, n int) {
	if g.inflight == nil {
		g.inflight = map[string]map[int32]int{}
	}
	ps := g.inflight[topic]
	if ps == nil {
		ps = map[int32]int{}
		g.inflight[topic] = ps
	}
	if ps[partition] += n; ps[partition] <= 0 {
		delete(ps, partition)
		if len(ps) == 0 {
			delete(g.inflight, topic)
		}
	}
}

func (g *group) hasOffset(topic string, partition int32) bool {
	_, ok := g.offsets[topic][partition]
	return ok || g.inflight[topic][partition] > 0
}

// Offset returns a group's committed offset of one partition.
func (c *Coordinator) Offset(group, topic string, partition int32) (Committed, bool) {
	g := c.groups[group]
	if g == nil {
		return Committed{}, false
	}
	o, ok := g.offsets[topic][partition]
	return o, ok
}

// TopicOffsets is a topic's committed offsets, by partition.
type TopicOffsets struct {
	Topic      string
	Partitions []int32
	Offsets    []Committed
}

// Offsets lists all of a group's committed offsets, by topic name and
// partition.
func (c *Coordinator) Offsets(group string) []TopicOffsets {
	g := c.groups[group]
	if g == nil {
		return nil
	}
	var out []TopicOffsets
	for _, t := range slices.Sorted(maps.Keys(g.offsets)) {
		to := TopicOffsets{Topic: t}
		for _, p := range slices.Sorted(maps.Keys(g.offsets[t])) {
			to.Partitions = append(to.Partitions, p)
			to.Offsets = append(to.Offsets, g.offsets[t][p])
		}
		out = append(out, to)
	}
	return out
}

func (c *Coordinator) commit(cl *call, req *kmsg.OffsetCommitRequest) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	var parts []*kmsg.OffsetCommitResponseTopicPartition
	for _, t := range req.Topics {
		rt := kmsg.OffsetCommitResponseTopic{Topic: t.Topic, TopicID: t.TopicID}
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			parts = append(parts, &resp.Topics[i].Partitions[j])
		}
	}
	setAll := func(code int16) {
		for _, p := range parts {
			if p.ErrorCode == 0 {
				p.ErrorCode = code
			}
		}
	}
	generation, memberID := req.Generation, req.MemberID
	if req.Version < 1 {
		generation = -1
	}
	instance := req.InstanceID
	if req.Version < 7 {
		instance = nil
	}
	g := c.groups[req.Group]
	code := int16(0)
	switch {
	case c.cons(g) != nil:
		code = validateConsumerCommit(c.cons(g), memberID, generation, req.Version)
	case req.Group == "":
		code = kerr.InvalidGroupID.Code
	case g == nil || (!g.live && !g.known()):
		switch {
		case generation < 0:
			g = c.group(req.Group, true) // a simple group: it does not use the coordinator's membership
		case req.Version >= 9:
			code = kerr.GroupIDNotFound.Code
		default:
			code = kerr.IllegalGeneration.Code
		}
	default:
		g = c.group(req.Group, true) // a group with only offsets is an empty one
		code = c.validateCommit(g, memberID, instance, generation)
	}
	if code != 0 {
		setAll(code)
		c.reply(cl, resp)
		return
	}
	var recs []Record
	var stored []*kmsg.OffsetCommitResponseTopicPartition
	k := 0
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			rp := parts[k]
			k++
			if rp.ErrorCode != 0 {
				continue
			}
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			if len(md) > c.cfg.MaxMetadataBytes {
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			epoch := p.LeaderEpoch
			if req.Version < 6 {
				epoch = -1
			}
			o := Committed{Offset: p.Offset, LeaderEpoch: epoch, Metadata: md, CommitTimestamp: c.nowMs}
			if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
				// The retention time of v2–v4 overrides
				// offsets.retention.minutes for this offset, as in Kafka.
				o.ExpireTimestamp = c.nowMs + req.RetentionTimeMillis
			}
			recs = append(recs, Record{Key: offsetKey(req.Group, t.Topic, p.Partition), Value: offsetValue(o)})
			stored = append(stored, rp)
		}
	}
	if len(recs) == 0 {
		c.reply(cl, resp)
		return
	}
	if Planted("commit-before-store") {
		c.reply(cl, resp)
		c.store(recs, func(int16) {})
		return
	}
	g.inflightMany(req, 1)
	c.store(recs, func(code int16) {
		g.inflightMany(req, -1)
		code = storeError(code, true)
		for _, p := range stored {
			p.ErrorCode = code
		}
		c.reply(cl, resp)
	})
}

// inflightMany counts the partitions of a commit in or out of inflight.
func (g *group) inflightMany(req *kmsg.OffsetCommitRequest, n int) {
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			g.inflightAdd(t.Topic, p.Partition, n)
		}
	}
}

// validateCommit checks an offset commit against a live group, in
// Kafka's order (ClassicGroup.validateOffsetCommit): the member and its
// generation first, then the state.
func (c *Coordinator) validateCommit(g *group, memberID string, instance *string, generation int32) int16 {
	switch {
	case g.state == Dead:
		return kerr.CoordinatorNotAvailable.Code
	case generation < 0 && g.state == Empty:
		return 0 // a simple or admin commit
	case generation >= 0 || memberID != "" || instance != nil:
		m, code := c.check(g, memberID, instance, generation)
		if code != 0 {
			if Planted("fenced-commit") {
				return 0
			}
			return code
		}
		m.deadline = c.nowMs + int64(m.sessionMs)
	default:
		return kerr.UnknownMemberID.Code // no member: only an empty group takes it
	}
	if g.state == CompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// known reports whether the group exists: it has members, stored
// metadata or committed offsets.
func (g *group) known() bool {
	if g != nil && g.cg != nil && (g.cg.live != nil || g.cg.stored != nil) {
		return true
	}
	return g != nil && g.state != Dead && (g.stored != nil || len(g.offsets) > 0 || (g.live && len(g.members) > 0))
}

func (c *Coordinator) deleteGroups(cl *call, req *kmsg.DeleteGroupsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	var recs []Record
	var waiting []int
	for _, id := range req.Groups {
		rg := kmsg.DeleteGroupsResponseGroup{Group: id}
		g := c.groups[id]
		switch {
		case id == "":
			rg.ErrorCode = kerr.InvalidGroupID.Code
		case !g.known():
			rg.ErrorCode = kerr.GroupIDNotFound.Code
		case g.live && g.state != Empty:
			rg.ErrorCode = kerr.NonEmptyGroup.Code
		case c.cons(g) != nil && (len(c.cons(g).Members) > 0 || g.cg.storing):
			rg.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			if cg := c.cons(g); cg != nil {
				recs = append(recs, consumerTombstones(id, cg)...)
				g.cg.live = nil // its tombstones, once applied, drop the stored state
			}
			recs = append(recs, c.tombstones(g)...)
			c.setState(c.group(id, true), Dead)
			waiting = append(waiting, len(resp.Groups))
			c.log.Info("group deleted", "group", id)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	if len(recs) == 0 {
		c.reply(cl, resp)
		return
	}
	c.store(recs, func(code int16) {
		code = storeError(code, false)
		for _, i := range waiting {
			resp.Groups[i].ErrorCode = code
			if g := c.groups[resp.Groups[i].Group]; g != nil && g.live && g.state == Dead {
				if code != 0 {
					c.setState(g, Empty) // not deleted: usable again
				} else {
					g.live = false
					c.maybeForget(g, true)
				}
			}
		}
		c.reply(cl, resp)
	})
}

// tombstones deletes all of a group: its metadata and every offset,
// those being committed too.
func (c *Coordinator) tombstones(g *group) []Record {
	var recs []Record
	for _, t := range slices.Sorted(maps.Keys(g.offsets)) {
		for _, p := range slices.Sorted(maps.Keys(g.offsets[t])) {
			recs = append(recs, Record{Key: offsetKey(g.id, t, p)})
		}
	}
	for _, t := range slices.Sorted(maps.Keys(g.inflight)) {
		for _, p := range slices.Sorted(maps.Keys(g.inflight[t])) {
			if _, ok := g.offsets[t][p]; !ok {
				recs = append(recs, Record{Key: offsetKey(g.id, t, p)})
			}
		}
	}
	return append(recs, Record{Key: groupKey(g.id)})
}

// subscribed lists the topics the members of a stable consumer group
// subscribe to (ok is false when the protocol is not "consumer").
func (g *group) subscribed() (topics []string, ok bool) {
	if g.protocolType != "consumer" {
		return nil, false
	}
	for _, id := range g.order {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(g.members[id].metadata(g.protocol)); err != nil {
			continue
		}
		for _, t := range md.Topics {
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
	}
	return topics, true
}

func (c *Coordinator) offsetDelete(cl *call, req *kmsg.OffsetDeleteRequest) {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	g := c.groups[req.Group]
	if !g.known() {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		c.reply(cl, resp)
		return
	}
	var subs []string
	if cg := c.cons(g); cg != nil {
		for _, id := range cg.memberIDs() {
			subs = append(subs, c.subscribedNames(cg.Members[id])...)
		}
	} else if g.live && g.state != Empty {
		var ok bool
		if subs, ok = g.subscribed(); !ok {
			resp.ErrorCode = kerr.NonEmptyGroup.Code
			c.reply(cl, resp)
			return
		}
	}
	var recs []Record
	for _, t := range req.Topics {
		rt := kmsg.OffsetDeleteResponseTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			rp := kmsg.OffsetDeleteResponseTopicPartition{Partition: p.Partition}
			if slices.Contains(subs, t.Topic) {
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else if g.hasOffset(t.Topic, p.Partition) {
				recs = append(recs, Record{Key: offsetKey(g.id, t.Topic, p.Partition)})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(recs) == 0 {
		c.reply(cl, resp)
		return
	}
	c.store(recs, func(code int16) {
		if code != 0 {
			resp.ErrorCode = storeError(code, true)
		}
		c.reply(cl, resp)
	})
}

// expireOffsets removes offsets past offsets.retention.minutes (KIP-211):
// all of an empty group's once it has been empty that long; a simple
// group's (no membership) each by its commit time; a stable consumer
// group's only for topics no member subscribes to. A group left with
// nothing is deleted.
func (c *Coordinator) expireOffsets() {
	var recs []Record
	for _, g := range c.sortedGroups() {
		if g.live && g.state != Empty && g.state != Stable {
			continue
		}
		if g.cg != nil {
			// Consumer groups: only an empty one's offsets expire, each
			// by its commit time; the group itself stays.
			if cg := c.cons(g); cg != nil && len(cg.Members) > 0 {
				continue
			}
		}
		var subs []string
		if g.live && g.state == Stable {
			var ok bool
			if subs, ok = g.subscribed(); !ok {
				continue
			}
		}
		emptySince := int64(-1)
		if g.live && g.state == Empty && g.stored != nil {
			emptySince = g.since
		}
		n := 0
		for _, t := range slices.Sorted(maps.Keys(g.offsets)) {
			if slices.Contains(subs, t) {
				continue
			}
			for _, p := range slices.Sorted(maps.Keys(g.offsets[t])) {
				if g.inflight[t][p] > 0 {
					continue // a commit being stored: its tombstone would follow it
				}
				o := g.offsets[t][p]
				base := o.CommitTimestamp
				if emptySince >= 0 {
					base = emptySince
				}
				expired := c.nowMs-base >= c.cfg.OffsetsRetentionMs
				if o.ExpireTimestamp != 0 {
					expired = c.nowMs >= o.ExpireTimestamp // the commit's own retention time
				}
				if expired {
					recs = append(recs, Record{Key: offsetKey(g.id, t, p)})
					n++
				}
			}
		}
		if n > 0 {
			c.log.Info("offsets expired", "group", g.id, "partitions", n)
		}
		if g.cg == nil && n == len(g.allOffsets()) && len(g.inflight) == 0 && (!g.live || (g.state == Empty && len(g.members) == 0)) && (n > 0 || g.stored != nil || g.generation > 0) {
			if g.stored != nil || g.generation > 0 {
				recs = append(recs, Record{Key: groupKey(g.id)})
			}
			c.log.Info("group expired", "group", g.id)
		}
	}
	if len(recs) > 0 {
		c.store(recs, func(int16) {})
	}
}

func (g *group) allOffsets() []Committed {
	var out []Committed
	for _, t := range slices.Sorted(maps.Keys(g.offsets)) {
		for _, p := range slices.Sorted(maps.Keys(g.offsets[t])) {
			out = append(out, g.offsets[t][p])
		}
	}
	return out
}

// Describe answers DescribeGroups for one group; found is false for a
// group this coordinator does not know.
func (c *Coordinator) Describe(id string) (d kmsg.DescribeGroupsResponseGroup, found bool) {
	d = kmsg.NewDescribeGroupsResponseGroup()
	d.Group, d.State = id, Dead
	g := c.groups[id]
	if cg := c.cons(g); cg != nil {
		return c.describeConsumer(g, cg), true
	}
	if !g.known() && !(g != nil && g.live && g.state != Dead && g.state != Empty) {
		return d, false
	}
	if !g.live {
		d.State = Empty
		if g.stored != nil {
			d.ProtocolType = g.stored.ProtocolType
		}
		return d, true
	}
	d.State, d.ProtocolType = g.state, g.protocolType
	if g.state == Stable {
		d.Protocol = g.protocol
	}
	for _, mid := range g.order {
		m := g.members[mid]
		dm := kmsg.DescribeGroupsResponseGroupMember{MemberID: m.id, InstanceID: m.instance, ClientID: m.clientID, ClientHost: m.clientHost}
		if g.state == Stable {
			dm.ProtocolMetadata, dm.MemberAssignment = m.metadata(g.protocol), m.assignment
		}
		d.Members = append(d.Members, dm)
	}
	return d, true
}

// GroupSummary is one group of ListGroups; Type is "classic" or
// "consumer" (KIP-848).
type GroupSummary struct {
	Group, ProtocolType, State, Type string
}

// List lists this coordinator's groups.
func (c *Coordinator) List() []GroupSummary {
	var out []GroupSummary
	for _, g := range c.sortedGroups() {
		d, ok := c.Describe(g.id)
		if !ok || d.State == Dead {
			continue
		}
		typ := "classic"
		if c.cons(g) != nil {
			typ = "consumer"
		}
		out = append(out, GroupSummary{Group: g.id, ProtocolType: d.ProtocolType, State: d.State, Type: typ})
	}
	return out
}

// GroupNames lists every group with committed offsets or stored metadata,
// on any replica (for metrics and tools).
func (c *Coordinator) GroupNames() []string {
	var out []string
	for _, g := range c.sortedGroups() {
		if g.known() {
			out = append(out, g.id)
		}
	}
	return out
}
