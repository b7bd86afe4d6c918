package node

// LeaveGroup (key 13), v0–v5.
//
// Removes members at once (v3+ batches them, by member id or static
// instance id, with an error per member); a stable group rebalances.

import "github.com/twmb/franz-go/pkg/kmsg"

func (n *Node) handleLeaveGroup(r Request, req *kmsg.LeaveGroupRequest) {
	n.groupCall(r, req.Group, req)
}
