package node

// Preferred leaders (Kafka's auto.leader.rebalance.enable). Placement
// spreads the first replica of each partition — its preferred leader —
// across brokers, and the preferred replica campaigns first, so a new
// topic's leadership is balanced. Failures move leadership; once the
// preferred replica is back and in sync, its leader hands leadership back
// (a raft leader transfer: no election timeout, no lost write), checked
// every LeaderBalanceTicks. A broker shutting down (Resign) never takes
// leadership back, and a partition being reassigned is left alone.

import "slices"

// balanceLeaders hands every partition this broker leads back to its
// preferred replica when that replica is in sync.
func (n *Node) balanceLeaders() {
	if n.resigning || n.cfg.LeaderBalanceTicks <= 0 || n.ticks%n.cfg.LeaderBalanceTicks != 0 {
		return
	}
	for _, h := range n.list {
		if h == nil || h.gone || h.meta || h.leader != n.self || h.p.Err() != nil {
			continue
		}
		t := n.topics.byName[h.topic]
		if t == nil || int(h.g.Partition) >= len(t.Replicas) {
			continue
		}
		if _, moving := t.Targets[h.g.Partition]; moving {
			continue
		}
		preferred := uint64(t.Replicas[h.g.Partition][0])
		if preferred == n.self || !slices.Contains(h.isr, preferred) {
			continue
		}
		n.log.Info("handing leadership back to the preferred replica", "group", h.g, "topic", h.topic, "to", preferred)
		h.p.TransferLeadership(preferred)
		h.dirty = true
	}
}
