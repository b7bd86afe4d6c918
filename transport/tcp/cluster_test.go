package tcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/partition"
	"sluice/raftlog"
	"sluice/raftlog/vfs"
	"sluice/transport"
)

// The integration test of issue 5: three brokers, each a driver loop over
// three partitions on real files, talking over this transport on
// 127.0.0.1. The driver is a minimal stand-in for node/runtime: one
// goroutine owns a broker's partitions; the transport's goroutines only post
// to it.

const clusterTickMs = 20

// broker drives one broker's partitions.
type broker struct {
	t     testing.TB
	id    uint64
	dir   string
	tr    *Transport
	parts map[transport.GroupID]*partition.Partition
	logs  []*raftlog.Log
	order []transport.GroupID

	mu      sync.Mutex
	pending []func() // posted by the transport, run by the loop
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}

	// Owned by the loop.
	nowMs   int64
	results map[uint64]partition.ProduceResult
	unknown int // messages for groups this broker does not host
	incs    int // incarnation announcements received
}

// maxPending bounds what waits for a broker's loop; past it Deliver refuses.
const maxPending = 4096

func startBroker(t testing.TB, id uint64, dir string, ln net.Listener, addrs map[uint64]string, groups []transport.GroupID) *broker {
	t.Helper()
	b := &broker{t: t, id: id, dir: dir, parts: map[transport.GroupID]*partition.Partition{}, order: groups,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), results: map[uint64]partition.ProduceResult{}}
	for _, g := range groups {
		l, err := raftlog.Open(vfs.OS(), filepath.Join(dir, fmt.Sprintf("p%d", g.Partition)), raftlog.Options{SegmentBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		p, err := partition.Open(partition.Config{ID: id, Group: g, Voters: []uint64{1, 2, 3}, QuiesceTicks: -1,
			MinInsyncReplicas: 2, Incarnation: [16]byte{byte(id)}}, l)
		if err != nil {
			t.Fatal(err)
		}
		b.logs = append(b.logs, l)
		b.parts[g] = p
	}
	peers := map[uint64]string{}
	for pid, a := range addrs {
		if pid != id {
			peers[pid] = a
		}
	}
	tr, err := New(Config{ID: id, ClusterID: clusterA, Incarnation: [16]byte{byte(id)}, Listener: ln, Peers: peers,
		Deliver: b.deliver, Reporter: b, Logger: slog.New(slog.DiscardHandler),
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b.tr = tr
	go b.loop()
	return b
}

func (b *broker) post(f func()) bool {
	b.mu.Lock()
	if len(b.pending) >= maxPending {
		b.mu.Unlock()
		return false
	}
	b.pending = append(b.pending, f)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return true
}

func (b *broker) deliver(bt transport.Batch) bool {
	return b.post(func() {
		b.incs += len(bt.Incarnations)
		for _, e := range bt.Msgs {
			p := b.parts[e.Group]
			if p == nil {
				b.unknown++
				continue
			}
			if err := p.Step(e.Msg); err != nil {
				b.t.Errorf("broker %d: step %v of %v: %v", b.id, e.Msg.GetType(), e.Group, err)
			}
		}
	})
}

// Unreachable and SnapshotStatus implement transport.Reporter.
func (b *broker) Unreachable(g transport.GroupID, node uint64) {
	b.post(func() {
		if p := b.parts[g]; p != nil {
			p.ReportUnreachable(node)
		}
	})
}

func (b *broker) SnapshotStatus(g transport.GroupID, node uint64, ok bool) {
	b.post(func() {
		if p := b.parts[g]; p != nil {
			p.ReportSnapshot(node, ok)
		}
	})
}

// do runs f on the loop and waits for it.
func (b *broker) do(f func()) {
	ran := make(chan struct{})
	for !b.post(func() { f(); close(ran) }) {
		time.Sleep(time.Millisecond)
	}
	<-ran
}

func (b *broker) loop() {
	defer close(b.done)
	tick := time.NewTicker(clusterTickMs * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-b.quit:
			return
		case <-tick.C:
			b.nowMs += clusterTickMs
			for _, g := range b.order {
				b.parts[g].Tick(b.nowMs)
			}
		case <-b.wake:
		}
		b.mu.Lock()
		fs := b.pending
		b.pending = nil
		b.mu.Unlock()
		for _, f := range fs {
			f()
		}
		b.ready()
	}
}

// ready carries out every partition's output: writes synchronously, then
// the messages, one batch per destination.
func (b *broker) ready() {
	out := map[uint64][]transport.Envelope{}
	for _, g := range b.order {
		p := b.parts[g]
		for range 10 {
			o := p.Ready()
			for _, w := range o.Writes {
				p.WriteDone(w, w.Round.Run(vfs.OS()))
			}
			for _, m := range o.Messages {
				out[m.GetTo()] = append(out[m.GetTo()], transport.Envelope{Group: g, Msg: m})
			}
			for _, r := range o.Results {
				b.results[r.ID] = r
			}
			if len(o.Writes) == 0 && len(o.Messages) == 0 {
				break
			}
		}
	}
	for to := uint64(1); to <= 3; to++ {
		if len(out[to]) > 0 {
			b.tr.Send(transport.Batch{From: b.id, To: to, Msgs: out[to]})
		}
	}
}

// stop ends the loop, the transport and the logs, as a broker shutting
// down; everything written so far was synced by its round.
func (b *broker) stop() {
	close(b.quit)
	<-b.done
	b.tr.Close()
	for _, l := range b.logs {
		l.Close()
	}
}

// leading reports whether b leads g and has committed in its term.
func (b *broker) leading(g transport.GroupID) (ok bool) {
	b.do(func() {
		p := b.parts[g]
		lead, _ := p.Leader()
		_, hwOK := p.HighWatermark()
		ok = lead == b.id && hwOK
	})
	return ok
}

type testCluster struct {
	t       testing.TB
	groups  []transport.GroupID
	addrs   map[uint64]string
	dirs    map[uint64]string
	brokers map[uint64]*broker // nil while stopped
	nextID  uint64
	// produced lists each group's values in the order they were acked.
	produced map[transport.GroupID][]string
}

func (c *testCluster) leader(g transport.GroupID) *broker {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for id := uint64(1); id <= 3; id++ {
			if b := c.brokers[id]; b != nil && b.leading(g) {
				return b
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("no leader for %v", g)
	return nil
}

// produce appends one batch of value to g with acks=all, retrying on a
// leader change, and waits for the ack.
func (c *testCluster) produce(g transport.GroupID, value string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b := c.leader(g)
		c.nextID++
		id := c.nextID
		b.do(func() {
			b.parts[g].Produce(partition.ProduceRequest{ID: id, Batch: makeBatch(2, value, 1000), Acks: partition.AcksAll})
		})
		// Wait for this proposal's own answer until the deadline: giving
		// up on a slow one and proposing the value again could commit it
		// twice (a slow round under -race on a loaded machine).
		for time.Now().Before(deadline) {
			var r partition.ProduceResult
			var ok bool
			b.do(func() { r, ok = b.results[id] })
			if ok && r.Err == nil {
				c.produced[g] = append(c.produced[g], value)
				return
			}
			if ok {
				break // not the leader any more: try again
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	c.t.Fatalf("produce %q to %v never acknowledged", value, g)
}

// checkRead reads g from its leader: every acked value, in order.
func (c *testCluster) checkRead(g transport.GroupID) {
	c.t.Helper()
	b := c.leader(g)
	var batches [][]byte
	var err error
	b.do(func() { batches, err = b.parts[g].Read(0, 1<<20) })
	if err != nil {
		c.t.Fatalf("read %v: %v", g, err)
	}
	if len(batches) != len(c.produced[g]) {
		c.t.Fatalf("%v: leader %d read %d batches, %d were acked", g, b.id, len(batches), len(c.produced[g]))
	}
	for i, v := range c.produced[g] {
		if !bytes.Contains(batches[i], []byte(v)) {
			c.t.Fatalf("%v: batch %d does not hold %q", g, i, v)
		}
	}
}

func TestClusterOverTCP(t *testing.T) {
	groups := []transport.GroupID{
		{TopicID: [16]byte{0x51}, Partition: 0},
		{TopicID: [16]byte{0x51}, Partition: 1},
		{TopicID: [16]byte{0x51}, Partition: 2},
	}
	c := &testCluster{t: t, groups: groups, addrs: map[uint64]string{}, dirs: map[uint64]string{},
		brokers: map[uint64]*broker{}, produced: map[transport.GroupID][]string{}}
	lns := map[uint64]net.Listener{}
	for id := uint64(1); id <= 3; id++ {
		lns[id] = listen(t, "127.0.0.1:0")
		c.addrs[id] = lns[id].Addr().String()
		c.dirs[id] = t.TempDir()
	}
	for id := uint64(1); id <= 3; id++ {
		c.brokers[id] = startBroker(t, id, c.dirs[id], lns[id], c.addrs, groups)
	}
	defer func() {
		for _, b := range c.brokers {
			if b != nil {
				b.stop()
			}
		}
	}()

	for round := range 5 {
		for _, g := range groups {
			c.produce(g, fmt.Sprintf("before-%d-%d", g.Partition, round))
		}
	}

	// Stop the broker leading the first partition, and remember what its
	// logs hold.
	down := c.leader(groups[0])
	ends := map[transport.GroupID]int64{}
	down.do(func() {
		for _, g := range groups {
			ends[g] = down.parts[g].LogEndOffset()
		}
	})
	down.stop()
	c.brokers[down.id] = nil

	// The other two elect a leader where needed and go on.
	for round := range 5 {
		for _, g := range groups {
			c.produce(g, fmt.Sprintf("during-%d-%d", g.Partition, round))
		}
	}

	// Reopen it from its disk, on its address: its logs hold what they did.
	b := startBroker(t, down.id, c.dirs[down.id], listen(t, c.addrs[down.id]), c.addrs, groups)
	c.brokers[down.id] = b
	b.do(func() {
		for _, g := range groups {
			if got := b.parts[g].LogEndOffset(); got < ends[g] || ends[g] < 10 {
				t.Errorf("%v: broker %d reopened with log end %d, had %d", g, b.id, got, ends[g])
			}
		}
	})
	for round := range 5 {
		for _, g := range groups {
			c.produce(g, fmt.Sprintf("after-%d-%d", g.Partition, round))
		}
	}
	for _, g := range groups {
		c.checkRead(g)
	}

	// Every replica, the restarted one included, catches up to the same
	// records.
	for _, g := range groups {
		want := int64(2 * len(c.produced[g]))
		waitFor(t, fmt.Sprintf("replicas of %v to apply offset %d", g, want), func() bool {
			for _, b := range c.brokers {
				var applied int64
				b.do(func() { applied = b.parts[g].AppliedOffset() })
				if applied != want {
					return false
				}
			}
			return true
		})
		var ref [][]byte
		for id := uint64(1); id <= 3; id++ {
			b := c.brokers[id]
			var got [][]byte
			var err error
			b.do(func() { got, err = b.parts[g].ReadApplied(0, 1<<20) })
			if err != nil {
				t.Fatalf("broker %d: read applied %v: %v", id, g, err)
			}
			if ref == nil {
				ref = got
			} else if len(got) != len(ref) || !bytes.Equal(bytes.Join(got, nil), bytes.Join(ref, nil)) {
				t.Fatalf("%v: broker %d holds %d batches that differ from broker 1's %d", g, id, len(got), len(ref))
			}
		}
	}
	var unknown, incs int
	for _, b := range c.brokers {
		b.do(func() { unknown, incs = unknown+b.unknown, incs+b.incs })
	}
	if unknown != 0 || incs < 6 {
		t.Errorf("%d messages for unknown groups, %d incarnation announcements", unknown, incs)
	}
	for _, b := range c.brokers {
		if s := b.tr.Stats(); s.MalformedFrames != 0 || s.RefusedHandshakes != 0 {
			t.Errorf("broker %d: %+v", b.id, s)
		}
	}
}

// makeBatch encodes a magic-2 record batch of n records holding value, as a
// Kafka producer sends it (see partition's tests).
func makeBatch(n int, value string, ts int64) []byte {
	var recs []byte
	for i := range n {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte(value)}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1) // Length 0 encodes as one varint byte
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(n - 1), FirstTimestamp: ts, MaxTimestamp: ts + int64(n-1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: recs}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
