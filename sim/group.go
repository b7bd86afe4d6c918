package sim

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node"
)

// simGroup is the consumer group of the workload.
const simGroup = "sim-group"

// The group members' timing, in virtual time.
const (
	groupTickNs      = 20e6
	heartbeatEveryNs = 500e6
	commitEveryNs    = 200e6
	sessionMs        = 6000
	rebalanceMs      = 10000
	// offsetsPartitions is the simulated __consumer_offsets' partitions.
	offsetsPartitions = 3
)

type memberState uint8

const (
	joining memberState = iota
	fetchingOffsets
	consuming
)

// groupMember is a consumer in a group speaking Kafka's classic group
// protocol with kmsg requests, as a real client does: find the
// coordinator, join (with KIP-394's second join), sync (the leader assigns
// partitions round-robin), fetch the committed offsets of its partitions,
// then poll them, heartbeat, and commit what it has polled (at least
// once). It records its commits and the committed offsets it reads.
type groupMember struct {
	c        *client
	coord    int32 // -1: unknown
	memberID string
	gen      int32
	state    memberState
	busy     bool // a find/join/sync/offset fetch in flight
	assigned []int32
	hbBusy   bool
	cmBusy   bool
	nextHB   int64
	nextCM   int64
	next     int // the next assigned partition to poll
	// stallUntil: until then the member sends no heartbeat and no commit
	// but goes on polling (the member-stall fault): past the session
	// timeout the group moves on without it, and the coordinator must
	// fence what it commits when it wakes.
	stallUntil int64
}

func (w *World) newGroupMember() *groupMember {
	c := w.newClient(consumer)
	w.hist.Members = append(w.hist.Members, GroupMember{Process: c.id, Group: simGroup})
	m := &groupMember{c: c, coord: -1}
	c.refreshMetadata()
	var tick func()
	tick = func() {
		if w.stopped {
			return
		}
		m.tick()
		w.after(groupTickNs/2+w.uniform(0, groupTickNs), tick)
	}
	w.after(w.uniform(0, groupTickNs), tick)
	return m
}

func (m *groupMember) tick() {
	w := m.c.w
	if m.coord < 0 {
		if !m.busy {
			m.find()
		}
		return
	}
	switch m.state {
	case joining:
		if !m.busy {
			m.join()
		}
	case fetchingOffsets:
		if !m.busy {
			m.fetchOffsets()
		}
	case consuming:
		stalled := w.nowNs < m.stallUntil
		if w.nowNs >= m.nextHB && !m.hbBusy && !stalled {
			m.heartbeat()
		}
		if w.nowNs >= m.nextCM && !m.cmBusy && !stalled {
			m.commit()
		}
		if len(m.assigned) > 0 && !m.c.polling {
			m.c.generation = m.gen
			m.c.pollTick(m.assigned[m.next%len(m.assigned)], nil)
			m.next++
		}
	}
}

// lost handles an error: coordinator errors send the member to find the
// coordinator again; membership errors make it rejoin (a new member id
// when the old one is no longer known).
func (m *groupMember) lost(code int16) {
	switch code {
	case kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code, -1:
		m.coord = -1
	case kerr.UnknownMemberID.Code, kerr.FencedInstanceID.Code:
		m.memberID = ""
		m.rejoin()
	default: // REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION and the rest
		m.rejoin()
	}
}

func (m *groupMember) rejoin() {
	m.state, m.assigned = joining, nil
}

func (m *groupMember) find() {
	m.busy = true
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKey = 3, simGroup
	m.c.call(m.c.randomNode(), req, func(r kmsg.Response) {
		m.busy = false
		resp, _ := r.(*kmsg.FindCoordinatorResponse)
		if resp == nil || resp.ErrorCode != 0 || resp.NodeID < 1 {
			return
		}
		m.coord = resp.NodeID
	})
}

func (m *groupMember) join() {
	m.busy = true
	w := m.c.w
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.MemberID, req.ProtocolType = 9, simGroup, m.memberID, "consumer"
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = sessionMs, rebalanceMs
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = []string{w.topic}
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "roundrobin", Metadata: md.AppendTo(nil)}}
	m.c.call(m.coord, req, func(r kmsg.Response) {
		resp, _ := r.(*kmsg.JoinGroupResponse)
		if resp == nil {
			m.busy = false
			m.lost(-1)
			return
		}
		switch resp.ErrorCode {
		case 0:
		case kerr.MemberIDRequired.Code:
			m.busy, m.memberID = false, resp.MemberID
			return
		default:
			m.busy = false
			m.lost(resp.ErrorCode)
			return
		}
		m.memberID, m.gen = resp.MemberID, resp.Generation
		if m.coord < 0 {
			// A heartbeat or commit still in flight from the last
			// generation failed meanwhile and dropped the coordinator:
			// find it again, then join again (the sync had no broker to
			// go to; found by majority-power-loss seed 1600).
			m.busy = false
			m.rejoin()
			return
		}
		m.sync(resp)
	})
}

// assign is the leader's round-robin assignment over the members' ids.
func (m *groupMember) assign(resp *kmsg.JoinGroupResponse) []kmsg.SyncGroupRequestGroupAssignment {
	var ids []string
	for _, mem := range resp.Members {
		ids = append(ids, mem.MemberID)
	}
	slices.Sort(ids)
	parts := make([][]int32, len(ids))
	for p := range int32(m.c.w.cfg.Partitions) {
		parts[int(p)%len(ids)] = append(parts[int(p)%len(ids)], p)
	}
	var out []kmsg.SyncGroupRequestGroupAssignment
	for i, id := range ids {
		a := kmsg.NewConsumerMemberAssignment()
		a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: m.c.w.topic, Partitions: parts[i]}}
		out = append(out, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: a.AppendTo(nil)})
	}
	return out
}

func (m *groupMember) sync(jr *kmsg.JoinGroupResponse) {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version, req.Group, req.MemberID, req.Generation = 5, simGroup, m.memberID, m.gen
	req.ProtocolType, req.Protocol = jr.ProtocolType, jr.Protocol
	if jr.LeaderID == m.memberID && len(jr.Members) > 0 {
		req.GroupAssignment = m.assign(jr)
	}
	m.c.call(m.coord, req, func(r kmsg.Response) {
		m.busy = false
		resp, _ := r.(*kmsg.SyncGroupResponse)
		if resp == nil {
			m.lost(-1)
			m.rejoin()
			return
		}
		if resp.ErrorCode != 0 {
			m.lost(resp.ErrorCode)
			if m.coord < 0 {
				m.rejoin()
			}
			return
		}
		var a kmsg.ConsumerMemberAssignment
		m.assigned = nil
		if len(resp.MemberAssignment) > 0 {
			if err := a.ReadFrom(resp.MemberAssignment); err != nil {
				m.c.w.fail("group member %d: undecodable assignment: %v", m.c.id, err)
				return
			}
			for _, t := range a.Topics {
				if t.Topic == m.c.w.topic {
					m.assigned = append(m.assigned, t.Partitions...)
				}
			}
		}
		slices.Sort(m.assigned)
		m.state = fetchingOffsets
	})
}

// fetchOffsets reads the committed offsets of the assigned partitions and
// positions the member there (the log start when none is committed).
func (m *groupMember) fetchOffsets() {
	w := m.c.w
	m.busy = true
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	g := kmsg.OffsetFetchRequestGroup{Group: simGroup, MemberEpoch: -1}
	g.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: w.topic, Partitions: slices.Clone(m.assigned)}}
	req.Groups = []kmsg.OffsetFetchRequestGroup{g}
	invoke, gen := w.nowNs, m.gen
	m.c.call(m.coord, req, func(r kmsg.Response) {
		m.busy = false
		term := m.c.respTerm
		resp, _ := r.(*kmsg.OffsetFetchResponse)
		if resp == nil || len(resp.Groups) != 1 {
			m.lost(-1)
			return
		}
		rg := resp.Groups[0]
		if rg.ErrorCode != 0 {
			m.lost(rg.ErrorCode)
			return
		}
		if m.state != fetchingOffsets || m.gen != gen {
			return
		}
		for _, t := range rg.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 || p.Partition < 0 || int(p.Partition) >= w.cfg.Partitions {
					m.lost(p.ErrorCode)
					return
				}
				w.hist.OffsetReads = append(w.hist.OffsetReads, OffsetRead{Group: simGroup, Process: m.c.id,
					Partition: p.Partition, Offset: p.Offset, Invoke: invoke, Complete: w.nowNs, Term: term})
				m.c.pos[p.Partition], m.c.seek[p.Partition] = max(p.Offset, 0), true
			}
		}
		m.state = consuming
		m.nextHB, m.nextCM = w.nowNs+heartbeatEveryNs, w.nowNs+commitEveryNs
	})
}

func (m *groupMember) heartbeat() {
	w := m.c.w
	m.hbBusy = true
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version, req.Group, req.MemberID, req.Generation = 4, simGroup, m.memberID, m.gen
	gen := m.gen
	m.c.call(m.coord, req, func(r kmsg.Response) {
		m.hbBusy = false
		m.nextHB = w.nowNs + heartbeatEveryNs
		resp, _ := r.(*kmsg.HeartbeatResponse)
		if m.state != consuming || m.gen != gen {
			return
		}
		switch {
		case resp == nil:
			m.lost(-1)
		case resp.ErrorCode != 0:
			m.lost(resp.ErrorCode)
		}
	})
}

// commit commits the member's position in every assigned partition: what
// it has polled (at least once: a record is committed after it was read).
func (m *groupMember) commit() {
	w := m.c.w
	m.cmBusy = true
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.MemberID, req.Generation = 9, simGroup, m.memberID, m.gen
	t := kmsg.OffsetCommitRequestTopic{Topic: w.topic}
	first := len(w.hist.Commits)
	for _, p := range m.assigned {
		t.Partitions = append(t.Partitions, kmsg.OffsetCommitRequestTopicPartition{Partition: p, Offset: m.c.pos[p], LeaderEpoch: -1})
		w.hist.Commits = append(w.hist.Commits, Commit{Group: simGroup, Process: m.c.id, Partition: p, Offset: m.c.pos[p],
			Invoke: w.nowNs, Complete: -1, Outcome: Unknown, Generation: m.gen})
	}
	req.Topics = []kmsg.OffsetCommitRequestTopic{t}
	gen := m.gen
	m.c.call(m.coord, req, func(r kmsg.Response) {
		m.cmBusy = false
		m.nextCM = w.nowNs + commitEveryNs
		term := m.c.respTerm
		resp, _ := r.(*kmsg.OffsetCommitResponse)
		if resp == nil {
			for i := first; i < first+len(t.Partitions); i++ {
				w.hist.Commits[i].Complete = w.nowNs
			}
			if m.gen == gen {
				m.lost(-1)
			}
			return
		}
		var code int16
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				i := first + slices.IndexFunc(t.Partitions, func(x kmsg.OffsetCommitRequestTopicPartition) bool { return x.Partition == rp.Partition })
				if i < first {
					w.fail("group member %d: commit answered for partition %d, not asked", m.c.id, rp.Partition)
					continue
				}
				c := &w.hist.Commits[i]
				c.Complete, c.Term = w.nowNs, term
				switch rp.ErrorCode {
				case 0:
					c.Outcome = OK
				case kerr.IllegalGeneration.Code, kerr.UnknownMemberID.Code, kerr.RebalanceInProgress.Code, kerr.FencedInstanceID.Code:
					c.Outcome = Fail // refused before anything was stored
				} // any other error: perhaps stored, perhaps not (Unknown)
				if rp.ErrorCode != 0 && code == 0 {
					code = rp.ErrorCode
				}
			}
		}
		if code != 0 && m.gen == gen && m.state == consuming {
			m.lost(code)
		}
	})
}

// groupSettled reports whether the group has committed, with an
// acknowledged commit, at least want[p] in every partition.
func (w *World) groupSettled(want []int64) bool {
	got := make([]int64, len(want))
	for _, c := range w.hist.Commits {
		if c.Outcome == OK && c.Offset > got[c.Partition] {
			got[c.Partition] = c.Offset
		}
	}
	for p := range want {
		if got[p] < want[p] {
			return false
		}
	}
	return true
}

// offsetsTerm is broker sn's raft term in the group's __consumer_offsets
// partition (0 if it hosts none).
func (w *World) offsetsTerm(sn *simNode) uint64 {
	if sn.n == nil {
		return 0
	}
	p := node.OffsetsPartition(simGroup, offsetsPartitions)
	for _, pi := range sn.n.Partitions() {
		if pi.Topic == node.OffsetsTopic && pi.Group.Partition == p {
			return pi.Term
		}
	}
	return 0
}

// auditor reads the group's committed offsets every auditEveryNs, as an
// operator's lag monitor would: many reads, right after commits and
// coordinator moves, which is what lets the checker see a committed offset
// go backwards.
type auditor struct {
	c     *client
	coord int32
	busy  bool
}

const auditEveryNs = 50e6

func (w *World) newAuditor() {
	a := &auditor{c: w.newClient(consumer), coord: -1}
	var tick func()
	tick = func() {
		if w.stopped {
			return
		}
		if !a.busy {
			a.read()
		}
		w.after(auditEveryNs/2+w.uniform(0, auditEveryNs), tick)
	}
	w.after(w.uniform(0, auditEveryNs), tick)
}

func (a *auditor) read() {
	w := a.c.w
	a.busy = true
	if a.coord < 0 {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version, req.CoordinatorKey = 3, simGroup
		a.c.call(a.c.randomNode(), req, func(r kmsg.Response) {
			a.busy = false
			if resp, _ := r.(*kmsg.FindCoordinatorResponse); resp != nil && resp.ErrorCode == 0 && resp.NodeID > 0 {
				a.coord = resp.NodeID
			}
		})
		return
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: simGroup, MemberEpoch: -1}} // all topics
	invoke := w.nowNs
	a.c.call(a.coord, req, func(r kmsg.Response) {
		a.busy = false
		term := a.c.respTerm
		resp, _ := r.(*kmsg.OffsetFetchResponse)
		if resp == nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
			a.coord = -1
			return
		}
		for _, t := range resp.Groups[0].Topics {
			for _, p := range t.Partitions {
				if t.Topic != w.topic || p.ErrorCode != 0 {
					continue
				}
				w.hist.OffsetReads = append(w.hist.OffsetReads, OffsetRead{Group: simGroup, Process: a.c.id,
					Partition: p.Partition, Offset: p.Offset, Invoke: invoke, Complete: w.nowNs, Term: term})
			}
		}
	})
}
