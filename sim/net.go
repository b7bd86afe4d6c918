package sim

import (
	"go.etcd.io/raft/v3/raftpb"

	"sluice/transport"
)

// link is the directed network path between two brokers.
type link struct {
	cut       bool    // partitioned: everything is dropped (and reported, as a broken TCP connection is)
	loss, dup float64 // probabilities per batch
	latLoNs   int64
	latHiNs   int64
	clogUntil int64 // clogged: deliveries wait until then
	stale     []transport.Batch

	// The shapes below (faults_net.go) hold until their deadline, and only
	// while the nemesis runs: the end of the fault phase heals them all.
	// expUntilNs: latencies are latLoNs + Exp(mean expMeanNs), capped at
	// expCapFactor means, instead of uniform.
	expUntilNs, expMeanNs int64
	// reorderUntilNs: latencies spread uniformly over latLoNs +
	// [0, reorderSpreadNs) and a batch is duplicated with probability
	// reorderDup; nothing is lost.
	reorderUntilNs, reorderSpreadNs int64
	reorderDup                      float64
	// limitUntilNs: at most limit batches in flight; one more is dropped
	// and reported, as a full TCP send queue drops it.
	limitUntilNs int64
	limit        int
	inflight     int // batches sent and not yet delivered (or dropped on arrival)
}

// expCapFactor caps an exponential latency at this many means.
const expCapFactor = 20

// network carries batches between brokers with per-link latency, loss,
// duplication, reordering (latencies vary per batch), stale replays,
// partitions and clogs, and the shapes of faults_net.go: exponential
// latencies, reordering with duplication, bounded batches in flight.
type network struct {
	w     *World
	links map[[2]uint64]*link
	// What the shapes of faults_net.go did: batches delayed exponentially,
	// duplicated by reorder-dup, dropped by an in-flight limit.
	statExpDelayed, statReorderDups, statLimitDrops int
}

func newNetwork(w *World) *network { return &network{w: w, links: map[[2]uint64]*link{}} }

func (nw *network) link(from, to uint64) *link {
	k := [2]uint64{from, to}
	l := nw.links[k]
	if l == nil {
		l = &link{latLoNs: 100_000, latHiNs: 1_000_000}
		nw.links[k] = l
	}
	return l
}

func (nw *network) send(from *simNode, b transport.Batch) {
	w := nw.w
	w.checkVotes(from, b)
	l := nw.link(b.From, b.To)
	w.statMessages += len(b.Msgs)
	if l.cut {
		w.statDropped += len(b.Msgs)
		nw.reportDropped(from, b)
		return
	}
	if w.faulting && w.chance(l.loss) {
		w.statDropped += len(b.Msgs)
		nw.reportSnapshots(b, false)
		return
	}
	if nw.full(l) {
		nw.statLimitDrops++
		w.statDropped += len(b.Msgs)
		nw.reportDropped(from, b)
		return
	}
	nw.deliverLater(l, b)
	if w.faulting && w.chance(l.dup) && !nw.full(l) {
		nw.deliverLater(l, b)
	}
	if w.faulting && w.nowNs < l.reorderUntilNs && w.chance(l.reorderDup) && !nw.full(l) {
		nw.statReorderDups++
		nw.deliverLater(l, b)
	}
	// Keep a few old batches for stale replays.
	if w.faulting && len(b.Msgs) > 0 {
		if len(l.stale) < 8 {
			l.stale = append(l.stale, b)
		} else {
			l.stale[w.rng.IntN(len(l.stale))] = b
		}
	}
}

// replayStale re-delivers an old batch on a random link (a delayed
// duplicate from the past).
func (nw *network) replayStale() {
	w := nw.w
	from, to := uint64(w.rng.IntN(w.cfg.Nodes)+1), uint64(w.rng.IntN(w.cfg.Nodes)+1)
	l := nw.links[[2]uint64{from, to}]
	if l == nil || len(l.stale) == 0 || l.cut {
		return
	}
	w.record("stale", from, to)
	nw.deliverLater(l, l.stale[w.rng.IntN(len(l.stale))])
}

// full reports whether l's in-flight limit is on and reached.
func (nw *network) full(l *link) bool {
	return nw.w.faulting && nw.w.nowNs < l.limitUntilNs && l.inflight >= l.limit
}

// latency draws one batch's delay on l.
func (nw *network) latency(l *link) int64 {
	w := nw.w
	switch {
	case !w.faulting:
	case w.nowNs < l.expUntilNs:
		nw.statExpDelayed++
		return l.latLoNs + min(int64(w.rng.ExpFloat64()*float64(l.expMeanNs)), expCapFactor*l.expMeanNs)
	case w.nowNs < l.reorderUntilNs:
		return w.uniform(l.latLoNs, l.latLoNs+l.reorderSpreadNs)
	}
	return w.uniform(l.latLoNs, l.latHiNs)
}

func (nw *network) deliverLater(l *link, b transport.Batch) {
	w := nw.w
	at := w.nowNs + nw.latency(l)
	if l.clogUntil > at {
		at = l.clogUntil + w.uniform(0, 1_000_000)
	}
	l.inflight++
	w.at(at, func() {
		l.inflight--
		to := w.nodes[b.To-1]
		if to.n == nil || l.cut {
			nw.reportSnapshots(b, false)
			return
		}
		defer nw.reportSnapshots(b, true)
		w.record("deliver", b.From, b.To, uint64(len(b.Msgs)), uint64(len(b.Leaders)), uint64(len(b.Forwards)))
		for _, e := range b.Msgs {
			m := e.Msg
			w.record("m", uint64(m.GetType()), m.GetTerm(), m.GetIndex(), uint64(len(m.GetEntries())))
		}
		w.receive(to, b)
	})
}

// reportSnapshots tells the sender whether each snapshot in b arrived, as
// transports do (transport.Mem on delivery, TCP when a connection drops): a
// raft leader sends a follower nothing after a snapshot until it learns the
// snapshot's fate, from this report or the follower's answer, which may be
// lost too.
func (nw *network) reportSnapshots(b transport.Batch, ok bool) {
	for _, e := range b.Msgs {
		if e.Msg.GetType() != raftpb.MsgSnap {
			continue
		}
		if ok {
			nw.w.snapshots++ // delivered
		}
		from, g := nw.w.nodes[b.From-1], e.Group
		nw.w.after(0, func() { nw.w.input(from, func() { from.n.SnapshotStatus(g, b.To, ok) }) })
	}
}

// reportDropped tells the sender which groups lost messages, as the TCP
// transport does when a connection is down.
func (nw *network) reportDropped(from *simNode, b transport.Batch) {
	seen := map[transport.GroupID]bool{}
	for _, e := range b.Msgs {
		g := e.Group
		if !seen[g] {
			seen[g] = true
			nw.w.after(0, func() { nw.w.input(from, func() { from.n.Unreachable(g, b.To) }) })
		}
		if e.Msg.GetType() == raftpb.MsgSnap {
			nw.w.after(0, func() { nw.w.input(from, func() { from.n.SnapshotStatus(g, b.To, false) }) })
		}
	}
}
