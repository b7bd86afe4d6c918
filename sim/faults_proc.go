package sim

import (
	"slices"

	"sluice/transport"
)

// Process and cluster faults beyond the original ones (faults.go):
//
//   - power loss timed against the disk: while a sync is in flight, while
//     a round that creates or seals a segment is, or while a rejoining
//     broker installs a snapshot (disk.go's crashPoint and crashMidRound);
//   - a broker's clock changing rate mid-run;
//   - a broker gone for 5–15 s under load, so it must catch up a long way;
//   - leadership transfers while the producers run.
//
// Snapshots: sluice never compacts a raft log today (partition.Compact has
// no caller), so the only snapshot a leader sends is a group's first state
// (index 1), to a replica whose log is empty: a broker rejoining after its
// disk was wiped. crash-in-snapshot therefore wipes a broker and cuts its
// power while it installs one.

// procFaults are fault kinds (see scenario.go) added to the simulator's
// original ones; kitchen-sink draws them too.
var procFaults = []faultKind{
	{"crash-in-fsync", "power loss of one broker while its disk has syncs in flight: at the next sync of the following 2 s, the rounds before one are synced, that one gets none, some or all of its file syncs (and then its directory syncs); restarted after 0.1–2 s",
		func(w *World, sn *simNode) { w.armCrash(sn, armSync, 2e9) }},
	{"crash-in-roll", "power loss of one broker while a round that creates a segment (writes its header) or seals one (writes its index) is in flight, cut as crash-in-fsync cuts; armed for up to 5 s (it lapses if no such round comes); restarted after 0.1–2 s. Runs that draw it use segments of at most 64 KiB, so segments roll about once a second",
		func(w *World, sn *simNode) { w.armCrash(sn, armRoll, 5e9) }},
	{"crash-in-snapshot", "one broker's disk is wiped (as wipe does); once it is back, it loses power while a round that installs a snapshot from a group's leader (the new replica's first state) is in flight, cut as crash-in-fsync cuts; armed for up to 5 s after its restart; restarted after 0.1–2 s, it rejoins",
		func(w *World, sn *simNode) {
			if !w.minorityDown(sn) || w.anyRejoining() || sn.disk.arm != nil {
				return
			}
			d := w.uniform(100e6, 1e9)
			w.span("wipe", d, sn.id)
			w.wipe(sn, d)
			w.record("crash-armed", sn.id, uint64(armSnapshot))
			sn.disk.arm = &crashArm{at: armSnapshot, downNs: w.uniform(100e6, 2e9), untilNs: w.nowNs + d + 5e9}
		}},
	{"skew-change", "one broker's clock rate changes to 0.5–1.5× real time (beyond the setup's ±10%) without a jump, for 1–5 s (at most until the fault phase ends), then returns to its setup rate",
		func(w *World, sn *simNode) {
			if sn.skewChangedUntil > w.nowNs {
				return
			}
			d, prev, rate := w.uniform(1e9, 5e9), sn.rate, 0.5+w.rng.Float64()
			d = min(d, w.cfg.DurationMs*1e6-w.nowNs) // back by the end of the fault phase
			w.record("skew-change", sn.id, uint64(rate*1e6))
			w.span("skew-change", d, sn.id)
			w.setRate(sn, rate)
			sn.skewChangedUntil = w.nowNs + d
			w.after(d, func() {
				w.setRate(sn, prev)
				w.record("skew-restored", sn.id)
			})
		}},
	{"long-pause", "one broker paused (SIGSTOP; half the time) or cut off from the others both ways for 5–15 s while the producers run, so it falls far behind and must catch up from the leaders' logs",
		func(w *World, sn *simNode) {
			d := w.uniform(5e9, 15e9)
			if w.rng.IntN(2) == 0 {
				if w.minorityDown(sn) && !sn.paused {
					w.span("long-pause", d, sn.id)
					w.pause(sn, d)
				}
				return
			}
			w.isolate("long-isolate", sn.id, d)
		}},
	{"leader-transfer", "leadership of 1–3 raft groups (workload partitions, consumer-offsets partitions or the metadata group) moves from its leader to another voter (raft's TransferLeader), while the producers run",
		func(w *World, sn *simNode) {
			for range 1 + w.rng.IntN(3) {
				w.transferLeader()
			}
		}},
}

// armCrash arms a power loss of sn timed against its disk (disk.go).
func (w *World) armCrash(sn *simNode, at armPoint, forNs int64) {
	if !w.mayGoDown(sn) || sn.disk.arm != nil {
		return
	}
	w.record("crash-armed", sn.id, uint64(at))
	sn.disk.arm = &crashArm{at: at, downNs: w.uniform(100e6, 2e9), untilNs: w.nowNs + forNs}
}

// isolate cuts id off from every other broker, both ways, for dNs.
func (w *World) isolate(kind string, id uint64, dNs int64) {
	var cut []*link
	for _, k := range w.allLinks() {
		if k[0] == id || k[1] == id {
			if l := w.net.link(k[0], k[1]); !l.cut {
				l.cut = true
				cut = append(cut, l)
			}
		}
	}
	if len(cut) == 0 {
		return
	}
	w.statPartitions++
	w.record(kind, id)
	w.span(kind, dNs, id)
	w.after(dNs, func() {
		for _, l := range cut {
			l.cut = false
		}
		w.record("heal-"+kind, id)
	})
}

// transferLeader moves the leadership of one raft group, drawn among those
// a live broker leads, to another voter of the group, and says which.
func (w *World) transferLeader() (g transport.GroupID, from, to uint64, ok bool) {
	type led struct {
		sn *simNode
		g  transport.GroupID
	}
	var all []led
	for _, sn := range w.nodes {
		if sn.n == nil || sn.paused {
			continue
		}
		for _, pi := range sn.n.Partitions() {
			if pi.Leader == sn.id && pi.Err == nil {
				all = append(all, led{sn, pi.Group})
			}
		}
	}
	if len(all) == 0 {
		return g, 0, 0, false
	}
	l := all[w.rng.IntN(len(all))]
	p := l.sn.n.Replica(l.g)
	voters := slices.DeleteFunc(p.ConfState().GetVoters(), func(id uint64) bool { return id == l.sn.id })
	if len(voters) == 0 {
		return g, 0, 0, false
	}
	to = voters[w.rng.IntN(len(voters))]
	w.record("leader-transfer", l.sn.id, to, uint64(l.g.Partition))
	w.span("leader-transfer", 0, l.sn.id, to)
	w.input(l.sn, func() {
		if p := l.sn.n.Replica(l.g); p != nil && p.Err() == nil {
			p.TransferLeadership(to)
		}
	})
	return l.g, l.sn.id, to, true
}
