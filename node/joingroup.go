package node

// JoinGroup (key 11), v0–v9.
//
// The classic group protocol (node/groups): members join, the coordinator
// waits for every known member to rejoin (or the rebalance timeout, and
// for an empty group group.initial.rebalance.delay.ms), then bumps the
// generation, picks the protocol all members support that most prefer,
// and answers every member; the leader gets all members' metadata. v4+
// answers a join without a member id MEMBER_ID_REQUIRED with one (KIP-394);
// v5+ static members (group.instance.id, KIP-345) keep their assignment
// across restarts without a rebalance when the group is stable, their new
// member id stored before the join is answered (a failed store undoes the
// replacement, as in Kafka); v9 skips the assignment for a static leader
// rejoining (KIP-814).
//
// Differs from Apache Kafka: group.max.size defaults to 1000, not
// unbounded.

import "github.com/twmb/franz-go/pkg/kmsg"

func (n *Node) handleJoinGroup(r Request, req *kmsg.JoinGroupRequest) {
	n.groupCall(r, req.Group, req)
}
