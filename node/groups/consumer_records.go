package groups

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// The records of KIP-848 consumer groups (the "consumer" protocol) and the
// state they build. Keys are Apache Kafka's (a big-endian int16 key
// version, then the group id and, for member records, the member id, each
// as an int16 length and bytes); values are sluice's own JSON objects
// (documented in doc.go), not Kafka's binary schemas.
const (
	keyConsumerGroupMetadata       = 3 // value: consumerGroupValue
	keyConsumerGroupPartitionMeta  = 4 // value: subscriptionValue
	keyConsumerGroupMemberMetadata = 5 // value: memberMetadataValue
	keyConsumerGroupTargetMeta     = 6 // value: targetMetaValue
	keyConsumerGroupTargetMember   = 7 // value: tpsValue
	keyConsumerGroupCurrentMember  = 8 // value: currentValue
)

// Member states of the reconciliation, with Kafka's byte values.
const (
	memberStable               int8 = 0
	memberUnreleasedPartitions int8 = 1
	memberUnrevokedPartitions  int8 = 2
)

// Member epochs with a meaning.
const (
	leaveEpoch       int32 = -1
	staticLeaveEpoch int32 = -2
)

// tps is a set of partitions by topic id, each list sorted and unique.
type tps map[[16]byte][]int32

func (a tps) clone() tps {
	out := tps{}
	for t, ps := range a { //lint:maporder-ok copying
		out[t] = slices.Clone(ps)
	}
	return out
}

func (a tps) has(t [16]byte, p int32) bool {
	_, ok := slices.BinarySearch(a[t], p)
	return ok
}

func (a tps) add(t [16]byte, p int32) {
	ps := a[t]
	if i, ok := slices.BinarySearch(ps, p); !ok {
		a[t] = slices.Insert(ps, i, p)
	}
}

func (a tps) remove(t [16]byte, p int32) {
	ps := a[t]
	if i, ok := slices.BinarySearch(ps, p); ok {
		ps = slices.Delete(ps, i, i+1)
		if len(ps) == 0 {
			delete(a, t)
		} else {
			a[t] = ps
		}
	}
}

func (a tps) count() int {
	n := 0
	for _, ps := range a { //lint:maporder-ok a sum
		n += len(ps)
	}
	return n
}

func (a tps) topics() [][16]byte {
	return slices.SortedFunc(maps.Keys(a), func(x, y [16]byte) int { return bytes.Compare(x[:], y[:]) })
}

func (a tps) equal(b tps) bool {
	if len(a) != len(b) {
		return false
	}
	for t, ps := range a { //lint:maporder-ok a comparison
		if !slices.Equal(ps, b[t]) {
			return false
		}
	}
	return true
}

// tpsJSON is a tps as stored: topic ids in hex, sorted.
type tpsJSON struct {
	TopicID    string  `json:"topicId"`
	Partitions []int32 `json:"partitions"`
}

func (a tps) MarshalJSON() ([]byte, error) {
	out := []tpsJSON{}
	for _, t := range a.topics() {
		out = append(out, tpsJSON{TopicID: hex.EncodeToString(t[:]), Partitions: a[t]})
	}
	return json.Marshal(out)
}

func (a *tps) UnmarshalJSON(b []byte) error {
	var in []tpsJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*a = tps{}
	for _, e := range in {
		var id [16]byte
		if raw, err := hex.DecodeString(e.TopicID); err != nil || len(raw) != 16 {
			return fmt.Errorf("groups: bad topic id %q", e.TopicID)
		} else {
			copy(id[:], raw)
		}
		ps := slices.Clone(e.Partitions)
		slices.Sort(ps)
		if ps = slices.Compact(ps); len(ps) > 0 {
			(*a)[id] = ps
		}
	}
	return nil
}

// topicMeta is one subscribed topic as the group last saw it (record 4).
type topicMeta struct {
	ID         [16]byte `json:"-"`
	IDHex      string   `json:"topicId"`
	Name       string   `json:"topicName"`
	Partitions int32    `json:"numPartitions"`
}

// cmember is one member of a consumer group: its metadata (record 5) and
// its current assignment (record 8).
type cmember struct {
	ID string `json:"-"`
	// Record 5.
	InstanceID         *string  `json:"instanceId,omitempty"`
	RackID             *string  `json:"rackId,omitempty"`
	ClientID           string   `json:"clientId"`
	ClientHost         string   `json:"clientHost"`
	SubscribedTopics   []string `json:"subscribedTopicNames"`
	SubscribedRegex    string   `json:"subscribedTopicRegex,omitempty"`
	ServerAssignor     string   `json:"serverAssignor,omitempty"`
	RebalanceTimeoutMs int32    `json:"rebalanceTimeoutMs"`
	// Record 8.
	Epoch             int32 `json:"-"`
	PrevEpoch         int32 `json:"-"`
	State             int8  `json:"-"`
	Assigned          tps   `json:"-"`
	PendingRevocation tps   `json:"-"`

	// Live only (the active coordinator): when the session ends, and
	// when a revocation must be done by (0: none).
	sessionDeadline   int64
	rebalanceDeadline int64
}

type currentValue struct {
	MemberEpoch                 int32 `json:"memberEpoch"`
	PreviousMemberEpoch         int32 `json:"previousMemberEpoch"`
	State                       int8  `json:"state"`
	AssignedPartitions          tps   `json:"assignedPartitions"`
	PartitionsPendingRevocation tps   `json:"partitionsPendingRevocation"`
}

func (m *cmember) clone() *cmember {
	c := *m
	c.SubscribedTopics = slices.Clone(m.SubscribedTopics)
	c.Assigned, c.PendingRevocation = m.Assigned.clone(), m.PendingRevocation.clone()
	if m.InstanceID != nil {
		c.InstanceID = new(*m.InstanceID)
	}
	if m.RackID != nil {
		c.RackID = new(*m.RackID)
	}
	return &c
}

// sameMetadata compares what record 5 stores.
func (m *cmember) sameMetadata(o *cmember) bool {
	a, _ := json.Marshal(m)
	b, _ := json.Marshal(o)
	return bytes.Equal(a, b)
}

func (m *cmember) sameCurrent(o *cmember) bool {
	return m.Epoch == o.Epoch && m.PrevEpoch == o.PrevEpoch && m.State == o.State &&
		m.Assigned.equal(o.Assigned) && m.PendingRevocation.equal(o.PendingRevocation)
}

// cgroup is one consumer group's state as its records build it.
type cgroup struct {
	Epoch           int32                // record 3
	Subscription    map[string]topicMeta // record 4, by topic name
	AssignmentEpoch int32                // record 6
	Target          map[string]tps       // record 7, by member id
	Members         map[string]*cmember  // records 5 and 8
}

func newCgroup() *cgroup {
	return &cgroup{Subscription: map[string]topicMeta{}, Target: map[string]tps{}, Members: map[string]*cmember{}}
}

func (cg *cgroup) clone() *cgroup {
	c := newCgroup()
	c.Epoch, c.AssignmentEpoch = cg.Epoch, cg.AssignmentEpoch
	maps.Copy(c.Subscription, cg.Subscription)
	for id, t := range cg.Target { //lint:maporder-ok copying
		c.Target[id] = t.clone()
	}
	for id, m := range cg.Members { //lint:maporder-ok copying
		c.Members[id] = m.clone()
	}
	return c
}

func (cg *cgroup) memberIDs() []string { return slices.Sorted(maps.Keys(cg.Members)) }

// staticMember returns the member holding instance id, or nil.
func (cg *cgroup) staticMember(instance string) *cmember {
	for _, id := range cg.memberIDs() {
		if m := cg.Members[id]; m.InstanceID != nil && *m.InstanceID == instance {
			return m
		}
	}
	return nil
}

// ownedBy reports the member that owns a partition (assigned or pending
// revocation), or "".
func (cg *cgroup) owners() map[[16]byte]map[int32]string {
	out := map[[16]byte]map[int32]string{}
	for _, id := range cg.memberIDs() {
		m := cg.Members[id]
		for _, set := range []tps{m.Assigned, m.PendingRevocation} {
			for t, ps := range set { //lint:maporder-ok filling a map
				if out[t] == nil {
					out[t] = map[int32]string{}
				}
				for _, p := range ps {
					if prev, ok := out[t][p]; ok && prev != id {
						panic(fmt.Sprintf("groups: partition %x/%d owned by both %s and %s: %s", t, p, prev, id, dumpMembers(cg.Members)))
					}
					out[t][p] = id
				}
			}
		}
	}
	return out
}

// Record keys.

func appendKeyString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func consumerKey(version uint16, group string, member ...string) []byte {
	b := binary.BigEndian.AppendUint16(nil, version)
	b = appendKeyString(b, group)
	for _, m := range member {
		b = appendKeyString(b, m)
	}
	return b
}

// parseConsumerKey decodes a key of versions 3–8: the group and, for
// member records, the member.
func parseConsumerKey(key []byte) (version uint16, group, member string, err error) {
	version = binary.BigEndian.Uint16(key)
	rest := key[2:]
	read := func() (string, bool) {
		if len(rest) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return "", false
		}
		s := string(rest[2 : 2+n])
		rest = rest[2+n:]
		return s, true
	}
	var ok bool
	if group, ok = read(); !ok {
		return 0, "", "", fmt.Errorf("groups: consumer group key v%d truncated", version)
	}
	switch version {
	case keyConsumerGroupMemberMetadata, keyConsumerGroupTargetMember, keyConsumerGroupCurrentMember:
		if member, ok = read(); !ok {
			return 0, "", "", fmt.Errorf("groups: consumer member key v%d truncated", version)
		}
	}
	return version, group, member, nil
}

// Record values.

type epochValue struct {
	Epoch int32 `json:"epoch"`
}

type subscriptionValue struct {
	Topics []topicMeta `json:"topics"`
}

type targetMetaValue struct {
	AssignmentEpoch int32 `json:"assignmentEpoch"`
}

type targetValue struct {
	TopicPartitions tps `json:"topicPartitions"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("groups: encoding %T: %v", v, err))
	}
	return b
}

func recGroupEpoch(group string, epoch int32) Record {
	return Record{Key: consumerKey(keyConsumerGroupMetadata, group), Value: mustJSON(epochValue{epoch})}
}

func recSubscription(group string, sub map[string]topicMeta) Record {
	v := subscriptionValue{Topics: []topicMeta{}}
	for _, name := range slices.Sorted(maps.Keys(sub)) {
		t := sub[name]
		t.IDHex = hex.EncodeToString(t.ID[:])
		v.Topics = append(v.Topics, t)
	}
	return Record{Key: consumerKey(keyConsumerGroupPartitionMeta, group), Value: mustJSON(v)}
}

func recMember(group string, m *cmember) Record {
	return Record{Key: consumerKey(keyConsumerGroupMemberMetadata, group, m.ID), Value: mustJSON(m)}
}

func recTargetMeta(group string, epoch int32) Record {
	return Record{Key: consumerKey(keyConsumerGroupTargetMeta, group), Value: mustJSON(targetMetaValue{epoch})}
}

func recTarget(group, member string, a tps) Record {
	return Record{Key: consumerKey(keyConsumerGroupTargetMember, group, member), Value: mustJSON(targetValue{a})}
}

func recCurrent(group string, m *cmember) Record {
	return Record{Key: consumerKey(keyConsumerGroupCurrentMember, group, m.ID), Value: mustJSON(currentValue{
		MemberEpoch: m.Epoch, PreviousMemberEpoch: m.PrevEpoch, State: m.State,
		AssignedPartitions: m.Assigned, PartitionsPendingRevocation: m.PendingRevocation})}
}

// recRemoveMember are the tombstones of a member, in Kafka's order.
func recRemoveMember(group, member string) []Record {
	return []Record{
		{Key: consumerKey(keyConsumerGroupCurrentMember, group, member)},
		{Key: consumerKey(keyConsumerGroupTargetMember, group, member)},
		{Key: consumerKey(keyConsumerGroupMemberMetadata, group, member)},
	}
}

// consumerTombstones delete a whole consumer group (its members first,
// the group epoch record last).
func consumerTombstones(group string, cg *cgroup) []Record {
	var recs []Record
	for _, id := range cg.memberIDs() {
		recs = append(recs, recRemoveMember(group, id)...)
	}
	for _, id := range slices.Sorted(maps.Keys(cg.Target)) {
		if cg.Members[id] == nil {
			recs = append(recs, Record{Key: consumerKey(keyConsumerGroupTargetMember, group, id)})
		}
	}
	return append(recs,
		Record{Key: consumerKey(keyConsumerGroupTargetMeta, group)},
		Record{Key: consumerKey(keyConsumerGroupPartitionMeta, group)},
		Record{Key: consumerKey(keyConsumerGroupMetadata, group)})
}

// replay applies one consumer group record to cg; deleted is set when
// the group's epoch record was tombstoned (the group is gone).
func (cg *cgroup) replay(version uint16, member string, value []byte) (deleted bool, err error) {
	getMember := func() *cmember {
		m := cg.Members[member]
		if m == nil {
			m = &cmember{ID: member, Assigned: tps{}, PendingRevocation: tps{}}
			cg.Members[member] = m
		}
		return m
	}
	switch version {
	case keyConsumerGroupMetadata:
		if value == nil {
			return true, nil
		}
		var v epochValue
		if err := json.Unmarshal(value, &v); err != nil {
			return false, err
		}
		cg.Epoch = v.Epoch
	case keyConsumerGroupPartitionMeta:
		clear(cg.Subscription)
		if value == nil {
			return false, nil
		}
		var v subscriptionValue
		if err := json.Unmarshal(value, &v); err != nil {
			return false, err
		}
		for _, t := range v.Topics {
			raw, err := hex.DecodeString(t.IDHex)
			if err != nil || len(raw) != 16 {
				return false, fmt.Errorf("groups: bad topic id %q", t.IDHex)
			}
			copy(t.ID[:], raw)
			cg.Subscription[t.Name] = t
		}
	case keyConsumerGroupMemberMetadata:
		if value == nil {
			delete(cg.Members, member)
			return false, nil
		}
		var v cmember
		if err := json.Unmarshal(value, &v); err != nil {
			return false, err
		}
		m := getMember()
		m.InstanceID, m.RackID, m.ClientID, m.ClientHost = v.InstanceID, v.RackID, v.ClientID, v.ClientHost
		m.SubscribedTopics, m.SubscribedRegex, m.ServerAssignor, m.RebalanceTimeoutMs = v.SubscribedTopics, v.SubscribedRegex, v.ServerAssignor, v.RebalanceTimeoutMs
	case keyConsumerGroupTargetMeta:
		if value == nil {
			cg.AssignmentEpoch = 0
			return false, nil
		}
		var v targetMetaValue
		if err := json.Unmarshal(value, &v); err != nil {
			return false, err
		}
		cg.AssignmentEpoch = v.AssignmentEpoch
	case keyConsumerGroupTargetMember:
		if value == nil {
			delete(cg.Target, member)
			return false, nil
		}
		var v targetValue
		if err := json.Unmarshal(value, &v); err != nil {
			return false, err
		}
		if v.TopicPartitions == nil {
			v.TopicPartitions = tps{}
		}
		cg.Target[member] = v.TopicPartitions
	case keyConsumerGroupCurrentMember:
		if value == nil {
			if m := cg.Members[member]; m != nil {
				m.Epoch, m.PrevEpoch, m.State, m.Assigned, m.PendingRevocation = leaveEpoch, leaveEpoch, memberStable, tps{}, tps{}
			}
			return false, nil
		}
		var v currentValue
		if err := json.Unmarshal(value, &v); err != nil {
			return false, err
		}
		m := getMember()
		m.Epoch, m.PrevEpoch, m.State = v.MemberEpoch, v.PreviousMemberEpoch, v.State
		m.Assigned, m.PendingRevocation = v.AssignedPartitions, v.PartitionsPendingRevocation
		if m.Assigned == nil {
			m.Assigned = tps{}
		}
		if m.PendingRevocation == nil {
			m.PendingRevocation = tps{}
		}
	}
	return false, nil
}

func dumpMembers(ms map[string]*cmember) string {
	s := ""
	for _, id := range slices.Sorted(maps.Keys(ms)) {
		m := ms[id]
		s += fmt.Sprintf("%s e%d/%d s%d a%v r%v; ", id, m.Epoch, m.PrevEpoch, m.State, m.Assigned, m.PendingRevocation)
	}
	return s
}
