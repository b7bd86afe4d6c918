package node

// SyncGroup (key 14), v0–v5.
//
// The leader's sync carries the assignment; the coordinator stores the
// group (its metadata record in __consumer_offsets) and, once that is
// committed, answers every member waiting with its assignment. If the
// store fails, the waiting members get the error and the group
// rebalances. A sync during a rebalance gets REBALANCE_IN_PROGRESS; v5
// checks the protocol type and name (INCONSISTENT_GROUP_PROTOCOL).

import "github.com/twmb/franz-go/pkg/kmsg"

func (n *Node) handleSyncGroup(r Request, req *kmsg.SyncGroupRequest) {
	n.groupCall(r, req.Group, req)
}
