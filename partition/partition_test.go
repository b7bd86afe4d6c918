package partition

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
	"sluice/transport"
)

// makeBatch encodes a magic-2 batch of n records with the given value.
func makeBatch(n int, value string, ts int64) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte(value)}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1) // Length 0 encodes as one varint byte
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(n - 1), FirstTimestamp: ts, MaxTimestamp: ts + int64(n-1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: recs}
	b := rb.AppendTo(nil)
	putBE32(b[8:], uint32(len(b)-12))
	putBE32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

func putBE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// cluster drives replicas of one partition in a test loop: messages are
// routed at once, disk writes run synchronously.
type cluster struct {
	t     *testing.T
	fs    map[uint64]*vfs.Mem
	parts map[uint64]*Partition
	ids   []uint64
	down  map[uint64]bool
	// joining marks nodes added after bootstrap: they start empty.
	joining map[uint64]bool
	net     *transport.Mem
	res     map[uint64]ProduceResult
	dels    map[uint64]DeleteResult // completed DeleteRecords requests
	nowMs   int64
	cfg     Config
	// trace, if set, sees every message, write and result in order.
	trace func(kind string, b []byte)
	// observe, if set, sees every message a node sends.
	observe func(m *pb.Message)
	// incarnation per node (changes when its disk is wiped).
	incarnation map[uint64][16]byte
	// cut is set while a test partitions the network.
	cut bool
	// noLiveness turns off the harness's stand-in for node-level liveness.
	noLiveness bool
	// onWrite, if set, sees every write a node hands out, before it runs.
	onWrite func(id uint64, w *Write)
}

func newCluster(t *testing.T, cfg Config, ids ...uint64) *cluster {
	c := &cluster{t: t, fs: map[uint64]*vfs.Mem{}, parts: map[uint64]*Partition{}, ids: ids, down: map[uint64]bool{},
		res: map[uint64]ProduceResult{}, dels: map[uint64]DeleteResult{}, cfg: cfg, net: transport.NewMem(transport.MemOptions{}), joining: map[uint64]bool{}, incarnation: map[uint64][16]byte{}}
	for _, id := range ids {
		c.fs[id] = vfs.NewMem(id)
		c.start(id)
		c.net.SetReporter(id, reporter{c: c, id: id})
	}
	return c
}

// reporter passes the transport's reports to the sending replica, as the
// broker runtime does.
type reporter struct {
	c  *cluster
	id uint64
}

func (r reporter) Unreachable(_ transport.GroupID, node uint64) {
	if p := r.c.parts[r.id]; p != nil && !r.c.down[r.id] {
		p.ReportUnreachable(node)
	}
}

func (r reporter) SnapshotStatus(_ transport.GroupID, node uint64, ok bool) {
	if p := r.c.parts[r.id]; p != nil && !r.c.down[r.id] {
		p.ReportSnapshot(node, ok)
	}
}

func (c *cluster) start(id uint64) {
	c.t.Helper()
	l, err := raftlog.Open(c.fs[id], "p0", raftlog.Options{SegmentBytes: 64 << 10})
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := c.cfg
	cfg.ID, cfg.Voters = id, c.ids
	if c.joining[id] {
		cfg.Voters = nil
	}
	cfg.Incarnation = c.incarnation[id]
	p, err := Open(cfg, l)
	if err != nil {
		c.t.Fatal(err)
	}
	c.parts[id] = p
	c.down[id] = false
}

// crash loses what node id did not sync and restarts it from its disk.
func (c *cluster) crash(id uint64) {
	c.fs[id].Crash()
	c.down[id] = true
}

// step runs one round: every live node's output is carried out.
func (c *cluster) step() {
	c.t.Helper()
	for _, id := range c.ids {
		if c.down[id] {
			continue
		}
		p := c.parts[id]
		// Run each Ready's writes and take the next one, until one has
		// none: a write done can make more (applying a log start deletes
		// segments).
		var outs []Output
		for out := p.Ready(); ; out = p.Ready() {
			outs = append(outs, out)
			if len(out.Writes) == 0 {
				break
			}
			for _, w := range out.Writes {
				if c.onWrite != nil {
					c.onWrite(id, w)
				}
				if c.trace != nil {
					for _, op := range w.Round.Writes {
						c.trace("write", op.Data)
					}
				}
				p.WriteDone(w, w.Round.Run(c.fs[id]))
			}
			if len(outs) > 100 {
				c.t.Fatal("a partition keeps making writes")
			}
		}
		for _, o := range outs {
			for _, m := range o.Messages {
				if c.observe != nil {
					c.observe(m)
				}
				c.net.Node(id).Send(transport.Batch{From: id, To: m.GetTo(), Msgs: []transport.Envelope{{Group: c.cfg.Group, Msg: m}}})
			}
			for _, r := range o.Results {
				if c.trace != nil {
					c.trace("result", []byte(fmt.Sprintf("%d %d %v", r.ID, r.BaseOffset, r.Err)))
				}
				if _, dup := c.res[r.ID]; dup {
					c.t.Fatalf("request %d completed twice", r.ID)
				}
				c.res[r.ID] = r
			}
			for _, d := range o.Deletes {
				if _, dup := c.dels[d.ID]; dup {
					c.t.Fatalf("delete request %d completed twice", d.ID)
				}
				c.dels[d.ID] = d
			}
		}
	}
	for _, b := range c.net.DeliverAll() {
		for _, env := range b.Msgs {
			m := env.Msg
			if c.trace != nil {
				c.trace("msg", marshal(m))
			}
			if c.down[b.To] || c.down[b.From] {
				continue
			}
			if err := c.parts[b.To].Step(m); err != nil {
				c.t.Fatalf("step %v: %v", m.GetType(), err)
			}
		}
	}
}

func (c *cluster) tick() {
	c.nowMs += 100
	// Node-level liveness (the broker runtime's job): while a node is down
	// or cut off, quiesced partitions are woken so they can elect.
	suspect := c.cut
	for _, id := range c.ids {
		suspect = suspect || c.down[id]
	}
	for _, id := range c.ids {
		if !c.down[id] {
			if suspect && !c.noLiveness {
				c.parts[id].Wake()
			}
			c.parts[id].Tick(c.nowMs)
		}
	}
	c.step()
}

func (c *cluster) leader() *Partition {
	for _, id := range c.ids {
		if !c.down[id] && c.parts[id].isLeader() {
			return c.parts[id]
		}
	}
	return nil
}

// waitLeader ticks until a live leader has committed in its term.
// firstFollower is the first of c.ids that is not leader l.
func (c *cluster) firstFollower(l *Partition) uint64 {
	for _, id := range c.ids {
		if id != l.cfg.ID {
			return id
		}
	}
	return 0
}

func (c *cluster) waitLeader() *Partition {
	c.t.Helper()
	for i := 0; i < 500; i++ {
		if l := c.leader(); l != nil {
			if _, ok := l.HighWatermark(); ok {
				return l
			}
		}
		c.tick()
	}
	c.t.Fatal("no leader")
	return nil
}

func (c *cluster) produce(id uint64, n int, acks Acks) {
	c.t.Helper()
	c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(n, fmt.Sprintf("v%d", id), 1000+int64(id)), Acks: acks})
}

// settle steps until request ids are all answered.
func (c *cluster) settle(ids ...uint64) {
	c.t.Helper()
	for i := 0; i < 200; i++ {
		done := true
		for _, id := range ids {
			if _, ok := c.res[id]; !ok {
				done = false
			}
		}
		if done {
			return
		}
		c.step()
		if i%5 == 4 {
			c.tick()
		}
	}
	c.t.Fatalf("requests %v not answered", ids)
}

func TestReplicateAndRead(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	var next int64
	for id := uint64(1); id <= 20; id++ {
		c.produce(id, int(id%4)+1, AcksAll)
		c.settle(id)
		r := c.res[id]
		if r.Err != nil {
			t.Fatalf("produce %d: %v", id, r.Err)
		}
		if r.BaseOffset != next {
			t.Fatalf("produce %d: base offset %d, want %d", id, r.BaseOffset, next)
		}
		next += int64(id%4) + 1
	}
	l := c.waitLeader()
	hw, ok := l.HighWatermark()
	if !ok || hw != next {
		t.Fatalf("high watermark %d %v, want %d", hw, ok, next)
	}
	batches, err := l.Read(0, 1<<20)
	if err != nil || len(batches) != 20 {
		t.Fatalf("read: %d batches, %v", len(batches), err)
	}
	for i, b := range batches {
		if !bytes.Contains(b, []byte(fmt.Sprintf("v%d", i+1))) {
			t.Fatalf("batch %d holds the wrong records", i)
		}
	}
	// Mid-batch offsets find their batch; reads are bounded.
	if bs, err := l.Read(3, 1); err != nil || len(bs) != 1 || stampedOffset(bs[0]) != 2 {
		t.Fatalf("read(3): %d batches %v", len(bs), err)
	}
	c.checkReplicasAgree()
}

// checkReplicasAgree compares every replica's committed entries, stamped
// offsets included.
func (c *cluster) checkReplicasAgree() {
	c.t.Helper()
	for i := 0; i < 20; i++ {
		c.tick()
	}
	var ref []*pb.Entry
	for _, id := range c.ids {
		if c.down[id] {
			continue
		}
		p := c.parts[id]
		ents, err := p.log.ReadEntries(p.log.OldestIndex(), p.applied+1, 1<<30)
		if err != nil {
			c.t.Fatal(err)
		}
		if ref == nil {
			ref = ents
			continue
		}
		// Replicas may retain different prefixes (retention deletes whole
		// segments, cut at different places): compare what both hold.
		a, b := ref, ents
		for len(a) > 0 && len(b) > 0 && a[0].GetIndex() < b[0].GetIndex() {
			a = a[1:]
		}
		for len(a) > 0 && len(b) > 0 && b[0].GetIndex() < a[0].GetIndex() {
			b = b[1:]
		}
		n := min(len(a), len(b))
		for k := 0; k < n; k++ {
			if a[k].GetIndex() != b[k].GetIndex() || !bytes.Equal(a[k].GetData(), b[k].GetData()) {
				c.t.Fatalf("replica %d differs at index %d", id, b[k].GetIndex())
			}
		}
	}
}

func TestLeaderCrashLosesNoAckedRecord(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	acked := map[int64]string{}
	id := uint64(0)
	for round := 0; round < 3; round++ {
		for k := 0; k < 10; k++ {
			id++
			c.produce(id, 2, AcksAll)
			c.settle(id)
			if r := c.res[id]; r.Err == nil {
				acked[r.BaseOffset] = fmt.Sprintf("v%d", id)
			}
		}
		// Crash the leader: unsynced data lost; restart it from its disk.
		l := c.waitLeader()
		c.crash(l.cfg.ID)
		for i := 0; i < 30; i++ {
			c.tick()
		}
		c.start(l.cfg.ID)
	}
	l := c.waitLeader()
	for i := 0; i < 30; i++ {
		c.tick()
	}
	hw, _ := l.HighWatermark()
	batches, err := l.Read(0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	var want int64
	for _, b := range batches {
		off := stampedOffset(b)
		if off != want {
			t.Fatalf("offsets not contiguous: batch at %d, want %d", off, want)
		}
		want += headerInfo(b).count
		got[off] = string(b)
	}
	if want != hw {
		t.Fatalf("read up to %d, high watermark %d", want, hw)
	}
	if len(acked) < 20 {
		t.Fatalf("only %d of 30 requests acknowledged", len(acked))
	}
	t.Logf("%d acknowledged, high watermark %d after 3 leader crashes", len(acked), hw)
	for off, v := range acked {
		b, ok := got[off]
		if !ok || !bytes.Contains([]byte(b), []byte(v)) {
			t.Fatalf("acked record %q at offset %d lost", v, off)
		}
	}
	c.checkReplicasAgree()
}

// Fetch answers tail reads at once and cold ones with a plan that reads the
// same batches off the loop.
// sendLarge sends n batches of two 20,000-byte records (request ids 1..n),
// each acknowledged: the log spans several of the harness's 64 KiB segments.
func (c *cluster) sendLarge(n uint64) {
	c.t.Helper()
	value := string(bytes.Repeat([]byte("v"), 20000))
	for id := uint64(1); id <= n; id++ {
		if r := c.send(id, makeBatch(2, value, 1)); r.Err != nil {
			c.t.Fatal(r.Err)
		}
	}
}

func TestFetchPlan(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.sendLarge(200)
	l := c.waitLeader()
	planned := 0
	for _, off := range []int64{0, 5, 101, 250, 398, 399} {
		want, err := l.Read(off, 16<<10)
		if err != nil {
			t.Fatal(err)
		}
		got, plan, err := l.Fetch(off, 16<<10, true)
		if err != nil {
			t.Fatal(err)
		}
		if plan != nil {
			planned++
			if got, err = plan.Execute(); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) == 0 || len(got) > len(want) {
			t.Fatalf("fetch(%d): %d batches, read %d", off, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("fetch(%d): batch %d differs", off, i)
			}
		}
	}
	if planned == 0 {
		t.Fatal("no fetch needed a plan: the test reads only the tail cache")
	}
}

func TestOffsetsReported(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	for id := uint64(1); id <= 3; id++ {
		if r := c.send(id, makeBatch(2, "o", 1)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	l := c.waitLeader()
	hw, _ := l.HighWatermark()
	if l.LogStartOffset() != 0 || l.LastStableOffset() != hw || hw != 6 || l.LogEndOffset() != 6 {
		t.Fatalf("log start %d, LSO %d, HW %d, LEO %d", l.LogStartOffset(), l.LastStableOffset(), hw, l.LogEndOffset())
	}
	if _, err := l.Read(-1, 100); err == nil {
		t.Fatal("read below the log start offset accepted")
	}
	if _, err := l.Read(7, 100); err == nil {
		t.Fatal("read above the log end offset accepted")
	}
	if out := l.Ready(); !out.NeedsTick {
		t.Fatal("an active leader says it needs no ticks")
	}
}
