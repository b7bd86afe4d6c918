package partition

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
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

// retainAll runs retention on every live replica (only the leader's
// proposes), then rounds until every live replica applied the log start.
func (c *cluster) retainAll(retentionMs, retentionBytes int64) {
	c.t.Helper()
	var start int64
	for _, id := range c.ids {
		if c.down[id] {
			continue
		}
		s, err := c.parts[id].Retain(c.nowMs, retentionMs, retentionBytes)
		if err != nil {
			c.t.Fatal(err)
		}
		if s > 0 && !c.parts[id].isLeader() {
			c.t.Fatalf("follower %d proposed log start %d", id, s)
		}
		start = max(start, s)
	}
	for range 10 {
		c.step()
		behind := false
		for _, id := range c.ids {
			behind = behind || (!c.down[id] && c.parts[id].logStart < start)
		}
		if !behind {
			return
		}
	}
	c.t.Fatalf("log start %d not applied on every live replica", start)
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

// Replicas cut their segments at different places, so the segments the
// policy allows each to delete end at different offsets. The log start is
// the leader's decision, replicated: every replica reports the same one,
// and it does not go back when leadership moves to a replica still holding
// records below it (the simulator's large-records -swarm seed 222: a
// consumer reset past records the next leader then served).
func TestLogStartNeverGoesBack(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	rnd := rand.New(rand.NewPCG(5, 6))
	l := c.waitLeader()
	var lag uint64 // a follower that misses the first records
	for _, id := range c.ids {
		if c.parts[id] != l {
			lag = id
			break
		}
	}
	produce := func(from, to int) {
		for k := from; k < to; k++ {
			id := uint64(k + 1)
			c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(1, incompressible(rnd, 3000+k*97%2000), 1000+int64(k)), Acks: AcksAll})
			c.settle(id)
			if r := c.res[id]; r.Err != nil {
				t.Fatalf("produce %d: %v", id, r.Err)
			}
		}
	}
	c.down[lag] = true
	produce(0, 60)
	c.down[lag] = false // it catches up in large appends
	produce(60, 120)
	for range 20 {
		c.tick()
	}
	firsts := func(p *Partition) (out []uint64) {
		for _, s := range p.log.Segments() {
			out = append(out, s.First)
		}
		return out
	}
	if slices.Equal(firsts(l), firsts(c.parts[lag])) {
		t.Fatalf("test setup: the replicas' segments start at the same entries %v", firsts(l))
	}

	before := map[uint64][]uint64{}
	for _, id := range c.ids {
		before[id] = firsts(c.parts[id])
	}
	c.retainAll(-1, 200<<10)
	start := l.LogStartOffset()
	if start <= 0 {
		t.Fatalf("log start %d after retention", start)
	}
	below := false // some replica still holds records below the log start
	for _, id := range c.ids {
		p := c.parts[id]
		if got := p.LogStartOffset(); got != start {
			t.Fatalf("replica %d reports log start %d, the leader %d", id, got, start)
		}
		after := firsts(p)
		if after[0] == before[id][0] {
			t.Fatalf("replica %d deleted nothing: segments start at %v", id, after)
		}
		// What it kept begins at or below the log start, and the next
		// segment above it: it deleted every segment wholly below.
		m, err := p.log.Meta(after[0])
		if err != nil || m.BaseOffset > start {
			t.Fatalf("replica %d: oldest kept entry %d at offset %d (%v), log start %d", id, after[0], m.BaseOffset, err, start)
		}
		below = below || m.BaseOffset < start
		if len(after) > 1 {
			if m, err := p.log.Meta(after[1]); err == nil && m.BaseOffset <= start {
				t.Fatalf("replica %d kept a segment wholly below the log start %d", id, start)
			}
		}
	}
	if !below {
		t.Fatal("test setup: every replica cut its segments at the log start")
	}
	// The lagging replica leads; it may still hold records below the log
	// start, but serves none of them.
	l.TransferLeadership(lag)
	for range 30 {
		c.tick()
	}
	nl := c.waitLeader()
	if nl != c.parts[lag] {
		t.Fatalf("leadership did not move to %d", lag)
	}
	if got := nl.LogStartOffset(); got != start {
		t.Fatalf("new leader's log start %d, its predecessor reported %d", got, start)
	}
	if _, err := nl.Read(start-1, 1<<20); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("new leader read below the log start: %v", err)
	}
	if b, err := nl.Read(start, 1<<20); err != nil || len(b) == 0 || stampedOffset(b[0]) != start {
		t.Fatalf("new leader read at the log start: %d batches, %v", len(b), err)
	}
	if off, _, found, err := nl.OffsetForTimestamp(0); err != nil || !found || off != start {
		t.Fatalf("offset for timestamp 0: %d %v %v, want the log start %d", off, found, err, start)
	}
	// It survives a restart of every replica (the applied state and the
	// snapshot carry it).
	c.restartAllKeepsLogStart(start)
	c.checkReplicasAgree()
}

// restartAllKeepsLogStart crashes and restarts every replica, then checks
// that each reports log start start.
func (c *cluster) restartAllKeepsLogStart(start int64) {
	c.t.Helper()
	for _, id := range c.ids {
		c.crash(id)
		c.start(id)
	}
	for range 30 {
		c.tick()
	}
	for _, id := range c.ids {
		if got := c.parts[id].LogStartOffset(); got != start {
			c.t.Fatalf("replica %d after a restart: log start %d, want %d", id, got, start)
		}
	}
}

// The log start is partition state: the snapshot retention compacts to
// carries the one applied by then, so a replica caught up by it (or
// restarted from it) has it before it applies what follows.
func TestSnapshotCarriesLogStart(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	rnd := rand.New(rand.NewPCG(7, 8))
	id := uint64(0)
	produce := func(n int) {
		for range n {
			id++
			c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(1, incompressible(rnd, 8000), 1000), Acks: AcksAll})
			c.settle(id)
			if r := c.res[id]; r.Err != nil {
				t.Fatalf("produce %d: %v", id, r.Err)
			}
		}
	}
	produce(40)
	c.retainAll(-1, 128<<10)
	l := c.waitLeader()
	first := l.LogStartOffset()
	// More records, and retention again: this compaction passes the
	// first log-start entry.
	produce(40)
	c.retainAll(-1, 128<<10)
	if l.LogStartOffset() <= first {
		t.Fatalf("second retention left the log start at %d", l.LogStartOffset())
	}
	snap, err := l.log.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	st := &Partition{cfg: l.cfg}
	if err := st.decodeSnapshot(snap.GetData()); err != nil {
		t.Fatal(err)
	}
	if st.logStart != first {
		t.Fatalf("snapshot at %d carries log start %d, want %d (applied by then)", snap.GetMetadata().GetIndex(), st.logStart, first)
	}
}

// Applied state records written before the log start was replicated (no
// marker, no log start) still decode: an existing data directory opens with
// the log start its segments give.
func TestAppliedRecordBeforeLogStart(t *testing.T) {
	epochs := []epochStart{{epoch: 2, start: 0, index: 2}, {epoch: 5, start: 40, index: 30}}
	var old []byte
	old = binary.LittleEndian.AppendUint64(old, 77)
	old = binary.LittleEndian.AppendUint64(old, 123)
	old = binary.LittleEndian.AppendUint64(old, 9_000)
	old = encodeEpochs(old, epochs)
	old = (&producerTable{}).encode(old)
	var p Partition
	if err := p.decodeApplied(old); err != nil {
		t.Fatal(err)
	}
	if p.applied != 77 || p.appliedNext != 123 || p.appliedMs != 9_000 || p.logStart != 0 || len(p.epochs) != 2 || p.epochs[1] != epochs[1] {
		t.Fatalf("old record decoded as applied %d next %d ms %d log start %d epochs %v", p.applied, p.appliedNext, p.appliedMs, p.logStart, p.epochs)
	}
	var q Partition
	if err := q.decodeApplied(encodeApplied(77, 123, 9_000, 60, epochs, nil)); err != nil {
		t.Fatal(err)
	}
	if q.applied != 77 || q.appliedNext != 123 || q.appliedMs != 9_000 || q.logStart != 60 || len(q.epochs) != 2 || q.epochs[1] != epochs[1] {
		t.Fatalf("record decoded as applied %d next %d ms %d log start %d epochs %v", q.applied, q.appliedNext, q.appliedMs, q.logStart, q.epochs)
	}
}

// Retention deletes only what clients can read, as Kafka does: with
// min.insync.replicas 3 and a replica down, acks=1 records are committed
// and applied by a quorum while the high watermark waits for the third,
// and the log start must not pass it.
func TestRetentionStopsAtTheHighWatermark(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 3}, 1, 2, 3)
	rnd := rand.New(rand.NewPCG(9, 10))
	l := c.waitLeader()
	for _, id := range c.ids {
		if c.parts[id] != l {
			c.down[id] = true
			break
		}
	}
	for k := range 60 {
		id := uint64(k + 1)
		l.Produce(ProduceRequest{ID: id, Batch: makeBatch(1, incompressible(rnd, 8000), 1000), Acks: AcksLeader})
		c.settle(id)
		if r := c.res[id]; r.Err != nil {
			t.Fatalf("produce %d: %v", id, r.Err)
		}
	}
	hw, ok := l.HighWatermark()
	if !ok || hw >= l.appliedNext {
		t.Fatalf("test setup: high watermark %d (%v), applied offset %d", hw, ok, l.appliedNext)
	}
	c.retainAll(-1, 64<<10)
	if start := l.LogStartOffset(); start > hw {
		t.Fatalf("log start %d above the high watermark %d", start, hw)
	}
}

// retention.ms applies to the active segment too: a partition that never
// filled a segment loses its expired records (the log start moves past
// them; Kafka rolls the segment and deletes it). Found by review: the
// active segment never counted, so below segment.bytes nothing expired.
func TestRetentionMsExpiresActiveSegment(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	for k := range 5 {
		id := uint64(k + 1)
		c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(1, "v", 1000), Acks: AcksAll})
		c.settle(id)
		if r := c.res[id]; r.Err != nil {
			t.Fatalf("produce %d: %v", id, r.Err)
		}
	}
	l := c.waitLeader()
	hw, _ := l.HighWatermark()
	c.nowMs = 1 << 40 // the records, stamped 1 s, are ~35 years old
	c.retainAll(3_600_000, -1)
	for range 10 {
		c.tick()
	}
	if got := l.LogStartOffset(); got != hw {
		t.Errorf("retention.ms=1h, every record ~35 years old: log start %d, want %d (the expired active segment counts)", got, hw)
	}
	if b, err := l.Read(0, 1<<20); err == nil && len(b) > 0 {
		t.Errorf("a consumer reading from offset 0 still gets %d expired batches", len(b))
	}
}
