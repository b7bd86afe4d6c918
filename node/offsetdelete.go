package node

// OffsetDelete (key 47), v0.
//
// Deletes a group's committed offsets of some partitions (tombstones in
// __consumer_offsets, answered once committed). GROUP_ID_NOT_FOUND for an
// unknown group; a stable consumer group's subscribed topics answer
// GROUP_SUBSCRIBED_TO_TOPIC; a non-empty group of another protocol type
// NON_EMPTY_GROUP.

import "github.com/twmb/franz-go/pkg/kmsg"

func (n *Node) handleOffsetDelete(r Request, req *kmsg.OffsetDeleteRequest) {
	n.groupCall(r, req.Group, req)
}
