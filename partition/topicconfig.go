package partition

// SetTopicConfig changes the settings a topic's configs give an open
// replica — min.insync.replicas, max.message.bytes, message.timestamp.type
// — when an AlterConfigs command applies (the broker applies it on every
// replica alike). The next produce request sees them. A raised
// min.insync.replicas makes acks=all requests wait for (or, below it in
// the ISR, fail with NOT_ENOUGH_REPLICAS) that many replicas and holds the
// high watermark back until they are durable; the high watermark never
// moves backwards (updateHW). maxMessageBytes 0 is the default, as in
// Config.
func (p *Partition) SetTopicConfig(minInsyncReplicas, maxMessageBytes int, logAppendTime bool) {
	if maxMessageBytes <= 0 {
		maxMessageBytes = Config{}.withDefaults().MaxMessageBytes
	}
	p.cfg.MinInsyncReplicas = minInsyncReplicas
	p.cfg.MaxMessageBytes = maxMessageBytes
	p.cfg.LogAppendTime = logAppendTime
}

// SetCompacted changes whether the topic is compacted (cleanup.policy
// includes compact): the next produce request refuses keyless records.
func (p *Partition) SetCompacted(compacted bool) { p.cfg.Compacted = compacted }
