package raftlog_test

// Append benchmarks against two raw baselines measured in the same run:
// write+fdatasync appending to a plain file, and into a preallocated,
// zero-filled one. All use real files in the test's temp directory.
//
//	go test -run '^$' -bench 'Append|Raw' -benchtime=2s ./raftlog/
//
// MB/s is logical (entry bytes); syncs/s counts fdatasyncs (one per round).

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
			if size*batch > 8<<20 {
				continue
			}
			for _, comp := range []bool{false, true} {
				name := fmt.Sprintf("entry=%dKiB/batch=%d/data=%s", size>>10, batch, map[bool]string{false: "random", true: "2to1"}[comp])
				b.Run(name, func(b *testing.B) { benchAppend(b, size, batch, comp, true) })
			}
		}
	}
}

// BenchmarkAppendSustained includes preallocation: the pool fills in the
// background while the benchmark appends.
func BenchmarkAppendSustained(b *testing.B) {
	for _, batch := range batchSizes {
		b.Run(fmt.Sprintf("entry=1KiB/batch=%d/data=random", batch), func(b *testing.B) { benchAppend(b, 1<<10, batch, false, false) })
	}
}

const benchSegBytes = 64 << 20

func benchAppend(b *testing.B, size, batch int, comp, prefill bool) {
	fs := vfs.OS()
	dir := b.TempDir()
	total := int64(b.N) * int64(size*batch)
	segs := total/benchSegBytes + 1
	pool, err := writer.NewPool(fs, dir+"/spare", benchSegBytes, segs*benchSegBytes)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if prefill {
		if err := pool.WaitReady(int(segs)); err != nil {
			b.Fatal(err)
		}
		pool.StopFilling()
	}
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
	b.SetBytes(int64(size * batch))
	b.ReportAllocs()
	var written int64
	index := uint64(1)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
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
	}
	el := time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el, "syncs/s")
	b.ReportMetric(float64(written)/float64(total), "disk/logical")
}

// BenchmarkRawAppend is the baseline: write+fdatasync appending to a file.
func BenchmarkRawAppend(b *testing.B) {
	for _, size := range entrySizes {
		for _, batch := range batchSizes {
			if size*batch > 8<<20 {
				continue
			}
			b.Run(fmt.Sprintf("entry=%dKiB/batch=%d", size>>10, batch), func(b *testing.B) { benchRaw(b, size*batch, false) })
		}
	}
}

// BenchmarkRawPrealloc is the baseline: write+fdatasync into a preallocated,
// zero-filled file.
func BenchmarkRawPrealloc(b *testing.B) {
	for _, size := range entrySizes {
		for _, batch := range batchSizes {
			if size*batch > 8<<20 {
				continue
			}
			b.Run(fmt.Sprintf("entry=%dKiB/batch=%d", size>>10, batch), func(b *testing.B) { benchRaw(b, size*batch, true) })
		}
	}
}

func benchRaw(b *testing.B, n int, prealloc bool) {
	dir := b.TempDir()
	f, err := os.Create(dir + "/raw")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	total := int64(b.N) * int64(n)
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
	rng := rand.New(rand.NewPCG(2, uint64(n)))
	data := payload(rng, n, false)
	vf, err := vfs.OS().OpenReadWrite(dir + "/raw")
	if err != nil {
		b.Fatal(err)
	}
	defer vf.Close()
	b.SetBytes(int64(n))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := vf.WriteAt(data, int64(i)*int64(n)); err != nil {
			b.Fatal(err)
		}
		if err := vf.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "syncs/s")
}
