package node

// Heartbeat (key 12), v0–v4.
//
// Keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to
// rejoin, ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID that it was removed,
// FENCED_INSTANCE_ID (v3+) that another process took its static identity.

import "github.com/twmb/franz-go/pkg/kmsg"

func (n *Node) handleHeartbeat(r Request, req *kmsg.HeartbeatRequest) {
	n.groupCall(r, req.Group, req)
}
