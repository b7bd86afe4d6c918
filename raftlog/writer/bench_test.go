package writer

// BenchmarkGroupCommit: P partitions each append one 1 KiB entry per
// iteration; one group-commit cycle writes them all and syncs every touched
// (preallocated) file once: in parallel, one fdatasync each (sync=file), or
// all with one syncfs (sync=whole, Options.WholeSync). Reports MB/s,
// cycles/s and the p50 and p99 cycle latency.
//
//	go test -run '^$' -bench GroupCommit -benchtime=3s ./raftlog/writer/

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
)

func BenchmarkGroupCommit(b *testing.B) {
	for _, parts := range []int{12, 1000} {
		for _, whole := range []bool{false, true} {
			name := fmt.Sprintf("partitions=%d/sync=%s", parts, map[bool]string{false: "file", true: "whole"}[whole])
			b.Run(name, func(b *testing.B) { benchGroupCommit(b, parts, whole) })
		}
	}
}

func benchGroupCommit(b *testing.B, parts int, whole bool) {
	const entryBytes = 1 << 10
	// Small segments keep preallocation (outside the timer) affordable for
	// 1,000 partitions; each holds 200+ entries, so no partition rolls in a
	// typical run, and a roll takes a preallocated file.
	segBytes := int64(256 << 10)
	if perPart := int64(b.N)*(entryBytes+100) + 64<<10; perPart > segBytes {
		segBytes = perPart
	}
	fs := vfs.OS()
	dir := b.TempDir()
	pool, err := NewPool(fs, dir+"/spare", segBytes, int64(parts+4)*segBytes)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if err := pool.WaitReady(parts + 4); err != nil {
		b.Fatal(err)
	}
	pool.StopFilling()
	logs := make([]*raftlog.Log, parts)
	for p := range logs {
		if logs[p], err = raftlog.Open(fs, fmt.Sprintf("%s/p%d", dir, p), raftlog.Options{SegmentBytes: segBytes, Allocator: pool}); err != nil {
			b.Fatal(err)
		}
		defer logs[p].Close()
	}
	var opts Options
	if whole {
		ws, err := fs.(vfs.WholeSyncer).OpenWholeSync(dir)
		if err != nil {
			b.Skipf("no whole-file-system sync here: %v", err)
		}
		defer ws.Close()
		opts.WholeSync = ws
	}
	w := New(fs, opts)
	defer w.Close()
	results := make(chan result, parts)
	done := func(r *raftlog.Round, err error) { results <- result{r, err} }
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, entryBytes)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	lat := make([]time.Duration, 0, b.N)
	rounds := make([]*raftlog.Round, 0, parts)
	b.SetBytes(int64(parts * entryBytes))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		rounds = rounds[:0]
		for _, l := range logs {
			idx := uint64(i + 1)
			r, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{{Index: &idx, Term: new(uint64(1)), Data: data}}})
			if err != nil {
				b.Fatal(err)
			}
			rounds = append(rounds, r)
		}
		if err := w.SubmitAll(rounds, done); err != nil {
			b.Fatal(err)
		}
		for range logs {
			res := <-results
			if err := res.r.Log().Complete(res.r, res.err); err != nil {
				b.Fatal(err)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	el := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/el.Seconds(), "rounds/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
	st := pool.Stats()
	b.ReportMetric(float64(st.Misses), "pool-misses")
}

// BenchmarkRawParallelSync is GroupCommit's baseline in the same run: P
// preallocated, zero-filled files, each written 1 KiB and then all synced
// once, SyncWorkers at a time, with no log in between.
func BenchmarkRawParallelSync(b *testing.B) {
	for _, parts := range []int{12, 1000} {
		b.Run(fmt.Sprintf("files=%d", parts), func(b *testing.B) {
			const entryBytes = 1 << 10
			fileBytes := int64(256 << 10)
			if need := int64(b.N) * entryBytes; need > fileBytes {
				fileBytes = need
			}
			fs := vfs.OS()
			dir := b.TempDir()
			pool, err := NewPool(fs, dir+"/spare", fileBytes, int64(parts)*fileBytes)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			if err := pool.WaitReady(parts); err != nil {
				b.Fatal(err)
			}
			pool.StopFilling()
			files := make([]vfs.File, parts)
			for p := range files {
				f, _, err := pool.Allocate(fs, fmt.Sprintf("%s/f%d", dir, p), fileBytes)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				files[p] = f
			}
			if err := fs.SyncDir(dir); err != nil {
				b.Fatal(err)
			}
			w := New(fs, Options{})
			defer w.Close()
			data := make([]byte, entryBytes)
			lat := make([]time.Duration, 0, b.N)
			b.SetBytes(int64(parts * entryBytes))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				for _, f := range files {
					if _, err := f.WriteAt(data, int64(i)*entryBytes); err != nil {
						b.Fatal(err)
					}
				}
				for _, err := range w.parallel(len(files), func(k int) error { return files[k].Sync() }) {
					if err != nil {
						b.Fatal(err)
					}
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
		})
	}
}
