package bench

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Mode is how producers pace themselves.
type Mode string

const (
	// MaxRate: producers send as fast as the client's buffer lets them
	// (saturation).
	MaxRate Mode = "max-rate"
	// FixedRate: producers send at Workload.Rate records/s in total;
	// latencies are measured from each record's scheduled send time, so a
	// stalled producer does not hide latency (no coordinated omission).
	FixedRate Mode = "fixed-rate"
	// CatchUp: producers first write a backlog of Workload.BacklogBytes,
	// then consumers read it from the start; the figure is the read rate.
	CatchUp Mode = "catch-up"
)

// Workload is one benchmark shape, after the OpenMessaging Benchmark's
// workload files: one topic, its partitions, record size, producers,
// consumers, acks and pacing.
type Workload struct {
	Name        string `json:"name"`
	Partitions  int    `json:"partitions"`
	RecordBytes int    `json:"record_bytes"`
	Producers   int    `json:"producers"`
	Consumers   int    `json:"consumers"`
	// Acks is "all" or "1" (JetStream always acknowledges after its own
	// replication; it ignores this).
	Acks string `json:"acks"`
	Mode Mode   `json:"mode"`
	// Rate is the total records/s of a FixedRate run. When it is zero,
	// RateFraction of a calibration max-rate run on the first target is
	// used.
	Rate         float64 `json:"rate,omitempty"`
	RateFraction float64 `json:"rate_fraction,omitempty"`
	// BacklogBytes is what a CatchUp run writes before it reads.
	BacklogBytes int64 `json:"backlog_bytes,omitempty"`
	// Inflight bounds each producer's records sent and not yet
	// acknowledged (kgo's MaxBufferedRecords, nats.go's max pending async
	// publishes); 0 takes DefaultInflight. At max rate it sets the
	// latency: Little's law, inflight ÷ throughput.
	Inflight int `json:"inflight_per_producer"`
	// LingerMs is how long a Kafka producer waits for more records before
	// it sends a partition's batch (linger.ms; JetStream has none): 0 takes
	// DefaultLingerMs, -1 means none.
	LingerMs int `json:"linger_ms,omitempty"`
	// Requests is how many produce requests a Kafka producer keeps in
	// flight to each broker. 0 (or 1) leaves franz-go's default: with
	// acks=all its idempotent producer, one request in flight until the
	// broker's first answer shows Produce v4 or later, then up to five, as
	// the Java client's default keeps (sluice serves v3–v13, so five); with
	// acks=1, not idempotent, one. More than 1 turns idempotence off and
	// allows that many.
	Requests int `json:"produce_requests_in_flight,omitempty"`
}

// DefaultLingerMs is the OpenMessaging Benchmark Kafka driver's linger.ms.
// franz-go's own default is 10 ms, which alone would put a floor of up to
// 10 ms under every produce latency at low rates.
const DefaultLingerMs = 1

// MaxRequestsInFlight bounds Workload.Requests.
const MaxRequestsInFlight = 64

// DefaultInflight is the default per-producer bound on unacknowledged
// records, the same for every client: 8 MiB of 1 KiB records.
const DefaultInflight = 8192

// Bounds on a workload: everything a run allocates scales with these.
const (
	MaxPartitions   = 10000
	MaxRecordBytes  = 1 << 20
	MinRecordBytes  = 16 // the 8-byte send stamp, and then some
	MaxClients      = 64
	MaxRecordsPerS  = 10_000_000
	MaxBacklogBytes = 64 << 30
)

// Workloads is the catalogue, by name. The headline is max-1k-12p.
var Workloads = []Workload{
	{Name: "max-1k-12p", Partitions: 12, RecordBytes: 1024, Producers: 4, Consumers: 4, Acks: "all", Mode: MaxRate},
	{Name: "lat-1k-12p", Partitions: 12, RecordBytes: 1024, Producers: 4, Consumers: 4, Acks: "all", Mode: FixedRate, RateFraction: 0.5},
	{Name: "max-1k-1000p", Partitions: 1000, RecordBytes: 1024, Producers: 4, Consumers: 4, Acks: "all", Mode: MaxRate},
	{Name: "lat-1k-1000p", Partitions: 1000, RecordBytes: 1024, Producers: 4, Consumers: 4, Acks: "all", Mode: FixedRate, RateFraction: 0.5},
	{Name: "max-1k-1p", Partitions: 1, RecordBytes: 1024, Producers: 1, Consumers: 1, Acks: "all", Mode: MaxRate},
	{Name: "max-1k-100p", Partitions: 100, RecordBytes: 1024, Producers: 4, Consumers: 4, Acks: "all", Mode: MaxRate},
	{Name: "max-100b-12p", Partitions: 12, RecordBytes: 100, Producers: 4, Consumers: 4, Acks: "all", Mode: MaxRate},
	{Name: "max-100b-100p", Partitions: 100, RecordBytes: 100, Producers: 4, Consumers: 4, Acks: "all", Mode: MaxRate},
	{Name: "acks1-1k-12p", Partitions: 12, RecordBytes: 1024, Producers: 4, Consumers: 4, Acks: "1", Mode: MaxRate},
	{Name: "lat-1k-1p", Partitions: 1, RecordBytes: 1024, Producers: 1, Consumers: 1, Acks: "all", Mode: FixedRate, RateFraction: 0.5},
	{Name: "catchup-1k-12p", Partitions: 12, RecordBytes: 1024, Producers: 1, Consumers: 1, Acks: "all", Mode: CatchUp, BacklogBytes: 1 << 30},
}

// LookupWorkload returns the catalogue entry called name.
func LookupWorkload(name string) (Workload, error) {
	i := slices.IndexFunc(Workloads, func(w Workload) bool { return w.Name == name })
	if i < 0 {
		var names []string
		for _, w := range Workloads {
			names = append(names, w.Name)
		}
		return Workload{}, fmt.Errorf("bench: unknown workload %q (known: %s)", name, strings.Join(names, ", "))
	}
	return Workloads[i], nil
}

// Validate checks w against the bounds.
func (w Workload) Validate() error {
	switch {
	case w.Partitions < 1 || w.Partitions > MaxPartitions:
		return fmt.Errorf("bench: workload %s: partitions %d outside [1, %d]", w.Name, w.Partitions, MaxPartitions)
	case w.RecordBytes < MinRecordBytes || w.RecordBytes > MaxRecordBytes:
		return fmt.Errorf("bench: workload %s: record size %d outside [%d, %d]", w.Name, w.RecordBytes, MinRecordBytes, MaxRecordBytes)
	case w.Producers < 1 || w.Producers > MaxClients:
		return fmt.Errorf("bench: workload %s: producers %d outside [1, %d]", w.Name, w.Producers, MaxClients)
	case w.Consumers < 1 || w.Consumers > MaxClients || w.Consumers > w.Partitions:
		return fmt.Errorf("bench: workload %s: consumers %d outside [1, min(%d, partitions)]", w.Name, w.Consumers, MaxClients)
	case w.LingerMs < -1 || w.LingerMs > 10_000:
		return fmt.Errorf("bench: workload %s: linger %d ms outside [-1, 10000]", w.Name, w.LingerMs)
	case w.Inflight < 0 || w.Inflight > 1<<20:
		return fmt.Errorf("bench: workload %s: inflight %d outside [0, %d]", w.Name, w.Inflight, 1<<20)
	case w.Requests < 0 || w.Requests > MaxRequestsInFlight:
		return fmt.Errorf("bench: workload %s: produce requests in flight %d outside [0, %d]", w.Name, w.Requests, MaxRequestsInFlight)
	case w.Acks != "all" && w.Acks != "1":
		return fmt.Errorf("bench: workload %s: acks %q: want all or 1", w.Name, w.Acks)
	}
	switch w.Mode {
	case MaxRate:
	case FixedRate:
		if w.Rate < 0 || w.Rate > MaxRecordsPerS || (w.Rate == 0 && (w.RateFraction <= 0 || w.RateFraction > 1)) {
			return fmt.Errorf("bench: workload %s: fixed rate needs a rate in (0, %d] or a rate fraction in (0, 1]", w.Name, MaxRecordsPerS)
		}
	case CatchUp:
		if w.BacklogBytes <= 0 || w.BacklogBytes > MaxBacklogBytes {
			return fmt.Errorf("bench: workload %s: backlog %d bytes outside (0, %d]", w.Name, w.BacklogBytes, int64(MaxBacklogBytes))
		}
	default:
		return fmt.Errorf("bench: workload %s: unknown mode %q", w.Name, w.Mode)
	}
	return nil
}

// Linger is the Kafka producers' linger.ms as a duration.
func (w Workload) Linger() time.Duration {
	switch w.LingerMs {
	case 0:
		return DefaultLingerMs * time.Millisecond
	case -1:
		return 0
	}
	return time.Duration(w.LingerMs) * time.Millisecond
}

func (w Workload) inflight() int {
	if w.Inflight == 0 {
		return DefaultInflight
	}
	return w.Inflight
}

// partitionsOf returns the partitions consumer i of n reads: p ≡ i mod n.
// (Consumer groups are not built yet; consumers are assigned directly.)
func partitionsOf(i, n, partitions int) []int32 {
	var out []int32
	for p := i; p < partitions; p += n {
		out = append(out, int32(p))
	}
	return out
}
