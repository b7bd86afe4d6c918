package partition

// Flush policy (flush.messages, flush.ms; DESIGN.md step 7). The default
// (FlushMessages 1) syncs every write before it is reported done, so an
// acknowledgement means "durable on enough replicas". A relaxed policy —
// FlushMessages above 1 and FlushMs above 0 — hands raftlog relaxed
// batches: entries are reported done once written, before fsync, and
// synced once FlushMessages entries are unsynced or the oldest unsynced
// write is FlushMs old, whichever comes first. An acknowledgement then
// means "written on enough replicas, not yet synced": a power loss of
// those replicas loses it, and raft itself may find a committed entry gone
// (it panics; the broker restarts the partition). Raft's term and vote are
// synced before a vote is answered whatever the policy (raftlog refuses to
// relax such a round), and so are snapshots, conf states and segment
// rolls.

// flushPolicy is a partition's flush.messages and flush.ms.
type flushPolicy struct {
	messages int64 // sync once this many entries are unsynced; ≤1: every write
	ms       int64 // sync once the oldest unsynced write is this old; ≤0: every write
}

// relaxed reports whether writes may go unsynced at all.
func (f flushPolicy) relaxed() bool { return f.messages > 1 && f.ms > 0 }

// SetFlushPolicy changes the topic's flush.messages and flush.ms on an
// open replica (AlterConfigs applies on every replica alike); the next
// write sees it. Tightening it to the default syncs what relaxed writes
// left unsynced at the next Tick.
func (p *Partition) SetFlushPolicy(messages, ms int64) {
	p.cfg.FlushMessages, p.cfg.FlushMs = messages, ms
	p.flush = flushPolicy{messages: messages, ms: ms}
}

// relaxWrite reports whether a write appending n entries may go unsynced:
// the policy is relaxed and neither threshold is reached with it.
func (p *Partition) relaxWrite(n int) bool {
	if !p.flush.relaxed() {
		return false
	}
	if int64(p.log.UnsyncedEntries())+int64(n) >= p.flush.messages {
		return false
	}
	return p.unsyncedSinceMs < 0 || p.nowMs-p.unsyncedSinceMs < p.flush.ms
}

// noteUnsynced tracks since when relaxed writes have been unsynced.
func (p *Partition) noteUnsynced() {
	switch {
	case !p.log.Unsynced():
		p.unsyncedSinceMs = -1
	case p.unsyncedSinceMs < 0:
		p.unsyncedSinceMs = p.nowMs
	}
}

// flushDue makes a sync-only write when relaxed writes have waited
// flush.ms (or the policy is no longer relaxed). Called on every Tick.
func (p *Partition) flushDue() {
	if p.err != nil || p.unsyncedSinceMs < 0 {
		return
	}
	if p.flush.relaxed() && p.nowMs-p.unsyncedSinceMs < p.flush.ms {
		return
	}
	r, err := p.log.Sync()
	if err != nil {
		p.stop(err)
		return
	}
	if r != nil {
		p.out.Writes = append(p.out.Writes, &Write{Round: r})
	}
	p.noteUnsynced()
}

// FlushPolicy is the replica's flush.messages and flush.ms as set.
func (p *Partition) FlushPolicy() (messages, ms int64) { return p.cfg.FlushMessages, p.cfg.FlushMs }
