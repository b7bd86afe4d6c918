package node

import "slices"

// Resign is the first half of a graceful shutdown (SIGTERM): it asks raft
// to hand the leadership of every group this broker leads — partitions,
// __consumer_offsets, the metadata group — to another voter, preferring
// one in the ISR (raft catches the target up, then tells it to campaign at
// once: no election timeout passes without a leader, as with a crash).
// From the first call on the broker stops starting campaigns of its own.
//
// A transfer takes a round trip or two, and raft drops one that does not
// finish within an election timeout, so the runtime calls Resign on every
// tick until it returns 0 or its deadline passes; each call retries the
// groups still led. It returns how many groups this broker still leads
// that have another voter to take over (a group of one replica cannot
// move, and is not counted).
func (n *Node) Resign() int {
	n.resigning = true
	left := 0
	for _, h := range n.list {
		if h == nil || h.gone || h.p.Err() != nil {
			continue
		}
		h.campaignAt = 0
		if lead, _ := h.p.Leader(); lead != n.self {
			continue
		}
		to := resignTarget(n.self, h.p.ISR(), h.p.ConfState().GetVoters())
		if to == 0 {
			continue
		}
		left++
		h.p.TransferLeadership(to)
		h.dirty = true
	}
	return left
}

// resignTarget picks the voter to hand leadership to: the first in-sync
// follower, else the first other voter; 0 when there is none.
func resignTarget(self uint64, isr, voters []uint64) uint64 {
	for _, id := range isr {
		if id != self && slices.Contains(voters, id) {
			return id
		}
	}
	for _, id := range voters {
		if id != self {
			return id
		}
	}
	return 0
}
