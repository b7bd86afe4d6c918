package bench

import "fmt"

// DeviceIO is what the block device under the data directory did during a
// target's measured window, from /proc/diskstats. It counts every process
// on the machine, so it is context, not a measurement of the target alone.
type DeviceIO struct {
	Device      string  `json:"device"`
	WriteMBPerS float64 `json:"write_mb_per_s"`
	FlushesPerS float64 `json:"flushes_per_s"`
	// BytesPerFlush is bytes written per cache flush the device completed:
	// the size of a sync round as the disk saw it (fdatasyncs issued at once
	// may share one flush).
	BytesPerFlush float64 `json:"bytes_per_flush"`
}

// diskCounters is one reading of a device's cumulative counters.
type diskCounters struct {
	device         string
	sectorsWritten uint64
	flushes        uint64
}

// deviceIO is what happened between two readings over secs seconds.
func deviceIO(a, b diskCounters, secs float64) *DeviceIO {
	if a.device == "" || a.device != b.device || secs <= 0 {
		return nil
	}
	bytes := float64(b.sectorsWritten-a.sectorsWritten) * 512 // diskstats sectors are 512 B
	flushes := float64(b.flushes - a.flushes)
	d := &DeviceIO{Device: a.device, WriteMBPerS: bytes / secs / 1e6, FlushesPerS: flushes / secs}
	if flushes > 0 {
		d.BytesPerFlush = bytes / flushes
	}
	return d
}

func (d *DeviceIO) String() string {
	if d == nil {
		return "n/a"
	}
	return fmt.Sprintf("%s %.1f MB/s written, %.0f flushes/s, %.0f B per flush (device-wide)", d.Device, d.WriteMBPerS, d.FlushesPerS, d.BytesPerFlush)
}

// cpuCounters is one reading of the machine's cumulative CPU time, in
// clock ticks: busy (user, nice, system, irq, softirq, steal) and in all.
type cpuCounters struct{ busy, total uint64 }

// cpuBusy is the fraction of all the machine's CPUs busy between two
// readings (every process counts), or 0 without readings.
func cpuBusy(a, b cpuCounters) float64 {
	if b.total <= a.total {
		return 0
	}
	return float64(b.busy-a.busy) / float64(b.total-a.total)
}
