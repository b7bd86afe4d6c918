package partition

import (
	"testing"
)

// flushWrites counts, per node, the writes that append entries and whether
// each synced.
type flushWrites struct {
	relaxed, synced, syncOnly int
}

func watchFlush(c *cluster) map[uint64]*flushWrites {
	seen := map[uint64]*flushWrites{}
	for _, id := range c.ids {
		seen[id] = &flushWrites{}
	}
	c.onWrite = func(id uint64, w *Write) {
		f := seen[id]
		switch {
		case w.last == 0 && len(w.Round.Writes) == 0 && w.Round.Synced():
			f.syncOnly++
		case w.last == 0:
		case w.Round.Synced():
			f.synced++
		default:
			f.relaxed++
			if len(w.Round.Syncs) != 0 {
				c.t.Fatalf("node %d: a relaxed write syncs %d files", id, len(w.Round.Syncs))
			}
		}
	}
	return seen
}

// The default policy syncs every write that appends entries.
func TestFlushDefaultSyncsEveryWrite(t *testing.T) {
	c := newCluster(t, Config{}, 1, 2, 3)
	seen := watchFlush(c)
	c.waitLeader()
	for id := uint64(1); id <= 5; id++ {
		c.produce(id, 1, AcksAll)
		c.settle(id)
		if err := c.res[id].Err; err != nil {
			t.Fatalf("produce %d: %v", id, err)
		}
	}
	for id, f := range seen {
		if f.relaxed != 0 || f.synced == 0 {
			t.Fatalf("node %d with the default policy: %d relaxed writes, %d synced; want none relaxed", id, f.relaxed, f.synced)
		}
	}
}

// flush.messages: entries go unsynced until that many are, then a write
// syncs them all.
func TestFlushMessagesTriggersSync(t *testing.T) {
	const every = 4
	c := newCluster(t, Config{FlushMessages: every, FlushMs: 1 << 40}, 1, 2, 3)
	seen := watchFlush(c)
	c.waitLeader()
	for id := uint64(1); id <= 12; id++ {
		c.produce(id, 1, AcksLeader)
		c.settle(id)
		if err := c.res[id].Err; err != nil {
			t.Fatalf("produce %d: %v", id, err)
		}
		for _, nid := range c.ids {
			if n := c.parts[nid].log.UnsyncedEntries(); n >= every {
				t.Fatalf("node %d: %d entries unsynced with flush.messages %d", nid, n, every)
			}
		}
	}
	for id, f := range seen {
		if f.relaxed == 0 || f.synced == 0 {
			t.Fatalf("node %d: %d relaxed writes, %d synced; want both", id, f.relaxed, f.synced)
		}
		if f.relaxed < 2*f.synced {
			t.Fatalf("node %d: %d relaxed writes for %d synced ones with flush.messages %d", id, f.relaxed, f.synced, every)
		}
	}
}

// flush.ms: an unsynced write is synced by a sync-only write once it is
// that old, with no other write needed.
func TestFlushMsTriggersSync(t *testing.T) {
	const ms = 500 // the harness ticks every 100 ms
	c := newCluster(t, Config{FlushMessages: 1 << 40, FlushMs: ms}, 1, 2, 3)
	seen := watchFlush(c)
	l := c.waitLeader()
	for range 20 { // let the election's writes be synced
		c.tick()
	}
	c.produce(1, 1, AcksLeader)
	c.settle(1)
	if err := c.res[1].Err; err != nil {
		t.Fatal(err)
	}
	if !l.log.Unsynced() || l.log.SyncedIndex() >= l.log.StableIndex() {
		t.Fatalf("after a relaxed produce: unsynced %v, synced %d, stable %d", l.log.Unsynced(), l.log.SyncedIndex(), l.log.StableIndex())
	}
	since := l.unsyncedSinceMs
	before := seen[l.cfg.ID].syncOnly
	for c.nowMs-since < ms-100 {
		c.tick()
		if !l.log.Unsynced() {
			t.Fatalf("synced after %d ms, before flush.ms %d", c.nowMs-since, ms)
		}
	}
	for range 3 {
		c.tick()
	}
	if l.log.Unsynced() || l.log.SyncedIndex() != l.log.StableIndex() {
		t.Fatalf("%d ms after the write: unsynced %v, synced %d, stable %d", c.nowMs-since, l.log.Unsynced(), l.log.SyncedIndex(), l.log.StableIndex())
	}
	if seen[l.cfg.ID].syncOnly == before {
		t.Fatal("flush.ms passed without a sync-only write")
	}
}

// With a relaxed policy a power loss of every replica loses acknowledged
// entries that were not synced, but never raft's term and vote.
func TestFlushRelaxedKeepsTermAndVote(t *testing.T) {
	c := newCluster(t, Config{FlushMessages: 1 << 40, FlushMs: 1 << 40}, 1, 2, 3)
	l := c.waitLeader()
	for id := uint64(1); id <= 3; id++ {
		c.produce(id, 1, AcksLeader)
		c.settle(id)
		if err := c.res[id].Err; err != nil {
			t.Fatalf("produce %d: %v", id, err)
		}
	}
	type tv struct{ term, vote, last uint64 }
	before := map[uint64]tv{}
	for _, id := range c.ids {
		hs := c.parts[id].rn.BasicStatus().HardState
		last, _ := c.parts[id].log.LastIndex()
		before[id] = tv{hs.GetTerm(), hs.GetVote(), last}
	}
	lastBefore := before[l.cfg.ID].last
	for _, id := range c.ids {
		c.fs[id].CrashClean()
		c.down[id] = true
	}
	for _, id := range c.ids {
		c.start(id)
		hs := c.parts[id].rn.BasicStatus().HardState
		if hs.GetTerm() != before[id].term || hs.GetVote() != before[id].vote {
			t.Fatalf("node %d after power loss: term %d vote %d, want %d %d", id, hs.GetTerm(), hs.GetVote(), before[id].term, before[id].vote)
		}
		if last, _ := c.parts[id].log.LastIndex(); last >= lastBefore {
			t.Fatalf("node %d kept entry %d of %d through power loss: were relaxed writes synced?", id, last, lastBefore)
		}
	}
}

// A follower that loses power under a relaxed policy loses entries it
// acknowledged, while the leader's match index for it still covers them:
// the follower must neither panic (a heartbeat's commit beyond its log)
// nor stay stuck (raft never sends below a match index) — the leader hands
// over and the new leader sends the lost entries again.
func TestFlushRelaxedFollowerPowerLoss(t *testing.T) {
	c := newCluster(t, Config{FlushMessages: 1 << 40, FlushMs: 1 << 40}, 1, 2, 3)
	l := c.waitLeader()
	for id := uint64(1); id <= 5; id++ {
		c.produce(id, 1, AcksAll)
		c.settle(id)
		if err := c.res[id].Err; err != nil {
			t.Fatalf("produce %d: %v", id, err)
		}
	}
	var f uint64
	for _, id := range c.ids {
		if c.parts[id] != l {
			f = id
			break
		}
	}
	want, _ := c.parts[f].log.LastIndex()
	c.fs[f].CrashClean()
	c.down[f] = true
	c.start(f)
	if got, _ := c.parts[f].log.LastIndex(); got >= want {
		t.Fatalf("follower %d kept entry %d of %d through power loss: were its relaxed writes synced?", f, got, want)
	}
	// Traffic after the restart: the leader probes the follower.
	c.produce(6, 1, AcksLeader)
	for range 300 {
		c.tick()
		if got, _ := c.parts[f].log.LastIndex(); got >= want {
			break
		}
	}
	if got, _ := c.parts[f].log.LastIndex(); got < want {
		t.Fatalf("follower %d stuck at entry %d after its power loss, want %d", f, got, want)
	}
	if c.waitLeader() == l {
		t.Fatalf("leader %d kept leading: it should hand over to resend the lost entries", l.cfg.ID)
	}
}
