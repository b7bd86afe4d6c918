package node

// What KIP-848 consumer groups need of the broker: its topic table, read
// by the coordinators when they assign partitions. The table is the
// applied metadata log, the same on every broker that applied it, so the
// coordinators stay deterministic.

// coordTopic looks a topic up for a group coordinator.
func (n *Node) coordTopic(name string) (id [16]byte, partitions int32, ok bool) {
	t := n.topics.byName[name]
	if t == nil {
		return id, 0, false
	}
	return t.id, int32(len(t.Replicas)), true
}

// coordTopicNames lists the topics, sorted, for regex subscriptions.
func (n *Node) coordTopicNames() []string { return n.topics.names() }

// validateOffsetFetch checks the KIP-848 member of an OffsetFetch v9+.
func (n *Node) validateOffsetFetch(group string, memberID *string, epoch int32, version int16) int16 {
	if version < 9 {
		return 0
	}
	h, code := n.localCoordinator(group)
	if code != 0 {
		return 0 // fetchOffsets answers it
	}
	return h.coord.ValidateOffsetFetch(group, memberID, epoch)
}
