package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"sluice/raftlog/vfs"
)

// FloorOptions bounds the floor measurements.
type FloorOptions struct {
	// SizesBytes are the write sizes of the disk floor (one write+fdatasync
	// per op). Default 16 KiB, 64 KiB, 256 KiB, 1 MiB.
	SizesBytes []int
	// PerSize is how long each size runs (default 2 s).
	PerSize time.Duration
	// FileBytes is the preallocated file's size (default 64 MiB); writes
	// wrap around in it, so no write ever extends the file.
	FileBytes int64
	// RTT is how long the loopback ping-pong runs (default 2 s).
	RTT time.Duration
	// SharedDisk is how long the shared-disk bound runs (default 2.5 ×
	// PerSize), after sluice's run in a fixed-rate acks=all workload.
	SharedDisk time.Duration
}

func (o FloorOptions) withDefaults() FloorOptions {
	if len(o.SizesBytes) == 0 {
		o.SizesBytes = []int{16 << 10, 64 << 10, 256 << 10, 1 << 20}
	}
	if o.PerSize <= 0 {
		o.PerSize = 2 * time.Second
	}
	if o.FileBytes <= 0 {
		o.FileBytes = 64 << 20
	}
	if o.RTT <= 0 {
		o.RTT = 2 * time.Second
	}
	if o.SharedDisk <= 0 {
		o.SharedDisk = o.PerSize * 5 / 2
	}
	return o
}

// DiskFloor is write+fdatasync of Bytes at a time into a preallocated,
// zero-filled file: the most a single log on this disk can sync.
type DiskFloor struct {
	Bytes     int     `json:"bytes"`
	Syncs     int64   `json:"syncs"`
	SyncsPerS float64 `json:"syncs_per_s"`
	MBPerS    float64 `json:"mb_per_s"`
	// Latency of one write+fdatasync.
	P50Us float64 `json:"p50_us"`
	P99Us float64 `json:"p99_us"`
	// Why is set for a size measured for a reason (sluice's batch size).
	Why string `json:"why,omitempty"`
}

// RTTFloor is a 64-byte ping-pong over a loopback TCP connection.
type RTTFloor struct {
	RoundTrips int64   `json:"round_trips"`
	P50Us      float64 `json:"p50_us"`
	P99Us      float64 `json:"p99_us"`
}

// Floors are the machine's raw limits, measured in the same run.
type Floors struct {
	Dir  string      `json:"dir"`
	Disk []DiskFloor `json:"disk"`
	RTT  RTTFloor    `json:"rtt"`
	// SharedDisk is measured at a fixed-rate acks=all workload's rate.
	SharedDisk *SharedDisk `json:"shared_disk,omitempty"`
}

// floorFile is the preallocated file of the disk floor.
type floorFile struct {
	f    vfs.File
	path string
	size int64
	off  int64
}

// openFloorFile creates a zero-filled, synced file of size bytes in dir,
// through the same vfs.OS files (fdatasync) sluice's log uses.
func openFloorFile(dir string, size int64) (*floorFile, error) {
	fs := vfs.OS()
	if err := fs.MkdirAll(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "floor.raw")
	f, err := fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: disk floor: %w", err)
	}
	zero := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zero)) {
		if _, err := f.WriteAt(zero[:min(int64(len(zero)), size-off)], off); err != nil {
			f.Close()
			return nil, fmt.Errorf("bench: disk floor: preallocate: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: disk floor: %w", err)
	}
	return &floorFile{f: f, path: path, size: size}, nil
}

func (ff *floorFile) close() {
	ff.f.Close()
	os.Remove(ff.path)
}

// measure runs write+fdatasync of n bytes for d (at most 1e6 ops).
func (ff *floorFile) measure(ctx context.Context, n int, d time.Duration) (DiskFloor, error) {
	n = min(n, int(ff.size))
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	h := newHist()
	start := time.Now()
	var ops int64
	for time.Since(start) < d && ops < 1e6 && ctx.Err() == nil {
		if ff.off+int64(n) > ff.size {
			ff.off = 0
		}
		t := time.Now()
		if _, err := ff.f.WriteAt(data, ff.off); err != nil {
			return DiskFloor{}, fmt.Errorf("bench: disk floor: write: %w", err)
		}
		if err := ff.f.Sync(); err != nil {
			return DiskFloor{}, fmt.Errorf("bench: disk floor: fdatasync: %w", err)
		}
		h.record(time.Since(t))
		ff.off += int64(n)
		ops++
	}
	secs := time.Since(start).Seconds()
	return DiskFloor{Bytes: n, Syncs: ops, SyncsPerS: float64(ops) / secs, MBPerS: float64(ops) * float64(n) / secs / 1e6,
		P50Us: float64(h.h.ValueAtQuantile(50)), P99Us: float64(h.h.ValueAtQuantile(99))}, ctx.Err()
}

// measureRTT runs a 64-byte ping-pong over loopback TCP for d (at most 1e6
// round trips).
func measureRTT(ctx context.Context, d time.Duration) (RTTFloor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return RTTFloor{}, err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return RTTFloor{}, err
	}
	defer c.Close()
	buf := make([]byte, 64)
	h := newHist()
	start := time.Now()
	var n int64
	for time.Since(start) < d && n < 1e6 && ctx.Err() == nil {
		t := time.Now()
		if _, err := c.Write(buf); err != nil {
			return RTTFloor{}, fmt.Errorf("bench: rtt floor: %w", err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return RTTFloor{}, fmt.Errorf("bench: rtt floor: %w", err)
		}
		h.record(time.Since(t))
		n++
	}
	return RTTFloor{RoundTrips: n, P50Us: float64(h.h.ValueAtQuantile(50)), P99Us: float64(h.h.ValueAtQuantile(99))}, ctx.Err()
}

// diskAt returns the disk floor for writes of n bytes: the floor measured at
// exactly n if there is one, else interpolated (log-log) between the two
// measured sizes around n, else the nearest measured size.
func (f Floors) diskAt(n float64) (DiskFloor, bool) {
	if len(f.Disk) == 0 || n <= 0 {
		return DiskFloor{}, false
	}
	n = math.Round(n)
	ds := slices.Clone(f.Disk)
	slices.SortFunc(ds, func(a, b DiskFloor) int { return a.Bytes - b.Bytes })
	for _, d := range ds {
		if float64(d.Bytes) == n {
			return d, true
		}
	}
	if n <= float64(ds[0].Bytes) {
		return ds[0], true
	}
	if n >= float64(ds[len(ds)-1].Bytes) {
		return ds[len(ds)-1], true
	}
	i := slices.IndexFunc(ds, func(d DiskFloor) bool { return float64(d.Bytes) > n })
	a, b := ds[i-1], ds[i]
	t := (math.Log(n) - math.Log(float64(a.Bytes))) / (math.Log(float64(b.Bytes)) - math.Log(float64(a.Bytes)))
	lerp := func(x, y float64) float64 {
		if x <= 0 || y <= 0 {
			return x + t*(y-x)
		}
		return math.Exp(math.Log(x) + t*(math.Log(y)-math.Log(x)))
	}
	return DiskFloor{Bytes: int(n), MBPerS: lerp(a.MBPerS, b.MBPerS), SyncsPerS: lerp(a.SyncsPerS, b.SyncsPerS),
		P50Us: lerp(a.P50Us, b.P50Us), P99Us: lerp(a.P99Us, b.P99Us),
		Why: fmt.Sprintf("interpolated between %d and %d bytes", a.Bytes, b.Bytes)}, true
}
