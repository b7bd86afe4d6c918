package sim

import (
	"fmt"
	"log/slog"
	"slices"

	"sluice/env"
	"sluice/node"
	"sluice/node/groups"
	"sluice/raftlog/vfs"
	"sluice/transport"
)

// simNode is one broker: the node core over a simulated disk.
type simNode struct {
	w   *World
	id  uint64
	mem *vfs.Mem      // the disk
	fs  *vfs.InjectFS // the disk as the broker sees it, with injected errors
	// diskErr: until diskErrUntil, writes and syncs fail with it (EIO or
	// ENOSPC) with probability diskErrP.
	diskErr      error
	diskErrUntil int64
	diskErrP     float64
	// flipUntil: reads return flipped bits (a flaky bus: the stored bytes
	// are intact) with probability flipP, except while the broker opens.
	flipUntil int64
	flipP     float64
	opening   bool
	// clientClogUntil: client connections to this broker stall until then.
	clientClogUntil int64
	n               *node.Node // nil while down
	gen             uint64     // bumped at every crash: events of an earlier life are void
	// rate is the clock's rate (tick skew); the clock read clkNs at
	// virtual time clkAtNs, when the rate last changed (nodeClock).
	rate             float64
	clkNs, clkAtNs   int64
	skewChangedUntil int64 // a skew-change fault lasts until then
	// paused: the process is stopped (SIGSTOP); inputs wait in held.
	paused bool
	held   []func()

	incarnation [16]byte
	// join: the disk was wiped; the broker starts with node.Config.Join.
	join bool
	// wiped: the last wipe, for the identity check (wipe.go).
	wiped *wipeState
	// damage: the disk holds latent sector errors or a misdirected write
	// (faults_disk.go) until the operator's repair replaces it.
	damage  *damage
	repairs []repairNote
	disk    disk
	members []node.Broker
}

// brokers lists the cluster as clients see it.
func (w *World) brokers() []node.Broker {
	var out []node.Broker
	for i := range w.cfg.Nodes {
		out = append(out, node.Broker{ID: int32(i + 1), Host: fmt.Sprintf("n%d", i+1), Port: 9092})
	}
	return out
}

// start opens node sn's core from its disk.
func (w *World) start(sn *simNode) {
	e := env.Env{Clock: nodeClock{sn}, Rand: env.NewRand(w.rng.Uint64()), Log: slog.New(slog.DiscardHandler)}
	sn.opening = true
	defer func() { sn.opening = false }()
	n, err := node.Open(node.Config{
		ID: int32(sn.id), ClusterID: "sim-cluster", Incarnation: sn.incarnation, Join: sn.join, Brokers: sn.members,
		FS: sn.fs, Dir: "data", Env: e, SegmentBytes: w.segmentBytes(), TickMs: w.cfg.TickMs,
		MaxSizePerMsg: w.tuning.maxSizePerMsg, MaxInflightMsgs: w.tuning.maxInflight, ElectionTicks: w.tuning.electionTicks,
		// Few offsets partitions (each is a raft group to simulate), and
		// no initial rebalance delay (the runs are short).
		Groups:           node.GroupConfig{OffsetsPartitions: offsetsPartitions, Coordinator: groups.Config{InitialRebalanceDelayMs: -1}},
		RetentionCheckMs: retentionCheckMs,
	})
	if err != nil {
		if sn.damage != nil && sn.damage.applied {
			// The broker refuses to start on its damaged disk (it found
			// the damage: fail-stop). The operator replaces the disk
			// (faults_disk.go).
			w.record("start-refused-damaged", sn.id)
			sn.damage.refused = true
			w.repair(sn)
			w.start(sn)
			return
		}
		if sn.diskErr != nil && w.nowNs < sn.diskErrUntil {
			// The disk refuses writes (a blackout restarted the broker
			// during its disk fault): the process exits, and its supervisor
			// starts it again once the fault is over.
			w.record("start-failed", sn.id)
			gen := sn.gen
			w.at(sn.diskErrUntil+w.uniform(10e6, 100e6), func() {
				if sn.gen == gen && sn.n == nil {
					w.start(sn)
				}
			})
			return
		}
		// A node that cannot open its disk is a storage invariant broken:
		// crashes only lose unsynced data.
		w.fail("node %d cannot reopen its disk: %v", sn.id, err)
		return
	}
	sn.n = n
	sn.opening = false
	w.record("start", sn.id)
	w.scheduleTick(sn, sn.gen)
	defer w.recoverNode(sn)
	w.drain(sn)
}

// retentionCheckMs: retention runs every virtual second (a run is short).
const retentionCheckMs = 1000

// rollSegmentBytes caps the segment size of runs that draw crash-in-roll:
// a workload partition then rolls about once a second (the default 1 MiB
// segment does not fill within a short run), so the fault finds rounds
// that create and seal segments.
const rollSegmentBytes = 64 << 10

// segmentBytes is the brokers' segment size.
func (w *World) segmentBytes() int64 {
	if slices.ContainsFunc(w.scenario.Faults, func(f Weighted) bool { return f.Fault == "crash-in-roll" }) {
		return min(w.tuning.segmentBytes, rollSegmentBytes)
	}
	return w.tuning.segmentBytes
}

// scheduleTick ticks sn every TickMs of its own (skewed) clock.
func (w *World) scheduleTick(sn *simNode, gen uint64) {
	d := int64(float64(w.cfg.TickMs*1e6) / sn.rate)
	w.after(d, func() {
		if sn.gen != gen || sn.n == nil {
			return
		}
		w.input(sn, func() { sn.n.Tick(nodeClock{sn}.NowNs() / 1e6) })
		w.scheduleTick(sn, gen)
	})
}

// input runs f against sn's core (or holds it while paused), then carries
// out the outputs.
func (w *World) input(sn *simNode, f func()) {
	if sn.n == nil {
		return
	}
	if sn.paused {
		if len(sn.held) < 100_000 {
			sn.held = append(sn.held, f)
		}
		return
	}
	defer w.recoverNode(sn)
	f()
	w.drain(sn)
}

// recoverNode turns a panic inside a broker's core into a failed run that
// goes on: the panic is recorded (an invariant the implementation asserts,
// broken), the broker crashes and restarts, and the checker still judges
// the history — so a planted bug is caught by the checker, not only by an
// assertion.
func (w *World) recoverNode(sn *simNode) {
	v := recover()
	if v == nil {
		return
	}
	w.fail("broker %d panicked: %v", sn.id, v)
	if sn.n != nil {
		w.crash(sn, false, w.uniform(500e6, 2e9))
	}
}

// drain carries out everything sn's core has to hand out.
func (w *World) drain(sn *simNode) {
	out := sn.n.Ready()
	for _, b := range out.Batches {
		w.net.send(sn, b)
	}
	for _, wr := range out.Writes {
		w.diskSubmit(sn, wr)
	}
	for _, r := range out.Reads {
		w.read(sn, r)
	}
	for _, resp := range out.Responses {
		w.respond(sn, resp)
	}
}

// read executes a cold read after a disk latency.
func (w *World) read(sn *simNode, r node.Read) {
	gen := sn.gen
	w.after(w.uniform(50_000, 500_000), func() {
		if sn.gen != gen || sn.n == nil {
			return
		}
		batches, err := r.Plan.Execute()
		w.record("read", sn.id, uint64(len(batches)))
		w.input(sn, func() { sn.n.ReadDone(r.ID, batches, err) })
	})
}

// crash kills sn: power loss (unsynced pages may be lost or torn) or a
// process crash (the page cache survives), then schedules its restart.
func (w *World) crash(sn *simNode, powerLoss bool, downNs int64) {
	if sn.n == nil {
		return
	}
	w.statCrashes++
	w.record("crash", sn.id, b2u(powerLoss))
	sn.n = nil
	sn.gen++
	sn.paused, sn.held = false, nil
	sn.disk = disk{}
	if powerLoss {
		sn.mem.Crash()
	} else {
		sn.mem.ProcessCrash()
	}
	w.resetConns(sn)
	gen := sn.gen
	w.after(downNs, func() {
		if sn.gen == gen && sn.n == nil {
			w.start(sn)
		}
	})
}

// pause stops sn for d (longer than an election timeout, typically), then
// resumes it with everything that arrived meanwhile.
func (w *World) pause(sn *simNode, d int64) {
	if sn.n == nil || sn.paused {
		return
	}
	w.statPauses++
	w.record("pause", sn.id)
	sn.paused = true
	gen := sn.gen
	w.after(d, func() { w.resume(sn, gen) })
}

func (w *World) resume(sn *simNode, gen uint64) {
	if sn.gen != gen || !sn.paused {
		return
	}
	sn.paused = false
	held := sn.held
	sn.held = nil
	for _, f := range held {
		if sn.n == nil {
			return
		}
		f()
	}
	if sn.n != nil {
		w.drain(sn)
	}
}

// nodeClock is a broker's view of virtual time: it runs at sn.rate, and a
// change of rate (a skew-change fault) bends it without a jump.
type nodeClock struct{ sn *simNode }

func (c nodeClock) NowNs() int64 {
	sn := c.sn
	return sn.clkNs + int64(float64(sn.w.nowNs-sn.clkAtNs)*sn.rate)
}

var _ env.Clock = nodeClock{}

// setRate changes sn's clock rate from now on.
func (w *World) setRate(sn *simNode, rate float64) {
	sn.clkNs, sn.clkAtNs, sn.rate = nodeClock{sn}.NowNs(), w.nowNs, rate
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// receive delivers a batch from the network.
func (w *World) receive(sn *simNode, b transport.Batch) {
	w.input(sn, func() { sn.n.Receive(b) })
}
