package node

// Replicas that cannot be opened. A storage error while a replica opens —
// at broker start, or when the metadata assigns it one — must not drop the
// replica for good (DESIGN.md step 7: a stopped partition reopens once the
// disk is healthy). The replica is remembered and opened again every
// reopenTicks until it opens, its topic is deleted, or the metadata no
// longer assigns it here; meanwhile it counts as stopped (Unopened).

import (
	"slices"

	"sluice/transport"
)

// unopened is a replica waiting to be opened again.
type unopened struct {
	g       transport.GroupID
	topic   string
	voters  []uint64
	amnesic bool
	err     error
	at      int64 // tick of the last attempt
	off     int64 // metadata offset of the command that assigned it (-1: none)
}

// hostLater remembers a replica that failed to open.
func (n *Node) hostLater(g transport.GroupID, topic string, voters []uint64, amnesic bool, err error) {
	n.log.Error("cannot open a partition replica; retrying", "group", g, "topic", topic, "err", err)
	if i := n.unopenedAt(g); i >= 0 {
		n.unopened[i].err, n.unopened[i].at = err, n.ticks
		return
	}
	n.unopened = append(n.unopened, unopened{g: g, topic: topic, voters: slices.Clone(voters), amnesic: amnesic, err: err, at: n.ticks, off: n.cmdOff})
}

// unopenedAt is the index of g among the replicas waiting to be opened
// again, or -1.
func (n *Node) unopenedAt(g transport.GroupID) int {
	return slices.IndexFunc(n.unopened, func(u unopened) bool { return u.g == g })
}

// retryUnopened opens again the replicas that failed to, every reopenTicks.
// A replica opened again after a failure opens amnesic if it was to, and
// never campaigns first (its peers have moved on).
func (n *Node) retryUnopened() {
	keep := n.unopened[:0]
	for _, u := range n.unopened {
		t := n.topics.byName[u.topic]
		switch {
		case t == nil || t.id != u.g.TopicID || int(u.g.Partition) >= len(t.Replicas):
			continue // deleted
		case !slices.Contains(t.votersOf(u.g.Partition), n.self):
			continue // no longer assigned here
		case n.hosts[u.g] != nil:
			continue
		case n.ticks-u.at < reopenTicks:
			keep = append(keep, u)
			continue
		}
		n.cmdOff = u.off
		h, err := n.host(u.g, u.topic, t.votersOf(u.g.Partition), false, u.amnesic)
		n.cmdOff = -1
		if err != nil {
			u.err, u.at = err, n.ticks
			keep = append(keep, u)
			continue
		}
		if target, ok := t.Targets[u.g.Partition]; ok {
			h.p.SetAssignment(int32sToIDs(target))
		}
		n.log.Info("partition replica opened after a failure", "group", u.g, "topic", u.topic)
	}
	clear(n.unopened[len(keep):])
	n.unopened = keep
}

// Unopened lists the replicas assigned here that could not be opened,
// with the last error.
func (n *Node) Unopened() []PartitionInfo {
	var out []PartitionInfo
	for _, u := range n.unopened {
		out = append(out, PartitionInfo{Group: u.g, Topic: u.topic, Err: u.err})
	}
	return out
}
