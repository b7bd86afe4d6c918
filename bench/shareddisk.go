package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// SharedDisk is the bound a disk puts under acks=all latency when every
// replica of a partition writes to it, as the three brokers of `sluice dev`
// do on one machine, measured with no broker at all.
//
// Writers goroutines, one per replica, each run a group-commit loop on a
// preallocated, zero-filled file of its own: write what has arrived since
// its last cycle began (records arrive at BytesPerS, to every replica at
// once), fdatasync, again. That is a per-broker journal's best case: one
// write and one sync per cycle, no index, no directory sync, no other file.
// A record arriving at t is durable on a writer at the end of that writer's
// first cycle beginning at or after t, and acknowledged once Quorum writers
// hold it. Nothing else is in it (no network, raft, broker CPU or client),
// so a broker that commits by cycles on this disk at this rate acknowledges
// no faster.
type SharedDisk struct {
	Writers   int     `json:"writers"`
	Quorum    int     `json:"quorum"`
	BytesPerS float64 `json:"bytes_per_s"` // arriving at each writer
	Cycles    int64   `json:"cycles"`      // all writers together
	// MeanCycleBytes is what one cycle wrote on average.
	MeanCycleBytes float64 `json:"mean_cycle_bytes"`
	// One cycle: its write and its fdatasync.
	CycleP50Us float64 `json:"cycle_p50_us"`
	CycleP99Us float64 `json:"cycle_p99_us"`
	// From a record's arrival to its Quorum-th durable copy, over arrivals
	// spread evenly through the window.
	AckP50Us  float64 `json:"ack_p50_us"`
	AckP99Us  float64 `json:"ack_p99_us"`
	AckP999Us float64 `json:"ack_p99_9_us"`
}

// cycle is one group commit of a writer, in time since the measurement
// began: it took what had arrived by start and made it durable at end.
type cycle struct{ start, end time.Duration }

// sharedDiskFileBytes is each writer's file; cycles wrap around in it.
const sharedDiskFileBytes = 64 << 20

// measureSharedDisk runs writers group-commit loops in dir for d, records
// arriving at bytesPerS at each, and computes the acknowledgement bound of
// quorum copies. Arrivals of the first tenth of d are left out (the loops
// settle).
func measureSharedDisk(ctx context.Context, dir string, writers, quorum int, bytesPerS float64, d time.Duration) (SharedDisk, error) {
	if writers < 1 || quorum < 1 || quorum > writers || bytesPerS <= 0 || d <= 0 {
		return SharedDisk{}, fmt.Errorf("bench: shared disk: %d writers, quorum %d, %.0f B/s, %v", writers, quorum, bytesPerS, d)
	}
	files := make([]*floorFile, writers)
	for i := range files {
		f, err := openFloorFile(filepath.Join(dir, fmt.Sprintf("writer%d", i)), sharedDiskFileBytes)
		if err != nil {
			for _, g := range files[:i] {
				g.close()
			}
			return SharedDisk{}, err
		}
		files[i] = f
	}
	defer func() {
		for _, f := range files {
			f.close()
		}
	}()
	// A cycle writes at most maxCycle bytes; more arrived means the disk
	// cannot keep up, and the backlog shows as ever longer waits.
	const maxCycle = 8 << 20
	data := make([]byte, maxCycle)
	rng := rand.New(rand.NewPCG(3, uint64(writers)))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	cycles := make([][]cycle, writers)
	errs := make([]error, writers)
	written := make([]int64, writers)
	cycleHist := newHist()
	begin := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			ff := files[w]
			for ctx.Err() == nil {
				start := time.Since(begin)
				if start >= d {
					return
				}
				n := int64(bytesPerS*start.Seconds()) - written[w]
				if n < 1 {
					time.Sleep(20 * time.Microsecond)
					continue
				}
				n = min(n, maxCycle)
				if err := ff.writeWrapped(data[:n]); err != nil {
					errs[w] = err
					return
				}
				end := time.Since(begin)
				written[w] += n
				cycles[w] = append(cycles[w], cycle{start, end})
				cycleHist.record(end - start)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return SharedDisk{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return SharedDisk{}, err
	}
	acks := quorumAcks(cycles, quorum, d/10, 10*time.Microsecond)
	sd := SharedDisk{Writers: writers, Quorum: quorum, BytesPerS: bytesPerS}
	var bytes int64
	for w := range writers {
		sd.Cycles += int64(len(cycles[w]))
		bytes += written[w]
	}
	if sd.Cycles == 0 || acks.TotalCount() == 0 {
		return SharedDisk{}, fmt.Errorf("bench: shared disk: no cycle completed in %v", d)
	}
	sd.MeanCycleBytes = float64(bytes) / float64(sd.Cycles)
	sd.CycleP50Us, sd.CycleP99Us = float64(cycleHist.h.ValueAtQuantile(50)), float64(cycleHist.h.ValueAtQuantile(99))
	sd.AckP50Us, sd.AckP99Us, sd.AckP999Us = float64(acks.ValueAtQuantile(50)), float64(acks.ValueAtQuantile(99)), float64(acks.ValueAtQuantile(99.9))
	return sd, nil
}

// writeWrapped writes b at the file's next offset (back to its start when b
// would run past its end) and fdatasyncs it.
func (ff *floorFile) writeWrapped(b []byte) error {
	if ff.off+int64(len(b)) > ff.size {
		ff.off = 0
	}
	if _, err := ff.f.WriteAt(b, ff.off); err != nil {
		return fmt.Errorf("bench: shared disk: write: %w", err)
	}
	if err := ff.f.Sync(); err != nil {
		return fmt.Errorf("bench: shared disk: fdatasync: %w", err)
	}
	ff.off += int64(len(b))
	return nil
}

// quorumAcks returns the latencies of arrivals every step from `from` up to
// the last instant every writer began a cycle at or after: each is the
// quorum-th smallest, over the writers, of the time from the arrival to the
// end of the writer's first cycle beginning at or after it.
func quorumAcks(cycles [][]cycle, quorum int, from, step time.Duration) *hdrhistogram.Histogram {
	h := newHist()
	until := time.Duration(-1)
	for i, cs := range cycles {
		if len(cs) == 0 {
			return h.h
		}
		if last := cs[len(cs)-1].start; i == 0 || last < until {
			until = last
		}
	}
	next := make([]int, len(cycles))
	lat := make([]time.Duration, len(cycles))
	for t := from; t <= until; t += step {
		for w, cs := range cycles {
			for cs[next[w]].start < t {
				next[w]++
			}
			lat[w] = cs[next[w]].end - t
		}
		slices.Sort(lat)
		h.record(lat[quorum-1])
	}
	return h.h
}

func printSharedDisk(w io.Writer, sd SharedDisk) {
	fmt.Fprintf(w, "bound: %d writers group-committing %.1f MB/s each to this disk (no broker): %d cycles of %.0f B, p50 %.0f µs, p99 %.0f µs; %d of %d durable: p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs\n",
		sd.Writers, sd.BytesPerS/1e6, sd.Cycles, sd.MeanCycleBytes, sd.CycleP50Us, sd.CycleP99Us, sd.Quorum, sd.Writers, sd.AckP50Us, sd.AckP99Us, sd.AckP999Us)
}
