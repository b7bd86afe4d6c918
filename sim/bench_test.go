package sim

import (
	"runtime/debug"
	"testing"
)

// BenchmarkSim measures simulation speed: 3 brokers, 6 partitions, RF 3,
// 10 ms ticks, 1,000 produce and 1,000 fetch operations per virtual
// second, faults on (kitchen-sink), a 3-member consumer group, 10 virtual
// seconds per op. The x-realtime metric is virtual time over wall time.
// It collects garbage as sluice sim does (GOGC 400: the simulator
// allocates briskly and memory is plentiful).
func BenchmarkSim(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	var virtualMs int64
	for i := 0; i < b.N; i++ {
		r := MustNew(Config{Seed: uint64(i + 1), DurationMs: 10_000, Faults: true}).Run()
		virtualMs += r.VirtualMs
	}
	b.ReportMetric(float64(virtualMs)/1e3/b.Elapsed().Seconds(), "x-realtime")
}
