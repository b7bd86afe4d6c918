package raftlog_test

// BenchmarkAppend measures the log against two raw baselines in the same
// run, interleaved operation by operation (the order rotating), so that the
// disk's drift and other load on the machine touch all three alike:
//
//	raw-append      write+fdatasync of the same bytes appending to a plain file
//	raw-prealloc    write+fdatasync into a preallocated, zero-filled file
//
//	go test -run '^$' -bench 'BenchmarkAppend$' -benchtime=2s ./raftlog/
//
// ns/op, MB/s and syncs/s are the log's alone: MB/s is logical (entry
// bytes), syncs/s counts rounds (one fdatasync of the data file each). The
// baselines write batch*entry bytes per sync; vs-best-raw is the log's MB/s
// over the better baseline's. The log's segments come from a pool
// preallocated and zeroed before the timer starts, as the raw-prealloc file
// is; pool-misses counts segments that had to be created in the timed path
// (it should be 0).

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
	"sluice/raftlog/writer"
)

var (
	entrySizes = []int{1 << 10, 64 << 10}
	batchSizes = []int{1, 16, 256}
)

// payload returns n bytes: incompressible (random) or about 2:1 for snappy
// (32 random bytes alternating with 32 bytes of a repeated word).
func payload(rng *rand.Rand, n int, compressible bool) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		w := rng.Uint64()
		if compressible && (i/32)%2 == 1 {
			w = 0x0101010101010101
		}
		for k := 0; k < 8 && i+k < n; k++ {
			b[i+k] = byte(w >> (8 * k))
		}
	}
	return b
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range entrySizes {
		for _, batch := range batchSizes {
			for _, comp := range []bool{false, true} {
				name := fmt.Sprintf("entry=%dKiB/batch=%d/data=%s", size>>10, batch, map[bool]string{false: "random", true: "2to1"}[comp])
				b.Run(name, func(b *testing.B) { benchAppend(b, size, batch, comp, true) })
			}
		}
	}
}

// BenchmarkAppendSustained includes preallocation: the pool fills in the
// background while the benchmark appends (no raw baselines).
func BenchmarkAppendSustained(b *testing.B) {
	for _, batch := range batchSizes {
		b.Run(fmt.Sprintf("entry=1KiB/batch=%d/data=random", batch), func(b *testing.B) { benchAppend(b, 1<<10, batch, false, false) })
	}
}

const benchSegBytes = 64 << 20

// benchAppend appends b.N rounds of batch entries of size bytes. With
// prefill, segments are preallocated before the timer and the raw
// baselines run interleaved with the log.
func benchAppend(b *testing.B, size, batch int, comp, prefill bool) {
	fs := vfs.OS()
	dir := b.TempDir()
	n := size * batch
	total := int64(b.N) * int64(n)
	// Segments needed: entries with their frame overhead (50 bytes), a sync
	// mark per round, and the slack a segment leaves at its end.
	disk := int64(b.N) * int64(batch*(size+64)+64)
	segs := disk/(benchSegBytes-int64(size+64)-4096) + 2
	pool, err := writer.NewPool(fs, dir+"/spare", benchSegBytes, segs*benchSegBytes)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	var raws []*rawFile
	if prefill {
		if err := pool.WaitReady(int(segs)); err != nil {
			b.Fatal(err)
		}
		pool.StopFilling()
		raws = []*rawFile{newRawFile(b, dir+"/raw-prealloc", n, total, true), newRawFile(b, dir+"/raw-append", n, total, false)}
	}
	before := pool.Stats()
	l, err := raftlog.Open(fs, dir+"/p0", raftlog.Options{SegmentBytes: benchSegBytes, Allocator: pool})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(1, uint64(size)))
	// A pool of distinct payloads so compression sees realistic data.
	datas := make([][]byte, 64)
	for i := range datas {
		datas[i] = payload(rng, size, comp)
	}
	b.ReportAllocs()
	var written int64
	var logTime time.Duration
	index := uint64(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Rotate which of the three goes first, so none always follows the
		// same neighbour.
		for k := 0; k <= len(raws); k++ {
			if j := (i + k) % (len(raws) + 1); j < len(raws) {
				raws[j].op(b)
				continue
			}
			start := time.Now()
			ents := make([]*pb.Entry, batch)
			for k := range ents {
				ents[k] = &pb.Entry{Index: new(index), Term: new(uint64(1)), Data: datas[(int(index))%len(datas)]}
				index++
			}
			r, err := l.Append(raftlog.Batch{Entries: ents})
			if err != nil {
				b.Fatal(err)
			}
			written += r.Bytes()
			if err := l.Complete(r, r.Run(fs)); err != nil {
				b.Fatal(err)
			}
			logTime += time.Since(start)
		}
	}
	b.StopTimer()
	perSec := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
	b.ReportMetric(float64(logTime.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(perSec(logTime)*float64(n)/1e6, "MB/s")
	b.ReportMetric(perSec(logTime), "syncs/s")
	b.ReportMetric(float64(written)/float64(total), "disk/logical")
	b.ReportMetric(float64(pool.Stats().Misses-before.Misses), "pool-misses")
	if len(raws) > 0 {
		pre, app := perSec(raws[0].time)*float64(n)/1e6, perSec(raws[1].time)*float64(n)/1e6
		b.ReportMetric(pre, "raw-prealloc-MB/s")
		b.ReportMetric(app, "raw-append-MB/s")
		b.ReportMetric(perSec(logTime)*float64(n)/1e6/max(pre, app), "vs-best-raw")
	}
}

// rawFile is a baseline: write+fdatasync of n bytes at a time, appending to
// a new file or into one preallocated and zero-filled (then synced) first.
type rawFile struct {
	f    vfs.File
	data []byte
	off  int64
	time time.Duration
}

func newRawFile(b *testing.B, path string, n int, total int64, prealloc bool) *rawFile {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if prealloc {
		zero := make([]byte, 1<<20)
		for off := int64(0); off < total; off += int64(len(zero)) {
			if _, err := f.WriteAt(zero[:min(int64(len(zero)), total-off)], off); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	vf, err := vfs.OS().OpenReadWrite(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { vf.Close() })
	rng := rand.New(rand.NewPCG(2, uint64(n)))
	return &rawFile{f: vf, data: payload(rng, n, false)}
}

func (r *rawFile) op(b *testing.B) {
	start := time.Now()
	if _, err := r.f.WriteAt(r.data, r.off); err != nil {
		b.Fatal(err)
	}
	if err := r.f.Sync(); err != nil {
		b.Fatal(err)
	}
	r.off += int64(len(r.data))
	r.time += time.Since(start)
}
