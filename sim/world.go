package sim

import (
	"cmp"
	"container/heap"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	mrand "math/rand/v2"
	"runtime/debug"

	"sluice/env"
)

// Config is one simulated run. Zero values take the defaults.
type Config struct {
	Seed       uint64
	Nodes      int   // brokers; default 3
	Partitions int   // partitions of the workload topic; default 6
	RF         int   // replication factor; default min(3, Nodes)
	DurationMs int64 // virtual length of the fault phase; default 60 s
	TickMs     int64 // node tick interval; default 10
	// LivenessMs bounds the final phase: after faults stop and the
	// network heals, every pending request completes and every
	// acknowledged record is read back within it. Default 30 s.
	LivenessMs int64
	// Producers: idempotent producers (acks=all); LooseProducers produce
	// with acks=1 and no idempotence (their losses are lawful and
	// measured; every other one uses acks=0). Consumers read by offset.
	// Defaults 3, 2, 2.
	Producers, LooseProducers, Consumers int
	// GroupMembers consume in one consumer group with Kafka's classic
	// protocol and commit what they read (default 3; negative: none).
	GroupMembers int
	// ProduceRate and FetchRate are operations per virtual second, across
	// all clients (defaults 1,000 each).
	ProduceRate, FetchRate int
	// Faults turns the nemesis on (crashes, disk wipes, partitions,
	// pauses, loss, clogs, tick skew).
	Faults bool
	// Scenario is the fault schedule (scenario.go; the catalogue is
	// package scenarios); zero: KitchenSink. Its overrides fill the fields
	// above left zero.
	Scenario Scenario
	// Swarm: the seed also picks which fault kinds the scenario draws, at
	// which rates, and perturbs ordinary configuration (swarm.go); the
	// choices are in Result.Swarm.
	Swarm bool
	// Progress, if set, is called every virtual second with the time.
	Progress func(nowMs int64)
	// The workload topic's configs, set at creation (zero: the brokers'
	// defaults): MinInsyncReplicas is min.insync.replicas; FlushMessages
	// and FlushMs are flush.messages and flush.ms (both set, a relaxed
	// flush policy: writes acknowledged before fsync, DESIGN.md step 7).
	MinInsyncReplicas      int
	FlushMessages, FlushMs int64
	// RetentionBytes and SegmentBytes: retention.bytes and segment.bytes
	// (zero: the scenario's, else the brokers' defaults). With retention,
	// brokers check it every second and the checker excuses records below
	// the log start (History.Retention). A negative RetentionBytes keeps
	// the brokers' unlimited default: records go only by DeleteRecords
	// (the delete-records fault), and the checker holds every log start to
	// an offset one asked for (History.DeleteOnly).
	RetentionBytes, SegmentBytes int64
	// ValueBytes pads every record's value to this many bytes of
	// incompressible data (zero: the scenario's, else none), so produce
	// batches are stored raw, their frame CRCs derived from the batches'
	// own (raftlog.KnownCRC); readers check every padding byte.
	ValueBytes int
}

func (c Config) withDefaults() Config {
	if c.Scenario.Name == "" {
		c.Scenario = KitchenSink()
	}
	c.Scenario.EveryMs = c.Scenario.every()
	c.Nodes = cmp.Or(c.Nodes, c.Scenario.Nodes)
	c.Partitions = cmp.Or(c.Partitions, c.Scenario.Partitions)
	c.RF = cmp.Or(c.RF, c.Scenario.RF)
	c.RetentionBytes = cmp.Or(c.RetentionBytes, c.Scenario.RetentionBytes)
	c.SegmentBytes = cmp.Or(c.SegmentBytes, c.Scenario.SegmentBytes)
	c.ValueBytes = cmp.Or(c.ValueBytes, c.Scenario.ValueBytes)
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.RF == 0 {
		c.RF = min(3, c.Nodes)
	}
	if c.DurationMs == 0 {
		c.DurationMs = 60_000
	}
	if c.TickMs == 0 {
		c.TickMs = 10
	}
	if c.LivenessMs == 0 {
		c.LivenessMs = 30_000
	}
	if c.Producers == 0 && c.LooseProducers == 0 {
		c.Producers, c.LooseProducers = 3, 2
	}
	if c.GroupMembers == 0 {
		c.GroupMembers = 3
	}
	if c.Consumers == 0 {
		c.Consumers = 2
	}
	if c.ProduceRate == 0 {
		c.ProduceRate = 1000
	}
	if c.FetchRate == 0 {
		c.FetchRate = 1000
	}
	return c
}

// event is one scheduled happening; events at the same time run in the
// order they were scheduled.
type event struct {
	atNs int64
	seq  uint64
	f    func()
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].atNs != q[j].atNs {
		return q[i].atNs < q[j].atNs
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// World is one simulated cluster with its clients. It runs on one
// goroutine; every choice comes from rng.
type World struct {
	cfg    Config
	rng    *mrand.Rand
	draws  uint64
	nowNs  int64
	seq    uint64
	events eventQueue
	trace  hash.Hash64

	nodes   []*simNode
	net     *network
	clients []*client
	members []*groupMember
	hist    *History
	nextCon uint64

	conns    map[uint64]*conn
	batchSeq int
	setupNs  int64

	statWriteBytes, statFileBytes, statFiles                                                                                          int64
	statEvents, statMessages, statDropped, statWrites, statCrashes, statPartitions, statPauses, statResets, statDiskFaults, statWipes int
	snapshots                                                                                                                         int // raft snapshots delivered

	scenario Scenario
	timeline []FaultSpan
	tuning   tuning
	swarmed  []string // what swarm mode chose

	topic    string
	faulting bool // the nemesis is active
	stopped  bool
	failures []string // violations the world itself sees (liveness, identity)
}

// countingSource counts draws for the trace hash.
type countingSource struct {
	src   *mrand.PCG
	draws *uint64
}

func (s countingSource) Uint64() uint64 {
	*s.draws++
	return s.src.Uint64()
}

// New builds a world from cfg. A scenario naming an unknown fault is an
// error.
func New(cfg Config) (*World, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Scenario.Validate(); err != nil {
		return nil, err
	}
	w := &World{cfg: cfg, scenario: cfg.Scenario, trace: fnv.New64a(), hist: &History{Retention: cfg.RetentionBytes != 0, DeleteOnly: cfg.RetentionBytes < 0}, topic: "sim"}
	w.rng = mrand.New(countingSource{src: mrand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15), draws: &w.draws})
	w.tuning = defaultTuning()
	if cfg.Swarm {
		w.swarmed = w.swarm()
	}
	return w, nil
}

// MustNew is New for a configuration known to be valid (tests).
func MustNew(cfg Config) *World {
	w, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return w
}

// Now is the virtual time in nanoseconds.
func (w *World) Now() int64 { return w.nowNs }

func (w *World) nowMs() int64 { return w.nowNs / 1e6 }

// at schedules f at virtual time atNs (never in the past).
func (w *World) at(atNs int64, f func()) {
	if atNs < w.nowNs {
		atNs = w.nowNs
	}
	w.seq++
	heap.Push(&w.events, &event{atNs: atNs, seq: w.seq, f: f})
}

// after schedules f d nanoseconds from now.
func (w *World) after(dNs int64, f func()) { w.at(w.nowNs+dNs, f) }

// record mixes a traced happening into the trace hash.
func (w *World) record(kind string, vals ...uint64) {
	w.trace.Write([]byte(kind))
	var b [8]byte
	for _, v := range vals {
		binary.LittleEndian.PutUint64(b[:], v)
		w.trace.Write(b[:])
	}
}

func (w *World) recordBytes(kind string, p []byte) {
	w.trace.Write([]byte(kind))
	w.trace.Write(p)
}

// uniform draws from [lo, hi).
func (w *World) uniform(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + w.rng.Int64N(hi-lo)
}

func (w *World) chance(p float64) bool { return p > 0 && w.rng.Float64() < p }

// seededReader is etcd raft's election jitter source during a run.
type seededReader struct{ w *World }

func (r seededReader) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], r.w.rng.Uint64())
		copy(p[i:], b[:])
	}
	return len(p), nil
}

// Result is what a run produced.
type Result struct {
	Seed      uint64
	Config    Config
	TraceHash uint64
	Draws     uint64
	VirtualMs int64
	History   *History
	// Failures are violations the simulator itself detects (liveness,
	// identity, storage invariants); the history's are the checker's.
	Failures []string
	Stats    Stats
	// Scenario is the fault schedule the run drew from; Timeline the
	// faults it started, in order.
	Scenario Scenario
	Timeline []FaultSpan
	// Swarm lists what swarm mode chose, one line each (empty without it).
	Swarm []string
}

// Stats counts what happened.
type Stats struct {
	Events, Messages, Dropped, Writes, Crashes, Partitions, Pauses, Resets, DiskFaults, Wipes int
	// Snapshots: raft snapshots delivered (a replica caught up from a
	// leader's snapshot: wiped, added, or behind what retention deleted).
	Snapshots             int
	WriteBytes            int64
	Sends, Polls, Commits int
}

// Run runs the world: setup, the fault phase, then the liveness phase. It
// swaps crypto/rand.Reader for a seeded reader while it runs (etcd raft's
// election jitter), so runs in one process must not overlap.
func (w *World) Run() (res Result) {
	old := rand.Reader
	rand.Reader = seededReader{w}
	defer func() { rand.Reader = old }()
	// A panic in a core is an invariant the implementation asserts, broken:
	// the run fails with it, and with the seed, like any violation.
	defer func() {
		if v := recover(); v != nil {
			w.fail("panic: %v\n%s", v, debug.Stack())
			res = Result{Seed: w.cfg.Seed, Config: w.cfg, TraceHash: w.trace.Sum64(), Draws: w.draws, VirtualMs: w.nowMs(),
				History: w.hist, Failures: w.failures, Stats: w.stats(), Scenario: w.scenario, Timeline: w.timeline, Swarm: w.swarmed}
		}
	}()

	w.setup()
	end := w.cfg.DurationMs * 1e6
	w.faulting = w.cfg.Faults
	if w.cfg.Faults {
		w.scheduleNemesis()
	}
	w.startWorkload(end)
	w.runUntil(end)
	w.faulting = false
	w.healAll()
	w.liveness(end + w.cfg.LivenessMs*1e6)
	w.awaitRejoined(end + w.cfg.LivenessMs*1e6)
	w.checkReplicas()
	w.stopped = true
	w.record("draws", w.draws)
	return Result{Seed: w.cfg.Seed, Config: w.cfg, TraceHash: w.trace.Sum64(), Draws: w.draws, VirtualMs: w.nowMs(),
		History: w.hist, Failures: w.failures, Stats: w.stats(), Scenario: w.scenario, Timeline: w.timeline, Swarm: w.swarmed}
}

// runUntil processes events up to virtual time endNs, or until done
// reports true (checked after every event).
func (w *World) runUntil(endNs int64) {
	w.runWhile(endNs, func() bool { return false })
}

func (w *World) runWhile(endNs int64, done func() bool) bool {
	nextProgress := (w.nowNs/1e9 + 1) * 1e9
	for len(w.events) > 0 {
		if w.events[0].atNs > endNs {
			w.nowNs = endNs
			return false
		}
		e := heap.Pop(&w.events).(*event)
		w.nowNs = e.atNs
		w.statEvents++
		e.f()
		if w.nowNs >= nextProgress {
			if w.cfg.Progress != nil {
				w.cfg.Progress(w.nowMs())
			}
			nextProgress += 1e9
		}
		if done() {
			return true
		}
	}
	return false
}

// fail records a violation the world detects.
func (w *World) fail(format string, args ...any) {
	msg := fmt.Sprintf("at %s: ", fmtMs(w.nowNs)) + fmt.Sprintf(format, args...)
	w.failures = append(w.failures, msg)
	w.record("failure")
}

func fmtMs(ns int64) string { return fmt.Sprintf("%d.%03ds", ns/1e9, ns/1e6%1000) }

var _ io.Reader = seededReader{}

// clock is a node's view of virtual time (with its skew).
type clock struct {
	w    *World
	rate float64
}

func (c clock) NowNs() int64 { return int64(float64(c.w.nowNs) * c.rate) }

var _ env.Clock = clock{}
