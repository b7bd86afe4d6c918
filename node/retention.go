package node

// Retention (Kafka's delete cleanup policy): every RetentionCheckMs the
// leader of each partition of a topic whose cleanup.policy includes delete
// proposes moving the log start offset past its oldest closed segments
// beyond retention.ms or retention.bytes (partition.Retain); every replica
// deletes its segments below the replicated log start as it applies it.
// __consumer_offsets (cleanup.policy compact) and the metadata log keep
// everything. A follower that falls behind the segments its leader deleted
// catches up from a raft snapshot, then the retained records.

import "sluice/partition"

// checkRetention runs retention on every hosted partition when the check
// interval has passed.
func (n *Node) checkRetention() {
	every := max(n.cfg.RetentionCheckMs/n.cfg.TickMs, 1)
	if n.ticks%every != 0 {
		return
	}
	for _, h := range n.list {
		if h == nil || h.gone || h.meta || h.p.Err() != nil {
			continue
		}
		t := n.topics.byName[h.topic]
		if t == nil || (t.RetentionMs < 0 && t.RetentionBytes < 0) {
			continue
		}
		start, err := h.p.Retain(n.nowMs, t.RetentionMs, t.RetentionBytes)
		if err != nil {
			n.log.Warn("retention failed", "group", h.g, "topic", h.topic, "err", err)
			h.dirty = true
			continue
		}
		if start > 0 {
			h.dirty = true
			n.log.Debug("retention proposed a log start", "group", h.g, "topic", h.topic, "log_start_offset", start)
		}
	}
}

// noteDeleted counts and logs the segments a replica deleted below its
// partition's log start.
func (n *Node) noteDeleted(h *hosted, res partition.RetentionResult) {
	if res.Segments == 0 {
		return
	}
	n.stats.RetentionSegments += int64(res.Segments)
	n.stats.RetentionBytes += res.Bytes
	n.log.Info("retention deleted segments", "group", h.g, "topic", h.topic,
		"segments", res.Segments, "bytes", res.Bytes, "log_start_offset", res.LogStart)
}
