package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
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
	Writers int     `json:"writers"`
	Quorum  int     `json:"quorum"`
	MBPerS  float64 `json:"mb_per_s"` // arriving at each writer
	// Cycles, MeanCycleBytes and the cycle percentiles count the cycles
	// that began in the measured window (after the first tenth), all
	// writers together.
	Cycles         int64   `json:"cycles"`
	MeanCycleBytes float64 `json:"mean_cycle_bytes"`
	// One cycle: its write and its fdatasync.
	CycleP50Us float64 `json:"cycle_p50_us"`
	CycleP99Us float64 `json:"cycle_p99_us"`
	// From a record's arrival to its Quorum-th durable copy, over arrivals
	// spread evenly through the window.
	AckP50Us  float64 `json:"ack_p50_us"`
	AckP99Us  float64 `json:"ack_p99_us"`
	AckP999Us float64 `json:"ack_p99_9_us"`
	// AckCurve is the same as a percentile curve, for the latency plot.
	AckCurve []CurvePoint `json:"ack_curve,omitempty"`
}

// cycle is one group commit of a writer, in time since the measurement
// began: it began at start and made the first upto bytes that arrived
// durable at end (all that had arrived by start, unless the cycle was
// capped and left a backlog).
type cycle struct {
	start, end time.Duration
	upto       int64
}

// sharedDiskFileBytes is each writer's file; cycles wrap around in it.
const sharedDiskFileBytes = 64 << 20

// maxCycleBytes caps what one cycle writes; more having arrived means the
// disk cannot keep up, and the backlog shows as ever longer waits.
const maxCycleBytes = 8 << 20

// measureSharedDisk runs writers group-commit loops in dir for d, records
// arriving at bytesPerS at each, and computes the acknowledgement bound of
// quorum copies. The first tenth of d is left out (the loops settle).
func measureSharedDisk(ctx context.Context, dir string, writers, quorum int, bytesPerS float64, d time.Duration) (SharedDisk, error) {
	if writers < 1 || quorum < 1 || quorum > writers || bytesPerS <= 0 || d <= 0 {
		return SharedDisk{}, fmt.Errorf("bench: shared disk: %d writers, quorum %d, %.0f B/s, %v", writers, quorum, bytesPerS, d)
	}
	files := make([]*floorFile, writers)
	dirs := make([]string, writers)
	defer func() {
		for i, f := range files {
			if f != nil {
				f.close()
			}
			os.Remove(dirs[i]) // empty once its file is gone
		}
	}()
	for i := range files {
		dirs[i] = filepath.Join(dir, fmt.Sprintf("writer%d", i))
		f, err := openFloorFile(dirs[i], sharedDiskFileBytes)
		if err != nil {
			return SharedDisk{}, err
		}
		files[i] = f
	}
	data := make([]byte, maxCycleBytes)
	rng := rand.New(rand.NewPCG(3, uint64(writers)))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	cycles := make([][]cycle, writers)
	errs := make([]error, writers)
	begin := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			ff := files[w]
			var written int64
			for ctx.Err() == nil {
				start := time.Since(begin)
				if start >= d {
					return
				}
				n := int64(bytesPerS*start.Seconds()) - written
				if n < 1 {
					time.Sleep(20 * time.Microsecond)
					continue
				}
				n = min(n, maxCycleBytes)
				if err := ff.writeWrapped(data[:n]); err != nil {
					errs[w] = err
					return
				}
				written += n
				cycles[w] = append(cycles[w], cycle{start: start, end: time.Since(begin), upto: written})
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
	from := d / 10
	acks := quorumAcks(cycles, quorum, bytesPerS, from, 10*time.Microsecond)
	if acks.TotalCount() == 0 {
		return SharedDisk{}, fmt.Errorf("bench: shared disk: no arrival after the first %v was durable on %d writers by %v", from, quorum, d)
	}
	sd := SharedDisk{Writers: writers, Quorum: quorum, MBPerS: bytesPerS / 1e6}
	cycleHist := newHist()
	var bytes int64
	for _, cs := range cycles {
		prev := int64(0)
		for _, c := range cs {
			if c.start >= from {
				sd.Cycles++
				bytes += c.upto - prev
				cycleHist.record(c.end - c.start)
			}
			prev = c.upto
		}
	}
	if sd.Cycles == 0 {
		return SharedDisk{}, fmt.Errorf("bench: shared disk: no cycle began after the first %v of %v", from, d)
	}
	sd.MeanCycleBytes = float64(bytes) / float64(sd.Cycles)
	sd.CycleP50Us, sd.CycleP99Us = float64(cycleHist.h.ValueAtQuantile(50)), float64(cycleHist.h.ValueAtQuantile(99))
	sd.AckP50Us, sd.AckP99Us, sd.AckP999Us = float64(acks.ValueAtQuantile(50)), float64(acks.ValueAtQuantile(99)), float64(acks.ValueAtQuantile(99.9))
	sd.AckCurve = summarize(acks).Curve
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

// quorumAcks returns the latencies of arrivals every step from `from` on,
// records arriving at bytesPerS: an arrival at t is durable on a writer at
// the end of its first cycle that made the first bytesPerS·t bytes durable,
// and acknowledged at the quorum-th earliest of those ends. Arrivals later
// than some writer's last cycle covers are left out.
func quorumAcks(cycles [][]cycle, quorum int, bytesPerS float64, from, step time.Duration) *hdrhistogram.Histogram {
	h := newHist()
	until := time.Duration(-1)
	for i, cs := range cycles {
		if len(cs) == 0 {
			return h.h
		}
		// The last arrival its last cycle covers.
		last := time.Duration(float64(cs[len(cs)-1].upto) / bytesPerS * 1e9)
		if i == 0 || last < until {
			until = last
		}
	}
	next := make([]int, len(cycles))
	lat := make([]time.Duration, len(cycles))
	for t := from; t <= until; t += step {
		need := int64(bytesPerS * t.Seconds())
		for w, cs := range cycles {
			for cs[next[w]].upto < need {
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
		sd.Writers, sd.MBPerS, sd.Cycles, sd.MeanCycleBytes, sd.CycleP50Us, sd.CycleP99Us, sd.Quorum, sd.Writers, sd.AckP50Us, sd.AckP99Us, sd.AckP999Us)
}
