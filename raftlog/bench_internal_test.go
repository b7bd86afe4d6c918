package raftlog

// BenchmarkEntries reads 16 consecutive 1 KiB entries from the tail cache
// and from closed segments (sparse index, then a scan), on real files.
// BenchmarkIndexMemory reports the heap the log keeps per retained entry.
//
//	go test -run '^$' -bench 'Entries|IndexMemory' ./raftlog/

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// fillLog appends n 1 KiB entries in batches of 64.
func fillLog(tb testing.TB, fs vfs.FS, dir string, n int, opts Options) *Log {
	l, err := Open(fs, dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	data := make([]byte, 1<<10)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for i := 1; i <= n; i += 64 {
		var ents []*pb.Entry
		var metas []EntryMeta
		for k := i; k < i+64 && k <= n; k++ {
			ents = append(ents, &pb.Entry{Index: new(uint64(k)), Term: new(uint64(1)), Data: data})
			metas = append(metas, EntryMeta{BaseOffset: int64(k-1) * 10, Count: 10, MaxTimestamp: int64(k)})
		}
		r, err := l.Append(Batch{Entries: ents, Metas: metas})
		if err != nil {
			tb.Fatal(err)
		}
		if err := l.Complete(r, r.Run(fs)); err != nil {
			tb.Fatal(err)
		}
	}
	return l
}

func BenchmarkEntries(b *testing.B) {
	const n = 20000
	l := fillLog(b, vfs.OS(), b.TempDir()+"/p0", n, Options{SegmentBytes: 4 << 20, TailCacheBytes: 2 << 20})
	defer l.Close()
	if l.tailFirst < n-3000 || len(l.segs) < 3 {
		b.Fatalf("setup: tail starts at %d, %d segments", l.tailFirst, len(l.segs))
	}
	for _, c := range []struct {
		name string
		lo   uint64
	}{{"tail", n - 100}, {"cold", 1000}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(16 << 10)
			rng := rand.New(rand.NewPCG(7, 8))
			for i := 0; i < b.N; i++ {
				lo := c.lo + uint64(rng.IntN(64))
				ents, err := l.Entries(lo, lo+16, 1<<20)
				if err != nil || len(ents) != 16 {
					b.Fatalf("%d entries, %v", len(ents), err)
				}
			}
		})
	}
}

func BenchmarkIndexMemory(b *testing.B) {
	for _, n := range []int{20000, 100000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			fs := vfs.NewMem(1)
			opts := Options{SegmentBytes: 8 << 20}
			l := fillLog(b, fs, "p0", n, opts)
			l.Close()
			var before, after runtime.MemStats
			for i := 0; i < b.N; i++ {
				runtime.GC()
				runtime.ReadMemStats(&before)
				l, err := Open(fs, "p0", opts)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "heapB/entry")
				var sparse int
				for _, s := range l.segs {
					sparse += len(s.sparse)
				}
				b.ReportMetric(float64(sparse)/float64(n), "sparse/entry")
				runtime.KeepAlive(l)
				l.Close()
			}
		})
	}
}
