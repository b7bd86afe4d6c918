package partition

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// deleteRecords asks the leader to move the log start to offset and runs
// the cluster until the request completes.
func (c *cluster) deleteRecords(id uint64, offset int64) DeleteResult {
	c.t.Helper()
	c.waitLeader().DeleteRecords(id, offset)
	for range 20 {
		c.step()
		if d, ok := c.dels[id]; ok {
			return d
		}
	}
	c.t.Fatalf("delete request %d (offset %d) did not complete", id, offset)
	return DeleteResult{}
}

// DeleteRecords (KIP-107) moves the replicated log start, to any offset up
// to the high watermark, inside a batch too: every replica reports it, no
// reader sees a record below it (fetch, ListOffsets by time and
// max-timestamp), segments wholly below it go, and it survives restarts.
func TestDeleteRecords(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	rnd := rand.New(rand.NewPCG(11, 12))
	// 40 batches of 4 records of 2 KiB, record k stamped 1000+k ms: about
	// 320 KiB in 64 KiB segments. Batch j holds offsets 4j..4j+3.
	for j := range 40 {
		id := uint64(j + 1)
		c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(4, incompressible(rnd, 2000), 1000+4*int64(j)), Acks: AcksAll})
		c.settle(id)
		if r := c.res[id]; r.Err != nil {
			t.Fatalf("produce %d: %v", id, r.Err)
		}
	}
	l := c.waitLeader()
	hw, _ := l.HighWatermark()
	if hw != 160 {
		t.Fatalf("high watermark %d, want 160", hw)
	}
	before := len(l.log.Segments())

	// Inside batch 25 (offsets 100..103).
	if d := c.deleteRecords(1, 102); d.Err != nil || d.LowWatermark != 102 {
		t.Fatalf("delete to 102: low watermark %d, %v", d.LowWatermark, d.Err)
	}
	for range 5 {
		c.tick() // followers learn the commit
	}
	for _, id := range c.ids {
		if got := c.parts[id].LogStartOffset(); got != 102 {
			t.Fatalf("replica %d: log start %d, want 102", id, got)
		}
	}
	if after := len(l.log.Segments()); after >= before {
		t.Fatalf("no segment deleted: %d before, %d after", before, after)
	}
	if _, err := l.Read(101, 1<<20); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read at 101, below the log start: %v", err)
	}
	// A fetch from the log start gets its whole batch, as in Kafka.
	if b, err := l.Read(102, 1<<20); err != nil || len(b) == 0 || stampedOffset(b[0]) != 100 {
		t.Fatalf("read at the log start: %d batches, %v", len(b), err)
	}
	// Record k is stamped 1000+k: the first record at or after time 0 is
	// the log start's, not the earlier records of its batch.
	if off, ts, found, err := l.OffsetForTimestamp(0); err != nil || !found || off != 102 || ts != 1102 {
		t.Fatalf("offset for timestamp 0: %d at %d ms (%v, %v), want 102 at 1102", off, ts, found, err)
	}
	if off, ts, found, err := l.MaxTimestamp(); err != nil || !found || off != 159 || ts != 1159 {
		t.Fatalf("max timestamp: %d at %d ms (%v, %v), want 159", off, ts, found, err)
	}

	// Below the current log start: nothing to do, the low watermark comes
	// back at once. Above the high watermark: OFFSET_OUT_OF_RANGE. -1: the
	// high watermark.
	if d := c.deleteRecords(2, 50); d.Err != nil || d.LowWatermark != 102 {
		t.Fatalf("delete to 50: low watermark %d, %v, want 102", d.LowWatermark, d.Err)
	}
	if d := c.deleteRecords(3, 161); !errors.Is(d.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete above the high watermark: %v", d.Err)
	}
	for _, id := range c.ids {
		if p := c.parts[id]; p != l {
			p.DeleteRecords(4, 120)
			c.step()
			if d := c.dels[4]; !errors.Is(d.Err, kerr.NotLeaderForPartition) {
				t.Fatalf("delete on a follower: %v", d.Err)
			}
			break
		}
	}
	if d := c.deleteRecords(5, -1); d.Err != nil || d.LowWatermark != 160 {
		t.Fatalf("delete to the high watermark: low watermark %d, %v", d.LowWatermark, d.Err)
	}
	if _, _, found, err := l.MaxTimestamp(); err != nil || found {
		t.Fatalf("max timestamp of an emptied partition: found %v, %v", found, err)
	}
	// Producing goes on from the log end.
	c.waitLeader().Produce(ProduceRequest{ID: 100, Batch: makeBatch(1, "after", 5000), Acks: AcksAll})
	c.settle(100)
	if r := c.res[100]; r.Err != nil || r.BaseOffset != 160 {
		t.Fatalf("produce after deleting everything: offset %d, %v", r.BaseOffset, r.Err)
	}
	c.restartAllKeepsLogStart(160)
	c.checkReplicasAgree()
}

// A DeleteRecords whose leader is deposed before its log start is applied
// fails with NOT_LEADER_OR_FOLLOWER (the client retries with the new one).
func TestDeleteRecordsFailsWhenDeposed(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.sendRecords(1, 20, "v")
	l := c.waitLeader()
	// Cut the leader off so its proposal cannot commit, then depose it.
	for _, id := range c.ids {
		if c.parts[id] != l {
			c.down[id] = true
		}
	}
	l.DeleteRecords(1, 10)
	c.step()
	if _, done := c.dels[1]; done {
		t.Fatalf("completed without a quorum: %+v", c.dels[1])
	}
	for _, id := range c.ids {
		c.down[id] = c.parts[id] == l
	}
	nl := c.waitLeader()
	for range 10 {
		c.tick()
	}
	c.down[l.cfg.ID] = false
	for range 30 {
		c.tick()
	}
	d, done := c.dels[1]
	if !done || !errors.Is(d.Err, kerr.NotLeaderForPartition) {
		t.Fatalf("deposed leader's delete: %+v (done %v)", d, done)
	}
	if got := nl.LogStartOffset(); got != 0 {
		t.Fatalf("log start %d after a delete that never committed", got)
	}
}

// A replica being closed hands back its waiting DeleteRecords requests,
// failed, once: none completes again afterwards.
func TestAbandonDeletes(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.sendRecords(1, 20, "v")
	l := c.waitLeader()
	for _, id := range c.ids {
		c.down[id] = c.parts[id] != l // no quorum: the entry cannot commit
	}
	l.DeleteRecords(1, 10)
	c.step()
	got := l.AbandonDeletes()
	if len(got) != 1 || got[0].ID != 1 || !errors.Is(got[0].Err, kerr.NotLeaderForPartition) {
		t.Fatalf("abandoned %+v", got)
	}
	for _, id := range c.ids {
		c.down[id] = false
	}
	for range 30 {
		c.tick()
	}
	if d, done := c.dels[1]; done {
		t.Fatalf("an abandoned request completed again: %+v", d)
	}
	if again := l.AbandonDeletes(); len(again) != 0 {
		t.Fatalf("abandoned twice: %+v", again)
	}
}

// A replica being closed hands back its waiting produce requests, failed,
// once (the acks=0 one completed when the leader wrote it).
func TestAbandonProduces(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	l := c.waitLeader()
	for _, id := range c.ids {
		c.down[id] = c.parts[id] != l // no quorum: nothing commits
	}
	c.produce(1, 1, AcksAll)
	c.produce(2, 1, AcksNone)
	c.produce(3, 1, AcksAll)
	c.step()
	got := l.AbandonProduces()
	if len(got) != 2 || got[0].ID != 1 || got[1].ID != 3 {
		t.Fatalf("abandoned %+v, want requests 1 and 3", got)
	}
	for _, r := range got {
		if !errors.Is(r.Err, kerr.NotLeaderForPartition) || r.BaseOffset != -1 {
			t.Errorf("abandoned %+v, want NOT_LEADER_OR_FOLLOWER", r)
		}
	}
	for _, id := range c.ids {
		c.down[id] = false
	}
	for range 30 {
		c.tick()
	}
	for _, id := range []uint64{1, 2, 3} {
		if r, done := c.res[id]; done {
			t.Errorf("abandoned request %d completed again: %+v", id, r)
		}
	}
	if again := l.AbandonProduces(); len(again) != 0 {
		t.Fatalf("abandoned twice: %+v", again)
	}
	// An answer made this turn, before any Ready took it, comes back too.
	bad := makeBatch(1, "bad", 1)
	bad[len(bad)-1] ^= 0xff // the batch's CRC no longer matches
	l.Produce(ProduceRequest{ID: 4, Batch: bad, Acks: AcksAll})
	if got := l.AbandonProduces(); len(got) != 1 || got[0].ID != 4 || got[0].Err == nil || errors.Is(got[0].Err, kerr.NotLeaderForPartition) {
		t.Fatalf("a refused produce made this turn: abandoned %+v, want request 4 with its own error", got)
	}
}

// MaxTimestamp over many segments, with timestamps that repeat across
// batches and segments and a log start moved inside batches, answers as a
// scan of every record would: the largest timestamp at or above the log
// start, its first offset on ties.
func TestMaxTimestampAcrossSegments(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	rnd := rand.New(rand.NewPCG(21, 22))
	// 150 batches of 4 records (about 25 per 64 KiB segment: a batch's
	// four equal values compress); batch j's records are stamped base+0..3
	// with base drawn from a few values.
	for j := range 150 {
		id := uint64(j + 1)
		base := 1000 + 10*rnd.Int64N(8)
		if j == 3 {
			base = 2000 // the largest, early: in a closed segment
		}
		if j == 100 {
			base = 2000 // a tie, later
		}
		c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(4, incompressible(rnd, 2000), base), Acks: AcksAll})
		c.settle(id)
		if r := c.res[id]; r.Err != nil {
			t.Fatalf("produce %d: %v", id, r.Err)
		}
	}
	l := c.waitLeader()
	if n := len(l.log.Segments()); n < 5 {
		t.Fatalf("%d segments, want several", n)
	}
	oracle := func() (off, ts int64, found bool) {
		hw, _ := l.HighWatermark()
		start := l.LogStartOffset()
		best, bestOff := int64(-1), int64(-1)
		for from := start; from < hw; {
			bs, err := l.Read(from, 1<<20)
			if err != nil || len(bs) == 0 {
				t.Fatalf("read at %d: %d batches, %v", from, len(bs), err)
			}
			for _, b := range bs {
				if err := recordTimes(b, func(o, ts int64) bool {
					if o >= start && o < hw && ts > best {
						best, bestOff = ts, o
					}
					if o+1 > from {
						from = o + 1
					}
					return true
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
		return bestOff, best, bestOff >= 0
	}
	check := func(when string) {
		t.Helper()
		wantOff, wantTs, wantFound := oracle()
		off, ts, found, err := l.MaxTimestamp()
		if err != nil || found != wantFound || off != wantOff || ts != wantTs {
			t.Fatalf("%s: max timestamp %d at offset %d (%v, %v), want %d at %d (%v)", when, ts, off, found, err, wantTs, wantOff, wantFound)
		}
	}
	check("all records")
	if off, _, _, _ := l.MaxTimestamp(); off != 15 {
		t.Fatalf("max timestamp at offset %d, want 15 (batch 3's last record, before batch 100's tie)", off)
	}
	for k, to := range []int64{14, 15, 16, 401, 403, 404, 550} {
		if d := c.deleteRecords(uint64(k+1), to); d.Err != nil {
			t.Fatalf("delete to %d: %v", to, d.Err)
		}
		c.tick()
		check(fmt.Sprintf("log start %d", to))
	}
}
