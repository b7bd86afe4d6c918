package partition

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	pb "go.etcd.io/raft/v3/raftpb"
)

// incompressible returns n bytes snappy cannot shrink, so segments fill at
// the rate records arrive.
func incompressible(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return string(b)
}

// retainAll runs retention on every live replica, then a few rounds.
func (c *cluster) retainAll(retentionMs, retentionBytes int64) {
	c.t.Helper()
	for _, id := range c.ids {
		if c.down[id] {
			continue
		}
		if _, err := c.parts[id].Retain(c.nowMs, retentionMs, retentionBytes); err != nil {
			c.t.Fatal(err)
		}
	}
	c.step()
}

// A follower cut off while its leader's retention deleted the entries it
// needs is caught up by a raft snapshot, then the retained records as
// ordinary appends: it ends up with the leader's log start offset, the
// same records, and the state (offsets, producers) to lead.
func TestRetentionForcesSnapshotOnFarBehindFollower(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	rnd := rand.New(rand.NewPCG(1, 2))
	l := c.waitLeader()
	far := uint64(0)
	for _, id := range c.ids {
		if c.parts[id] != l {
			far = id
			break
		}
	}
	c.down[far] = true // paused, not crashed: it keeps its disk
	var snaps int
	c.observe = func(m *pb.Message) {
		if m.GetType() == pb.MsgSnap && m.GetTo() == far {
			snaps++
		}
	}
	// 60 records of 8 KiB: about 480 KiB in 64 KiB segments.
	for k := 0; k < 60; k++ {
		id := uint64(k + 1)
		c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(1, incompressible(rnd, 8000), 1000+int64(k)), Acks: AcksAll})
		c.settle(id)
		if r := c.res[id]; r.Err != nil {
			t.Fatalf("produce %d: %v", id, r.Err)
		}
	}
	l = c.waitLeader()
	before := l.log.Segments()
	c.retainAll(-1, 128<<10)
	after := l.log.Segments()
	if len(after) >= len(before) {
		t.Fatalf("retention.bytes 128 KiB kept %d of %d segments", len(after), len(before))
	}
	var kept int64
	for _, s := range after {
		kept += s.Bytes
	}
	if kept < 128<<10 {
		t.Fatalf("retention kept %d bytes, below retention.bytes", kept)
	}
	start := l.LogStartOffset()
	if start <= 0 {
		t.Fatalf("log start offset %d after retention", start)
	}
	if _, err := l.Read(start-1, 1<<20); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read below the log start: %v", err)
	}
	if b, err := l.Read(start, 1<<20); err != nil || len(b) == 0 || stampedOffset(b[0]) != start {
		t.Fatalf("read at the log start: %d batches, %v", len(b), err)
	}

	c.down[far] = false
	for i := 0; i < 40; i++ {
		c.tick()
	}
	if snaps == 0 {
		t.Fatal("the far-behind follower was caught up without a snapshot")
	}
	p := c.parts[far]
	if p.applied != l.applied || p.appliedNext != l.appliedNext {
		t.Fatalf("follower at index %d offset %d, leader at %d %d", p.applied, p.appliedNext, l.applied, l.appliedNext)
	}
	if got := p.LogStartOffset(); got != start {
		t.Fatalf("follower log start %d, leader's %d", got, start)
	}
	var a, b []byte
	if a, b = p.producers.encode(a), l.producers.encode(b); string(a) != string(b) {
		t.Fatal("producer state differs after the snapshot")
	}
	c.checkReplicasAgree()

	// The follower can lead: with the old leader down it is elected and
	// serves every retained record.
	old := l
	for _, id := range c.ids {
		if c.parts[id] == old {
			c.down[id] = true
		}
	}
	nl := c.waitLeader()
	if nl.LogStartOffset() > start {
		t.Fatalf("new leader's log start %d beyond %d", nl.LogStartOffset(), start)
	}
	got := int64(0)
	for off := start; off < l.appliedNext; {
		bs, err := nl.Read(off, 1<<20)
		if err != nil || len(bs) == 0 {
			t.Fatalf("new leader read at %d: %d batches, %v", off, len(bs), err)
		}
		for _, bb := range bs {
			got += int64(headerInfo(bb).count)
			off = stampedOffset(bb) + int64(headerInfo(bb).count)
		}
	}
	if want := l.appliedNext - start; got != want {
		t.Fatalf("new leader served %d records from the log start, want %d", got, want)
	}
}

// retention.ms deletes closed segments whose newest record is older than
// the limit, never the active segment, and never a segment with a newer
// record; a negative limit deletes nothing.
func TestRetentionByTime(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	rnd := rand.New(rand.NewPCG(3, 4))
	// 40 records of 8 KiB, stamped 0..39 s.
	for k := 0; k < 40; k++ {
		id := uint64(k + 1)
		c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(1, incompressible(rnd, 8000), int64(k)*1000), Acks: AcksAll})
		c.settle(id)
	}
	l := c.waitLeader()
	n := len(l.log.Segments())
	c.retainAll(-1, -1)
	if got := len(l.log.Segments()); got != n {
		t.Fatalf("unlimited retention deleted %d segments", n-got)
	}
	// Now 60 s; retention 35 s: records stamped before 25 s may go.
	c.nowMs = 60_000
	c.retainAll(35_000, -1)
	segs := l.log.Segments()
	if len(segs) >= n {
		t.Fatalf("retention.ms deleted nothing (%d segments)", n)
	}
	// Deletion stops at the first segment that must stay: one holding a
	// record stamped after 25 s. Record k is stamped k s, so the log
	// start is at most 26 and the first kept segment is not all expired.
	if first := segs[0]; !first.Active && first.HasRecords && first.MaxTimestamp <= 25_000 {
		t.Fatalf("first kept segment's newest record %d ms is past retention", first.MaxTimestamp)
	}
	if start := l.LogStartOffset(); start == 0 || start > 26 {
		t.Fatalf("log start %d after retention.ms 35 s at 60 s", start)
	}
	// Far in the future everything but the active segment goes.
	c.nowMs = 1 << 40
	c.retainAll(35_000, -1)
	if segs := l.log.Segments(); len(segs) != 1 {
		t.Fatalf("%d segments left; only the active one should stay", len(segs))
	}
	c.checkReplicasAgree()
}
