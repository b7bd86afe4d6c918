package node

// Which groups this broker coordinates, for the consumer-lag exporter in
// node/runtime (metrics.go). Read-only: it never changes the node.

// CoordinatedGroups lists, in offsets-partition order and then by name,
// the groups whose coordinator is active on this broker (it leads their
// __consumer_offsets partition and has loaded it): those with members,
// stored metadata or committed offsets. Every group is listed by at most
// one broker at a time, so the brokers' lag metrics together report each
// group once (twice only for a moment while a coordinator moves).
func (n *Node) CoordinatedGroups() []string {
	var out []string
	for _, g := range n.order {
		h := n.hosts[g]
		if h.coord == nil || !h.coord.Active() || h.p.Err() != nil {
			continue
		}
		if lead, _ := h.p.Leader(); lead != n.self {
			continue
		}
		out = append(out, h.coord.GroupNames()...)
	}
	return out
}
