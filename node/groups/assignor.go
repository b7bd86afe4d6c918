package groups

import (
	"bytes"
	"slices"
)

// Server-side assignors of consumer groups (KIP-848): "uniform", Kafka's
// default, and "range". Both are deterministic functions of their input:
// members are taken in member-id order, topics in name order.

// Assignor names, as clients ask for them (ServerAssignor).
const (
	AssignorUniform = "uniform"
	AssignorRange   = "range"
)

var assignors = []string{AssignorUniform, AssignorRange}

// assignMember is one member as an assignor sees it.
type assignMember struct {
	id     string
	topics [][16]byte // subscribed topics that exist
	prev   tps        // its current target assignment
}

// assignTopic is one subscribed topic.
type assignTopic struct {
	id         [16]byte
	name       string
	partitions int32
}

// assign runs the named assignor. members are sorted by id; topics by
// name. Every member gets an entry, maybe empty.
func assign(name string, members []assignMember, topics []assignTopic) map[string]tps {
	if name == AssignorRange {
		return assignRange(members, topics)
	}
	return assignUniform(members, topics)
}

func subscribes(m *assignMember, t [16]byte) bool {
	return slices.Contains(m.topics, t)
}

// assignUniform spreads every subscribed partition evenly over the
// members subscribing to it, moving as few as it can: members keep what
// they hold as long as the spread allows (Kafka's uniform assignor is
// sticky the same way). It keeps each member's valid partitions, hands
// the unassigned ones (topics with the fewest subscribers first) to the
// least loaded subscriber, then moves partitions from the most loaded
// members to the least loaded ones that subscribe to them until no two
// subscribers of a topic differ by more than one partition.
func assignUniform(members []assignMember, topics []assignTopic) map[string]tps {
	out := make(map[string]tps, len(members))
	load := make(map[string]int, len(members))
	owned := map[[16]byte]map[int32]bool{}
	count := map[[16]byte]int32{}
	for _, t := range topics {
		count[t.id] = t.partitions
		owned[t.id] = map[int32]bool{}
	}
	for i := range members {
		out[members[i].id] = tps{}
	}
	// 1. Stickiness: valid previous partitions stay.
	for i := range members {
		m := &members[i]
		for _, t := range m.prev.topics() {
			if !subscribes(m, t) {
				continue
			}
			for _, p := range m.prev[t] {
				if p < count[t] && !owned[t][p] {
					owned[t][p] = true
					out[m.id].add(t, p)
					load[m.id]++
				}
			}
		}
	}
	// 2. Unassigned partitions go to the least loaded subscriber, the
	// most constrained topics first.
	order := slices.Clone(topics)
	subs := func(t [16]byte) int {
		n := 0
		for i := range members {
			if subscribes(&members[i], t) {
				n++
			}
		}
		return n
	}
	slices.SortStableFunc(order, func(a, b assignTopic) int { return subs(a.id) - subs(b.id) })
	for _, t := range order {
		for p := range t.partitions {
			if owned[t.id][p] {
				continue
			}
			best := -1
			for i := range members {
				if subscribes(&members[i], t.id) && (best < 0 || load[members[i].id] < load[members[best].id]) {
					best = i
				}
			}
			if best < 0 {
				break // nobody subscribes
			}
			owned[t.id][p] = true
			out[members[best].id].add(t.id, p)
			load[members[best].id]++
		}
	}
	// 3. Balance: each move lowers the sum of squared loads, so this ends.
	for moved := true; moved; {
		moved = false
		heavy := slices.Clone(members)
		slices.SortStableFunc(heavy, func(a, b assignMember) int { return load[b.id] - load[a.id] })
		for i := range heavy {
			a := &heavy[i]
			ts := out[a.id].topics()
			for j := len(ts) - 1; j >= 0 && !moved; j-- {
				t := ts[j]
				ps := out[a.id][t]
				dst := -1
				for k := range members {
					b := &members[k]
					if b.id != a.id && subscribes(b, t) && load[b.id] <= load[a.id]-2 && (dst < 0 || load[b.id] < load[members[dst].id]) {
						dst = k
					}
				}
				if dst < 0 {
					continue
				}
				p := ps[len(ps)-1]
				out[a.id].remove(t, p)
				out[members[dst].id].add(t, p)
				load[a.id]--
				load[members[dst].id]++
				moved = true
			}
			if moved {
				break
			}
		}
	}
	return out
}

// assignRange gives each member, per topic, a contiguous range of the
// topic's partitions: the subscribers in member-id order, the first
// (partitions mod subscribers) of them one partition more. Members that
// subscribe to the same topics with the same partition counts get the
// same partition numbers of each (co-partitioning, as Kafka's range
// assignor). It is not sticky.
func assignRange(members []assignMember, topics []assignTopic) map[string]tps {
	out := make(map[string]tps, len(members))
	for i := range members {
		out[members[i].id] = tps{}
	}
	for _, t := range topics {
		var subs []string
		for i := range members {
			if subscribes(&members[i], t.id) {
				subs = append(subs, members[i].id)
			}
		}
		if len(subs) == 0 {
			continue
		}
		n := int(t.partitions)
		quota, extra := n/len(subs), n%len(subs)
		next := 0
		for i, id := range subs {
			k := quota
			if i < extra {
				k++
			}
			for p := next; p < next+k; p++ {
				out[id].add(t.id, int32(p))
			}
			next += k
		}
	}
	return out
}

func compareIDs(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) }
