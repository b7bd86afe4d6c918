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
	w.after(w.uniform(500e6, 2e9), func() {
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

func (w *World) nemesis() {
	minority := (w.cfg.Nodes - 1) / 2
	sn := w.nodes[w.rng.IntN(len(w.nodes))]
	switch k := w.rng.IntN(15); k {
	case 0, 1: // crash and restart
		if w.down() < minority && sn.n != nil {
			w.crash(sn, w.rng.IntN(3) > 0, w.uniform(100e6, 3e9))
		}
	case 2: // pause longer than an election timeout
		if w.down() < minority {
			w.pause(sn, w.uniform(200e6, 2e9))
		}
	case 3: // isolate one broker (symmetric partition)
		w.partition([]uint64{sn.id}, true, w.uniform(200e6, 4e9))
	case 4: // one-way partition
		to := w.nodes[w.rng.IntN(len(w.nodes))]
		if to != sn {
			w.cut(sn.id, to.id, w.uniform(200e6, 3e9))
		}
	case 5: // random halves or a bridge
		if w.cfg.Nodes >= 3 {
			w.bridge(w.uniform(500e6, 4e9))
		}
	case 6: // loss and duplication on every link
		w.lossy(0.05+0.25*w.rng.Float64(), 0.1*w.rng.Float64(), w.uniform(500e6, 3e9))
	case 7: // clog: one broker's links stall
		w.clog(sn.id, w.uniform(100e6, 1e9))
	case 8: // stale replays of old messages
		for i := 0; i < 5; i++ {
			w.net.replayStale()
		}
	case 10: // EIO or ENOSPC on one broker's disk
		if w.down() < minority && sn.n != nil {
			w.diskFault(sn, w.rng.IntN(2) == 0, w.uniform(100e6, 2e9))
		}
	case 11: // a slow disk: syncs take 0.1–1 s
		w.record("slow-disk", sn.id)
		sn.disk.slowUntilNs = w.nowNs + w.uniform(500e6, 3e9)
	case 12: // flaky reads: bits flip on the way from the disk
		w.statDiskFaults++
		w.record("flaky-reads", sn.id)
		sn.flipUntil, sn.flipP = w.nowNs+w.uniform(200e6, 2e9), 0.01+0.2*w.rng.Float64()
	case 13: // client connections to one broker stall
		w.record("client-clog", sn.id)
		sn.clientClogUntil = w.nowNs + w.uniform(100e6, 3e9)
	case 14: // wipe one broker's disk: it rejoins under a new incarnation
		if w.down() < minority && sn.n != nil && !w.anyRejoining() {
			w.wipe(sn, w.uniform(100e6, 2e9))
		}
	case 9: // blackout: every broker loses power at once; synced data must survive
		if w.rng.IntN(3) == 0 {
			w.record("blackout")
			for _, sn := range w.nodes {
				w.crash(sn, true, w.uniform(100e6, 1e9))
			}
		}
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
	w.after(dNs, func() {
		for _, l := range cut {
			l.cut = false
		}
	})
}

func (w *World) lossy(loss, dup float64, dNs int64) {
	w.record("lossy")
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
