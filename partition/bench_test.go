package partition

// Benchmarks (numbers in the issue note):
//
//	go test -run '^$' -bench 'Replicate|Idle' ./partition/
//
// BenchmarkReplicate: one partition, 3 replicas in one process, the
// in-memory transport, acks=all, 32 produce requests in flight, batches of
// 1/16/256 records of 1 KiB. fs=mem is raft's own overhead; fs=os runs
// every write with fdatasync on real files (synchronously, one replica
// after another: a lower bound next to a broker's parallel disks).
// BenchmarkIdle: 1,000 partitions × 3 replicas ticking with no traffic.

import (
	"fmt"
	"runtime"
	"sort"
	"testing"
	"time"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
	"sluice/transport"
)

// group drives the replicas of one partition for benchmarks.
type group struct {
	tb    testing.TB
	gid   transport.GroupID
	ids   []uint64
	parts map[uint64]*Partition
	fs    map[uint64]vfs.FS
	net   *transport.Mem
	done  map[uint64]ProduceResult
	nowMs int64
}

func newGroup(tb testing.TB, gid transport.GroupID, mkfs func(id uint64) vfs.FS, net *transport.Mem, cfg Config) *group {
	g := &group{tb: tb, gid: gid, ids: []uint64{1, 2, 3}, parts: map[uint64]*Partition{}, fs: map[uint64]vfs.FS{},
		net: net, done: map[uint64]ProduceResult{}}
	for _, id := range g.ids {
		g.fs[id] = mkfs(id)
		l, err := raftlog.Open(g.fs[id], fmt.Sprintf("n%d/%v", id, gid.Partition), raftlog.Options{SegmentBytes: 16 << 20})
		if err != nil {
			tb.Fatal(err)
		}
		c := cfg
		c.ID, c.Voters, c.Group = id, g.ids, gid
		if g.parts[id], err = Open(c, l); err != nil {
			tb.Fatal(err)
		}
	}
	return g
}

// pump runs every replica's output and delivers the messages.
func (g *group) pump() {
	for _, id := range g.ids {
		p := g.parts[id]
		for {
			out := p.Ready()
			if len(out.Writes) == 0 && len(out.Messages) == 0 && len(out.Results) == 0 {
				break
			}
			for _, w := range out.Writes {
				p.WriteDone(w, w.Round.Run(g.fs[id]))
			}
			for _, m := range out.Messages {
				g.net.Node(id).Send(transport.Batch{From: id, To: m.GetTo(), Msgs: []transport.Envelope{{Group: g.gid, Msg: m}}})
			}
			for _, r := range out.Results {
				g.done[r.ID] = r
			}
		}
	}
}

func (g *group) deliver() {
	for _, b := range g.net.DeliverAll() {
		for _, e := range b.Msgs {
			if err := g.parts[b.To].Step(e.Msg); err != nil {
				g.tb.Fatal(err)
			}
		}
	}
}

func (g *group) tick() {
	g.nowMs += 100
	for _, id := range g.ids {
		g.parts[id].Tick(g.nowMs)
	}
}

func (g *group) leader() *Partition {
	for i := 0; i < 1000; i++ {
		for _, id := range g.ids {
			if p := g.parts[id]; p.isLeader() && p.ownTermCommitted {
				return p
			}
		}
		g.tick()
		g.pump()
		g.deliver()
	}
	g.tb.Fatal("no leader")
	return nil
}

func BenchmarkReplicate(b *testing.B) {
	for _, fsKind := range []string{"mem", "os"} {
		for _, records := range []int{1, 16, 256} {
			b.Run(fmt.Sprintf("fs=%s/records=%d", fsKind, records), func(b *testing.B) { benchReplicate(b, fsKind, records) })
		}
	}
}

func benchReplicate(b *testing.B, fsKind string, records int) {
	mkfs := func(id uint64) vfs.FS { return vfs.NewMem(id) }
	if fsKind == "os" {
		dir := b.TempDir()
		mkfs = func(id uint64) vfs.FS { return prefixFS{vfs.OS(), dir} }
	}
	g := newGroup(b, transport.GroupID{Partition: 0}, mkfs, transport.NewMem(transport.MemOptions{}), Config{MinInsyncReplicas: 2, MaxMessageBytes: 4 << 20})
	value := make([]byte, 1<<10)
	for i := range value {
		value[i] = byte(i * 31)
	}
	batch := makeBatch(records, string(value), 1)
	const inflight = 32
	lat := make([]time.Duration, 0, b.N)
	start := map[uint64]time.Time{}
	b.SetBytes(int64(records << 10))
	b.ReportAllocs()
	b.ResetTimer()
	t0 := time.Now()
	sent, acked := 0, 0
	for acked < b.N {
		l := g.leader()
		for sent < b.N && sent-acked < inflight {
			sent++
			start[uint64(sent)] = time.Now()
			l.Produce(ProduceRequest{ID: uint64(sent), Batch: append([]byte(nil), batch...), Acks: AcksAll})
		}
		g.pump()
		g.deliver()
		g.pump()
		for id, r := range g.done { //lint:maporder-ok test bookkeeping
			if r.Err != nil {
				b.Fatalf("request %d: %v", id, r.Err)
			}
			lat = append(lat, time.Since(start[id]))
			delete(g.done, id)
			acked++
		}
	}
	el := time.Since(t0)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N*records)/el.Seconds(), "records/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// prefixFS roots relative paths in a directory.
type prefixFS struct {
	vfs.FS
	root string
}

func (f prefixFS) p(name string) string                     { return f.root + "/" + name }
func (f prefixFS) Create(n string) (vfs.File, error)        { return f.FS.Create(f.p(n)) }
func (f prefixFS) Open(n string) (vfs.File, error)          { return f.FS.Open(f.p(n)) }
func (f prefixFS) OpenReadWrite(n string) (vfs.File, error) { return f.FS.OpenReadWrite(f.p(n)) }
func (f prefixFS) Rename(a, b string) error                 { return f.FS.Rename(f.p(a), f.p(b)) }
func (f prefixFS) Remove(n string) error                    { return f.FS.Remove(f.p(n)) }
func (f prefixFS) MkdirAll(d string) error                  { return f.FS.MkdirAll(f.p(d)) }
func (f prefixFS) List(d string) ([]string, error)          { return f.FS.List(f.p(d)) }
func (f prefixFS) SyncDir(d string) error                   { return f.FS.SyncDir(f.p(d)) }
func (f prefixFS) Stat(n string) (int64, error)             { return f.FS.Stat(f.p(n)) }

// BenchmarkIdle ticks 1,000 partitions × 3 replicas with no traffic and
// reports the CPU cost of one tick round (every replica ticked once, its
// heartbeats delivered) and the heap per replica. At a 100 ms tick the
// fraction of a core idle ticking costs is tick-round-ns / 1e8.
func BenchmarkIdle(b *testing.B) {
	for _, c := range []struct {
		hb, quiesce int
	}{{1, -1}, {3, -1}, {1, 20}} {
		b.Run(fmt.Sprintf("heartbeat-ticks=%d/quiesce=%v", c.hb, c.quiesce > 0), func(b *testing.B) { benchIdle(b, c.hb, c.quiesce) })
	}
}

func benchIdle(b *testing.B, heartbeatTicks, quiesceTicks int) {
	const parts = 1000
	net := transport.NewMem(transport.MemOptions{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	groups := make([]*group, parts)
	for i := range groups {
		groups[i] = newGroup(b, transport.GroupID{Partition: int32(i)}, func(id uint64) vfs.FS { return vfs.NewMem(id) }, net, Config{HeartbeatTicks: heartbeatTicks, QuiesceTicks: quiesceTicks})
	}
	for _, g := range groups {
		g.leader()
	}
	if quiesceTicks > 0 {
		// Let every group go quiet before measuring.
		for i := 0; i < quiesceTicks+5; i++ {
			idleRound(b, groups, net)
		}
		quiet := 0
		for _, g := range groups {
			for _, id := range g.ids {
				if g.parts[id].Quiesced() {
					quiet++
				}
			}
		}
		defer b.ReportMetric(float64(quiet)/float64(parts*3)*100, "%quiesced")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / float64(parts*3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idleRound(b, groups, net)
	}
	b.StopTimer()
	perRound := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perRound/1e8*100, "%core@100ms-tick")
	b.ReportMetric(heap, "heapB/replica")
}

// idleRound ticks every group once, delivers what that sent over the shared
// network, and runs the replies' output.
func idleRound(b *testing.B, groups []*group, net *transport.Mem) {
	for _, g := range groups {
		g.tick()
		g.pump()
	}
	for _, bt := range net.DeliverAll() {
		for _, e := range bt.Msgs {
			if err := groups[e.Group.Partition].parts[bt.To].Step(e.Msg); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, g := range groups {
		g.pump()
	}
}
