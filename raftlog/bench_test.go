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
//
// The log is driven two ways (mode=):
//
//	seq   Append, then run the round (write, fdatasync), then Complete, on
//	      one goroutine: the encoding (framing, CRC, the copy into the
//	      round's buffer) and the I/O add up.
//	pipe  the shape raft's AsyncStorageWrites gives a broker: a second
//	      goroutine owns the log (Complete, then make and Append the next
//	      batch) while the benchmark's goroutine runs rounds as the writer
//	      does, one at a time, each with its own fdatasync. The owner keeps
//	      two rounds queued, so encoding overlaps I/O. The log takes 64
//	      rounds per turn and its time ends when the owner has caught up
//	      (the last Append of a turn is counted, not hidden), so none of
//	      its work overlaps a baseline's. That wait, drain-ns/op, is the
//	      benchmark's own cost (a writer never stops to let baselines
//	      run): a turn of 8 rounds charged 18–20 µs a round for it at
//	      1 KiB × 256, a turn of 64 charges 2–3 µs.
//
// The entries themselves (raft's work) are made before the clock starts in
// seq, and by the owner in pipe. Each comes with the CRC32C of its data, as
// a partition's produce entries come with their Kafka batch's (Batch.Known):
// the log derives the frames' CRCs of entries from 4 KiB on from it rather
// than reading their bytes again. BenchmarkAppendComputedCRC shows the
// 64 KiB cells without it.

import (
	"fmt"
	"hash/crc32"
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
				for _, pipe := range []bool{false, true} {
					name := fmt.Sprintf("entry=%dKiB/batch=%d/data=%s/mode=%s", size>>10, batch, map[bool]string{false: "random", true: "2to1"}[comp], map[bool]string{false: "seq", true: "pipe"}[pipe])
					b.Run(name, func(b *testing.B) { benchAppend(b, size, batch, comp, true, pipe, true) })
				}
			}
		}
	}
}

// BenchmarkAppendSustained includes preallocation: the pool fills in the
// background while the benchmark appends (no raw baselines).
func BenchmarkAppendSustained(b *testing.B) {
	for _, batch := range batchSizes {
		b.Run(fmt.Sprintf("entry=1KiB/batch=%d/data=random", batch), func(b *testing.B) { benchAppend(b, 1<<10, batch, false, false, false, true) })
	}
}

// BenchmarkAppendComputedCRC is BenchmarkAppend's 64 KiB cells with
// entries that come without a known CRC: the log reads every byte to
// compute its frames' CRCs, from memory the benchmark's rotating payloads
// have let go cold.
func BenchmarkAppendComputedCRC(b *testing.B) {
	for _, batch := range batchSizes[1:] {
		for _, pipe := range []bool{false, true} {
			name := fmt.Sprintf("entry=64KiB/batch=%d/data=random/mode=%s", batch, map[bool]string{false: "seq", true: "pipe"}[pipe])
			b.Run(name, func(b *testing.B) { benchAppend(b, 64<<10, batch, false, true, pipe, false) })
		}
	}
}

const benchSegBytes = 64 << 20

// benchAppend appends b.N rounds of batch entries of size bytes. With
// prefill, segments are preallocated before the timer and the raw
// baselines run interleaved with the log. pipe: see BenchmarkAppend. known:
// entries come with their data's CRC32C.
func benchAppend(b *testing.B, size, batch int, comp, prefill, pipe, known bool) {
	fs := vfs.OS()
	dir := b.TempDir()
	n := size * batch
	total := int64(b.N) * int64(n)
	// Segments needed: entries with their frame overhead (25–60 bytes), a sync
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
		raws = []*rawFile{newRawFile(b, dir+"/raw-prealloc", n, 64*size, total, true), newRawFile(b, dir+"/raw-append", n, 64*size, total, false)}
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
	crcs := make([]uint32, len(datas))
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	for i := range datas {
		datas[i] = payload(rng, size, comp)
		crcs[i] = crc32.Checksum(datas[i], castagnoli)
	}
	index := uint64(1)
	var written int64
	makeEntries := func() raftlog.Batch {
		ents := make([]*pb.Entry, batch)
		var ks []raftlog.KnownCRC
		if known {
			ks = make([]raftlog.KnownCRC, batch)
		}
		for k := range ents {
			d := int(index) % len(datas)
			ents[k] = &pb.Entry{Index: new(index), Term: new(uint64(1)), Data: datas[d]}
			if known {
				ks[k] = raftlog.KnownCRC{Len: size, CRC: crcs[d]}
			}
			index++
		}
		return raftlog.Batch{Entries: ents, Known: ks}
	}
	appendEntries := func() (*raftlog.Round, error) {
		r, err := l.Append(makeEntries())
		if err == nil {
			written += r.Bytes()
		}
		return r, err
	}
	// pipe: a second goroutine owns the log as a partition's event loop
	// does: it Completes each round the benchmark's goroutine (the writer)
	// ran and Appends the next, keeping two rounds queued ahead so that
	// the writer never waits for it to be scheduled. The log runs pipeOps
	// rounds at a turn and its time ends when the owner has caught up, so
	// none of its work overlaps a baseline's.
	type ran struct {
		r   *raftlog.Round
		err error
	}
	const ahead, pipeOps = 2, 64
	rounds, results := make(chan *raftlog.Round, ahead), make(chan ran, pipeOps)
	caughtUp := make(chan struct{}, pipeOps) // one per round completed and replaced
	ownerErr := make(chan error, 1)
	owned := false // results not yet closed: the owner goroutine runs
	stopOwner := func() (unrun int64) {
		if owned {
			owned = false
			close(results)
			for r := range rounds {
				unrun += r.Bytes()
			}
		}
		return unrun
	}
	defer stopOwner()
	if pipe {
		owned = true
		go func() {
			defer close(rounds)
			for k := 0; k < ahead; k++ {
				r, err := appendEntries()
				if err != nil {
					ownerErr <- err
					return
				}
				rounds <- r
			}
			for d := range results {
				if err := l.Complete(d.r, d.err); err != nil {
					ownerErr <- err
					return
				}
				r, err := appendEntries()
				if err != nil {
					ownerErr <- err
					return
				}
				rounds <- r
				caughtUp <- struct{}{}
			}
		}()
	}
	b.ReportAllocs()
	var logTime, drain time.Duration
	logOps := func(c int) {
		if !pipe {
			for ; c > 0; c-- {
				bt := makeEntries()
				start := time.Now()
				r, err := l.Append(bt)
				if err != nil {
					b.Fatal(err)
				}
				written += r.Bytes()
				if err := l.Complete(r, r.Run(fs)); err != nil {
					b.Fatal(err)
				}
				logTime += time.Since(start)
			}
			return
		}
		start := time.Now()
		for k := 0; k < c; k++ {
			r, ok := <-rounds
			if !ok {
				b.Fatal(<-ownerErr)
			}
			results <- ran{r, r.Run(fs)}
		}
		drainStart := time.Now()
		for k := 0; k < c; k++ {
			select {
			case <-caughtUp:
			case err := <-ownerErr:
				b.Fatal(err)
			}
		}
		drain += time.Since(drainStart)
		logTime += time.Since(start)
	}
	turn := 1
	if pipe {
		turn = pipeOps
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += turn {
		c := min(turn, b.N-i)
		// Rotate which of the three goes first, so none always follows the
		// same neighbour.
		for k := 0; k <= len(raws); k++ {
			if j := (i/turn + k) % (len(raws) + 1); j < len(raws) {
				for range c {
					raws[j].op(b)
				}
				continue
			}
			logOps(c)
		}
	}
	b.StopTimer()
	unrun := stopOwner() // made but never run
	written -= unrun
	perSec := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
	b.ReportMetric(float64(logTime.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(perSec(logTime)*float64(n)/1e6, "MB/s")
	b.ReportMetric(perSec(logTime), "syncs/s")
	b.ReportMetric(float64(written)/float64(total), "disk/logical")
	b.ReportMetric(float64(pool.Stats().Misses-before.Misses), "pool-misses")
	if pipe {
		b.ReportMetric(float64(drain.Nanoseconds())/float64(b.N), "drain-ns/op")
	}
	if len(raws) > 0 {
		pre, app := perSec(raws[0].time)*float64(n)/1e6, perSec(raws[1].time)*float64(n)/1e6
		b.ReportMetric(pre, "raw-prealloc-MB/s")
		b.ReportMetric(app, "raw-append-MB/s")
		b.ReportMetric(perSec(logTime)*float64(n)/1e6/max(pre, app), "vs-best-raw")
	}
}

// rawFile is a baseline: write+fdatasync of n bytes at a time, appending to
// a new file or into one preallocated and zero-filled (then synced) first.
// Each write takes the next n bytes of a buffer at least as large as the
// log's pool of payloads (64 entries), so that the baseline's data is no
// hotter in the CPU's caches than the log's: a single n-byte buffer written
// again and again stays in cache, which made the kernel's copy of 1 MiB a
// third faster for the baseline than for the log.
type rawFile struct {
	f    vfs.File
	data []byte
	n    int
	from int // where in data the next write starts
	off  int64
	time time.Duration
}

func newRawFile(b *testing.B, path string, n, poolBytes int, total int64, prealloc bool) *rawFile {
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
	return &rawFile{f: vf, data: payload(rng, max(n, poolBytes), false), n: n}
}

func (r *rawFile) op(b *testing.B) {
	if r.from+r.n > len(r.data) {
		r.from = 0
	}
	start := time.Now()
	if _, err := r.f.WriteAt(r.data[r.from:r.from+r.n], r.off); err != nil {
		b.Fatal(err)
	}
	if err := r.f.Sync(); err != nil {
		b.Fatal(err)
	}
	r.from += r.n
	r.off += int64(r.n)
	r.time += time.Since(start)
}

// BenchmarkAppendCPU is the owner's share of a round alone: Append and
// Complete of 1 KiB entries with known CRCs, on a log whose rounds are
// not run (the in-memory file system takes the segments' creation; no
// bytes are written), so that only the log's CPU is timed. ns/entry is
// what the pipe mode's owner spends per entry besides making it.
func BenchmarkAppendCPU(b *testing.B) {
	for _, batch := range []int{16, 256} {
		b.Run(fmt.Sprintf("entry=1KiB/batch=%d", batch), func(b *testing.B) {
			fs := vfs.NewMem(1)
			l, err := raftlog.Open(fs, "p0", raftlog.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			rng := rand.New(rand.NewPCG(3, 4))
			datas := make([][]byte, 64)
			crcs := make([]uint32, len(datas))
			castagnoli := crc32.MakeTable(crc32.Castagnoli)
			for i := range datas {
				datas[i] = payload(rng, 1<<10, false)
				crcs[i] = crc32.Checksum(datas[i], castagnoli)
			}
			index := uint64(1)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				ents := make([]*pb.Entry, batch)
				ks := make([]raftlog.KnownCRC, batch)
				metas := make([]raftlog.EntryMeta, batch)
				for k := range ents {
					d := int(index) % len(datas)
					ents[k] = &pb.Entry{Index: new(index), Term: new(uint64(1)), Data: datas[d]}
					ks[k] = raftlog.KnownCRC{Len: 1 << 10, CRC: crcs[d]}
					metas[k] = raftlog.EntryMeta{BaseOffset: int64(index) * 10, Count: 10, MaxTimestamp: int64(index)}
					index++
				}
				b.StartTimer()
				r, err := l.Append(raftlog.Batch{Entries: ents, Known: ks, Metas: metas})
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Complete(r, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/entry")
		})
	}
}
