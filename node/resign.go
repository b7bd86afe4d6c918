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
//
// A group whose leadership comes back is handed to another voter next (the
// one it went to is stopping too); once every other voter has handed it
// back, or maxResignBounces did, it is given up on (not counted): a whole
// cluster stopped at once would otherwise hand groups back and forth until
// its deadlines.
func (n *Node) Resign() int {
	n.resigning = true
	left := 0
	for _, h := range n.list {
		if h == nil || h.gone || h.p.Err() != nil {
			continue
		}
		h.campaignAt = 0
		if lead, _ := h.p.Leader(); lead != n.self {
			if lead != 0 { // mid-election says nothing about who leads
				h.resignAway = true
			}
			continue
		}
		if h.resignAway {
			// It came back: the replica it went to is stopping too (or
			// failed); try the others before giving up.
			h.resignAway = false
			h.resignBounced = append(h.resignBounced, h.resignTo)
			if len(h.resignBounced) == maxResignBounces {
				n.log.Warn("shutdown: leadership keeps coming back; its other replicas are stopping too, stopping as its leader", "group", h.g)
			}
		}
		if len(h.resignBounced) >= maxResignBounces {
			continue
		}
		to := resignTarget(n.self, h.p.ISR(), h.p.ConfState().GetVoters(), h.resignBounced)
		if to == 0 {
			continue
		}
		left++
		h.resignTo = to
		h.p.TransferLeadership(to)
		h.dirty = true
	}
	return left
}

// maxResignBounces: how many times Resign hands a group over before it
// gives up on one that keeps coming back.
const maxResignBounces = 3

// resignTarget picks the voter to hand leadership to: the first in-sync
// follower, else the first other voter, skipping those that handed it
// back (bounced); 0 when there is none.
func resignTarget(self uint64, isr, voters, bounced []uint64) uint64 {
	for _, id := range isr {
		if id != self && slices.Contains(voters, id) && !slices.Contains(bounced, id) {
			return id
		}
	}
	for _, id := range voters {
		if id != self && !slices.Contains(bounced, id) {
			return id
		}
	}
	return 0
}
