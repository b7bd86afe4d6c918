package sim

import (
	"math"
	"slices"
)

// netFaults are the network, partition and client fault kinds (see
// scenario.go) added to the simulator's original ones; kitchen-sink draws
// them too. Every one heals itself: a cut by an event that restores the
// links it cut (never one another fault cut), a link shape (net.go) by its
// deadline, and every shape also ends with the fault phase. Each records a
// span and mixes what it chose into the trace.
var netFaults = []faultKind{
	{"leader-isolate", "the broker leading the most raft groups, with 0–(n-3)/2 others, cut off both ways for 3 election timeouts (at least 0.5 s) to 4 s",
		func(w *World, sn *simNode) {
			if lead := w.busiestLeader(); lead != nil && w.cfg.Nodes >= 2 {
				others := w.shuffledIDs(lead.id)
				side := append([]uint64{lead.id}, others[:w.rng.IntN(max((w.cfg.Nodes-1)/2, 1))]...)
				w.split("leader-isolate", side, w.uniform(max(500e6, 3*w.electionTimeoutNs()), 4e9))
			}
		}},
	{"minority", "a random minority of 1–(n-1)/2 brokers cut off from the majority both ways for 0.5–4 s",
		func(w *World, sn *simNode) {
			if k := 1 + w.rng.IntN(max((w.cfg.Nodes-1)/2, 1)); k < w.cfg.Nodes {
				w.split("minority", w.shuffledIDs(0)[:k], w.uniform(500e6, 4e9))
			}
		}},
	{"halves", "the brokers shuffled and split into halves (⌊n/2⌋ | ⌈n/2⌉) cut off from each other both ways for 0.5–4 s",
		func(w *World, sn *simNode) {
			if w.cfg.Nodes >= 2 {
				w.split("halves", w.shuffledIDs(0)[:w.cfg.Nodes/2], w.uniform(500e6, 4e9))
			}
		}},
	{"swizzle-clog", "FoundationDB's swizzle: 2 to all of the links between brokers (directed, drawn at random) clogged one by one every 10–150 ms, held 0.1–1 s, then unclogged one by one every 10–150 ms in another random order; nothing lost, everything late",
		func(w *World, sn *simNode) { w.swizzle() }},
	{"pareto-clog", "one broker's links stall for a heavy-tailed time: Pareto (scale 50 ms, shape 1.1: median 94 ms, 1 in 27 over 1 s), capped at 5 s",
		func(w *World, sn *simNode) { w.paretoClog(sn) }},
	{"exp-delay", "every link's latency becomes 0.1 ms + Exp(mean 2–20 ms), capped at 20 means, for 0.5–3 s: a long tail of late, reordered batches",
		func(w *World, sn *simNode) {
			mean, d := w.uniform(2e6, 20e6), w.uniform(500e6, 3e9)
			w.shapeLinks("exp-delay", d, func(l *link) { l.expUntilNs, l.expMeanNs = w.nowNs+d, mean }, uint64(mean))
		}},
	{"reorder-dup", "every link's latency spreads over 0.1 ms + [0, S) with S 2–20 ms (reordering) and 5–30% of batches are duplicated, none lost, for 0.5–3 s",
		func(w *World, sn *simNode) {
			spread, dup, d := w.uniform(2e6, 20e6), 0.05+0.25*w.rng.Float64(), w.uniform(500e6, 3e9)
			w.shapeLinks("reorder-dup", d, func(l *link) { l.reorderUntilNs, l.reorderSpreadNs, l.reorderDup = w.nowNs+d, spread, dup },
				uint64(spread), math.Float64bits(dup))
		}},
	{"inflight-limit", "every link carries at most 1–4 batches in flight for 0.5–3 s; one more is dropped and reported unreachable, as the TCP transport's full send queue drops it",
		func(w *World, sn *simNode) {
			limit, d := 1+w.rng.IntN(4), w.uniform(500e6, 3e9)
			w.shapeLinks("inflight-limit", d, func(l *link) { l.limitUntilNs, l.limit = w.nowNs+d, limit }, uint64(limit))
		}},
	{"client-reset", "for 0.2–2 s, every 20–200 ms, every client connection to one broker with a request in flight is reset (the request may or may not have been handled)",
		func(w *World, sn *simNode) {
			d := w.uniform(200e6, 2e9)
			w.record("client-reset", sn.id, uint64(d))
			w.span("client-reset", d, sn.id)
			w.resetClientsUntil(sn, w.nowNs+d)
		}},
	{"client-crash", "a producer (idempotent or not) or a plain consumer (not a group member) dies, its requests in flight left unknown, and after 10 ms–1 s a new process with a new identity (an idempotent producer: a new producer id) takes its place",
		func(w *World, sn *simNode) { w.crashClient() }},
	{"member-stall", "a consumer group member stops heartbeating and committing for the session timeout and 0.5–3 s more while it goes on polling (a client stuck in a long pause): the group rebalances without it, and the commits it sends when it wakes must be fenced",
		func(w *World, sn *simNode) { w.stallMember() }},
}

// electionTimeoutNs is raft's (shortest) election timeout on the brokers.
func (w *World) electionTimeoutNs() int64 {
	ticks := int64(w.tuning.electionTicks)
	if ticks == 0 {
		ticks = 10 // node's default
	}
	return ticks * w.cfg.TickMs * 1e6
}

// shuffledIDs lists the broker ids but except, in a random order.
func (w *World) shuffledIDs(except uint64) []uint64 {
	var ids []uint64
	for i := range w.cfg.Nodes {
		if id := uint64(i + 1); id != except {
			ids = append(ids, id)
		}
	}
	w.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids
}

// busiestLeader is the running broker that leads the most raft groups in
// its own view (ties drawn at random), or nil if none leads any.
func (w *World) busiestLeader() *simNode {
	var best []*simNode
	most := 1
	for _, sn := range w.nodes {
		if sn.n == nil {
			continue
		}
		k := 0
		for _, pi := range sn.n.Partitions() {
			if pi.Leader == sn.id {
				k++
			}
		}
		switch {
		case k > most:
			best, most = []*simNode{sn}, k
		case k == most:
			best = append(best, sn)
		}
	}
	if len(best) == 0 {
		return nil
	}
	return best[w.rng.IntN(len(best))]
}

// split cuts every link between side and the other brokers, both ways, for
// dNs. It heals only the links it cut: one another fault had cut already
// stays that fault's to heal.
func (w *World) split(kind string, side []uint64, dNs int64) {
	w.statPartitions++
	slices.Sort(side)
	var cut []*link
	for _, k := range w.allLinks() {
		if slices.Contains(side, k[0]) != slices.Contains(side, k[1]) {
			if l := w.net.link(k[0], k[1]); !l.cut {
				l.cut = true
				cut = append(cut, l)
			}
		}
	}
	w.record(kind, append([]uint64{uint64(dNs)}, side...)...)
	w.span(kind, dNs, side...)
	w.after(dNs, func() {
		for _, l := range cut {
			l.cut = false
		}
		w.record("heal-" + kind)
	})
}

// swizzle clogs a random subset of the links one by one, holds, then
// unclogs them one by one in a new random order. A clog is a deadline
// (link.clogUntil), so each link's unclog time is drawn up front and set
// when the link is clogged.
func (w *World) swizzle() {
	links := w.allLinks()
	if len(links) < 2 {
		return
	}
	w.rng.Shuffle(len(links), func(i, j int) { links[i], links[j] = links[j], links[i] })
	links = links[:2+w.rng.IntN(len(links)-1)]
	clogAt := make([]int64, len(links))
	t := w.nowNs
	for i := range links {
		t += w.uniform(10e6, 150e6)
		clogAt[i] = t
	}
	t += w.uniform(100e6, 1e9)
	unclogAt := make([]int64, len(links))
	for _, i := range w.rng.Perm(len(links)) {
		t += w.uniform(10e6, 150e6)
		unclogAt[i] = t
	}
	var nodes []uint64
	for _, k := range links {
		nodes = append(nodes, k[0], k[1])
	}
	slices.Sort(nodes)
	w.record("swizzle-clog", uint64(len(links)), uint64(t-w.nowNs))
	w.span("swizzle-clog", t-w.nowNs, slices.Compact(nodes)...)
	for i, k := range links {
		l, until := w.net.link(k[0], k[1]), unclogAt[i]
		w.at(clogAt[i], func() {
			if w.faulting {
				w.record("swizzle-clog-link", k[0], k[1], uint64(until))
				l.clogUntil = max(l.clogUntil, until)
			}
		})
	}
}

// paretoClog stalls sn's links for a Pareto-distributed time.
func (w *World) paretoClog(sn *simNode) {
	const scaleNs, shape, capNs = 50e6, 1.1, 5e9
	u := 1 - w.rng.Float64() // (0, 1]
	d := int64(min(scaleNs/math.Pow(u, 1/shape), capNs))
	w.record("pareto-clog", sn.id, uint64(d))
	w.span("pareto-clog", d, sn.id)
	for _, k := range w.allLinks() {
		if k[0] == sn.id || k[1] == sn.id {
			l := w.net.link(k[0], k[1])
			l.clogUntil = max(l.clogUntil, w.nowNs+d)
		}
	}
}

// shapeLinks applies set to every link between brokers: a shape that holds
// until the deadline set writes (net.go), a later fault of the kind
// overriding it.
func (w *World) shapeLinks(kind string, dNs int64, set func(*link), vals ...uint64) {
	w.record(kind, append([]uint64{uint64(dNs)}, vals...)...)
	w.span(kind, dNs)
	for _, k := range w.allLinks() {
		set(w.net.link(k[0], k[1]))
	}
}

// resetClientsUntil resets sn's busy client connections now and every
// 20–200 ms until untilNs.
func (w *World) resetClientsUntil(sn *simNode, untilNs int64) {
	if !w.faulting || w.nowNs >= untilNs {
		return
	}
	if n := w.resetBusyConns(sn); n > 0 {
		w.record("client-reset-conns", sn.id, uint64(n))
	}
	w.after(w.uniform(20e6, 200e6), func() { w.resetClientsUntil(sn, untilNs) })
}

// crashClient kills a producer or a plain consumer drawn at random (not a
// group member, whose protocol state lives in group.go, nor the admin
// client, the auditor or the final reader) and schedules its replacement.
func (w *World) crashClient() {
	var cands []*client
	for _, c := range w.clients {
		switch {
		case c.dead, c.final, c.stop:
		case c.kind == producer, c.kind == looseProducer:
			cands = append(cands, c)
		case c.polled && !w.isMember(c):
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return
	}
	c, d := cands[w.rng.IntN(len(cands))], w.uniform(10e6, 1e9)
	w.record("client-crash", uint64(c.id), uint64(c.kind), uint64(d))
	w.span("client-crash", d)
	c.crash(d)
}

// stallMember stalls a group member drawn from those consuming (none if no
// member is).
func (w *World) stallMember() {
	var cands []*groupMember
	for _, m := range w.members {
		if m.state == consuming && m.coord >= 0 && !m.c.dead && w.nowNs >= m.stallUntil {
			cands = append(cands, m)
		}
	}
	if len(cands) == 0 {
		return
	}
	m, d := cands[w.rng.IntN(len(cands))], sessionMs*1e6+w.uniform(500e6, 3e9)
	m.stallUntil = w.nowNs + d
	w.record("member-stall", uint64(m.c.id), uint64(d))
	w.span("member-stall", d)
}

func (w *World) isMember(c *client) bool {
	for _, m := range w.members {
		if m.c == c {
			return true
		}
	}
	return false
}
