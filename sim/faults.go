package sim

// The nemesis: while the fault phase lasts, every 0.5–2 virtual seconds it
// starts one fault, drawn at random, that heals itself after a while.
// Crashes are power losses (unsynced pages lost or torn) or process
// crashes; at most a minority of brokers is down at once, so the cluster
// can make progress between faults (the liveness phase checks that it
// does once they stop) — except for the occasional blackout, when every
// broker loses power together: with sync-before-ack nothing acknowledged
// may be lost even then. A wipe replaces one broker's disk (wipe.go); the
// broker counts as down until it has rejoined every group as a voter.

func (w *World) scheduleNemesis() {
	w.after(w.uniform(w.scenario.EveryMs[0]*1e6, w.scenario.EveryMs[1]*1e6), func() {
		if !w.faulting {
			return
		}
		w.nemesis()
		w.scheduleNemesis()
	})
}

func (w *World) down() int {
	n := 0
	for _, sn := range w.nodes {
		if sn.n == nil || sn.paused || (sn.diskErr != nil && w.nowNs < sn.diskErrUntil) || w.rejoining(sn) {
			n++
		}
	}
	return n
}

// baseFaults are the simulator's original fault kinds, in the order (and,
// in kitchen-sink, with the weights) of its first nemesis.
var baseFaults = []faultKind{
	{"crash", "power loss (unsynced pages lost or torn; 2 in 3) or process crash of one broker, restarted after 0.1–3 s",
		func(w *World, sn *simNode) {
			if w.minorityDown(sn) {
				powerLoss, d := w.rng.IntN(3) > 0, w.uniform(100e6, 3e9)
				w.span(either(powerLoss, "power-loss", "process-crash"), d, sn.id)
				w.crash(sn, powerLoss, d)
			}
		}},
	{"pause", "one broker stops (SIGSTOP) for 0.2–2 s, longer than an election timeout, then resumes",
		func(w *World, sn *simNode) {
			if w.down() < (w.cfg.Nodes-1)/2 {
				d := w.uniform(200e6, 2e9)
				if sn.n != nil && !sn.paused {
					w.span("pause", d, sn.id)
				}
				w.pause(sn, d)
			}
		}},
	{"isolate", "one broker cut off from the others both ways for 0.2–4 s",
		func(w *World, sn *simNode) { w.partition([]uint64{sn.id}, true, w.uniform(200e6, 4e9)) }},
	{"one-way", "one link dropped in one direction only for 0.2–3 s",
		func(w *World, sn *simNode) {
			to := w.nodes[w.rng.IntN(len(w.nodes))]
			if to != sn {
				w.cut(sn.id, to.id, w.uniform(200e6, 3e9))
			}
		}},
	{"bridge", "A–B and B–C up, A–C down (brokers shuffled) for 0.5–4 s",
		func(w *World, sn *simNode) {
			if w.cfg.Nodes >= 3 {
				w.bridge(w.uniform(500e6, 4e9))
			}
		}},
	{"lossy", "every link loses 5–30% of batches, duplicates up to 10% and reorders, for 0.5–3 s",
		func(w *World, sn *simNode) {
			w.lossy(0.05+0.25*w.rng.Float64(), 0.1*w.rng.Float64(), w.uniform(500e6, 3e9))
		}},
	{"clog", "one broker's links stall (nothing lost, everything late) for 0.1–1 s",
		func(w *World, sn *simNode) { w.clog(sn.id, w.uniform(100e6, 1e9)) }},
	{"stale", "five old batches (appends, votes) replayed on random links",
		func(w *World, sn *simNode) {
			w.span("stale", 0)
			for i := 0; i < 5; i++ {
				w.net.replayStale()
			}
		}},
	{"blackout", "(one time in three) every broker loses power at once: synced data must survive",
		func(w *World, sn *simNode) {
			if w.rng.IntN(3) == 0 {
				w.blackout(w.nodes)
			}
		}},
	{"disk-error", "EIO (on some writes and syncs) or ENOSPC (on all) on one broker's disk for 0.1–2 s: its partitions stop, then reopen",
		func(w *World, sn *simNode) {
			if w.minorityDown(sn) {
				noSpace, d := w.rng.IntN(2) == 0, w.uniform(100e6, 2e9)
				w.span(either(noSpace, "enospc", "eio"), d, sn.id)
				w.diskFault(sn, noSpace, d)
			}
		}},
	{"slow-disk", "one broker's syncs take 0.1–1 s longer for 0.5–3 s",
		func(w *World, sn *simNode) {
			w.record("slow-disk", sn.id)
			d := w.uniform(500e6, 3e9)
			sn.disk.slowUntilNs = w.nowNs + d
			w.span("slow-disk", d, sn.id)
		}},
	{"flaky-reads", "reads from one broker's disk flip bits (1–21% of reads; the stored bytes are intact) for 0.2–2 s",
		func(w *World, sn *simNode) {
			w.statDiskFaults++
			w.record("flaky-reads", sn.id)
			d := w.uniform(200e6, 2e9)
			sn.flipUntil, sn.flipP = w.nowNs+d, 0.01+0.2*w.rng.Float64()
			w.span("flaky-reads", d, sn.id)
		}},
	{"client-clog", "client connections to one broker stall for 0.1–3 s",
		func(w *World, sn *simNode) {
			w.record("client-clog", sn.id)
			d := w.uniform(100e6, 3e9)
			sn.clientClogUntil = w.nowNs + d
			w.span("client-clog", d, sn.id)
		}},
	{"wipe", "one broker's disk replaced by an empty one: it rejoins every group under a new incarnation",
		func(w *World, sn *simNode) {
			if w.minorityDown(sn) && !w.anyRejoining() {
				d := w.uniform(100e6, 2e9)
				w.span("wipe", d, sn.id)
				w.wipe(sn, d)
			}
		}},
}

// blackout: the brokers lose power together.
func (w *World) blackout(nodes []*simNode) {
	w.record("blackout")
	var ids []uint64
	for _, sn := range nodes {
		ids = append(ids, sn.id)
	}
	w.span("blackout", 0, ids...)
	for _, sn := range nodes {
		w.crash(sn, true, w.uniform(100e6, 1e9))
	}
}

// partition cuts ids off from the rest (both ways if symmetric).
func (w *World) partition(ids []uint64, symmetric bool, dNs int64) {
	w.statPartitions++
	in := map[uint64]bool{}
	for _, id := range ids {
		in[id] = true
	}
	var cut []*link
	for _, k := range w.allLinks() {
		if in[k[0]] != in[k[1]] && (symmetric || in[k[0]]) {
			l := w.net.link(k[0], k[1])
			if !l.cut {
				l.cut = true
				cut = append(cut, l)
			}
		}
	}
	w.record("partition", uint64(len(ids)), b2u(symmetric))
	w.span("partition", dNs, ids...)
	w.after(dNs, func() {
		for _, l := range cut {
			l.cut = false
		}
		w.record("heal-partition")
	})
}

func (w *World) cut(from, to uint64, dNs int64) {
	l := w.net.link(from, to)
	if l.cut {
		return
	}
	w.statPartitions++
	l.cut = true
	w.record("cut", from, to)
	w.span("one-way", dNs, from, to)
	w.after(dNs, func() { l.cut = false })
}

// bridge: A–B and B–C up, A–C down (the nodes are shuffled).
func (w *World) bridge(dNs int64) {
	ids := make([]uint64, w.cfg.Nodes)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	w.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	half := len(ids) / 2
	a, c := ids[:half], ids[half+1:]
	w.statPartitions++
	var cut []*link
	for _, x := range a {
		for _, y := range c {
			for _, l := range []*link{w.net.link(x, y), w.net.link(y, x)} {
				if !l.cut {
					l.cut = true
					cut = append(cut, l)
				}
			}
		}
	}
	w.record("bridge", ids...)
	w.span("bridge", dNs, ids...)
	w.after(dNs, func() {
		for _, l := range cut {
			l.cut = false
		}
	})
}

func (w *World) lossy(loss, dup float64, dNs int64) {
	w.record("lossy")
	w.span("lossy", dNs)
	for _, k := range w.allLinks() {
		l := w.net.link(k[0], k[1])
		l.loss, l.dup = loss, dup
		l.latHiNs = 5_000_000 // more spread: more reordering
	}
	w.after(dNs, func() {
		for _, k := range w.allLinks() {
			l := w.net.link(k[0], k[1])
			l.loss, l.dup, l.latHiNs = 0, 0, 1_000_000
		}
	})
}

func (w *World) clog(id uint64, dNs int64) {
	w.record("clog", id)
	w.span("clog", dNs, id)
	for _, k := range w.allLinks() {
		if k[0] == id || k[1] == id {
			w.net.link(k[0], k[1]).clogUntil = w.nowNs + dNs
		}
	}
}

// allLinks lists every directed link between brokers.
func (w *World) allLinks() [][2]uint64 {
	var out [][2]uint64
	for from := 1; from <= w.cfg.Nodes; from++ {
		for to := 1; to <= w.cfg.Nodes; to++ {
			if from != to {
				out = append(out, [2]uint64{uint64(from), uint64(to)})
			}
		}
	}
	return out
}

func either(c bool, yes, no string) string {
	if c {
		return yes
	}
	return no
}
