package sim

import (
	"slices"
	"strings"

	"sluice/node"
	"sluice/raftlog"
	"sluice/raftlog/vfs"
)

// disk is one broker's disk: group commit, as raftlog/writer does it — a
// cycle writes every queued round (into the page cache), then after the
// sync latency syncs them all and reports each done. A crash between the
// two loses or tears what was not synced.
type disk struct {
	queue []node.Write
	busy  bool
	// slowUntilNs: a slow-disk fault adds latency until then.
	slowUntilNs int64
	// verySlowUntilNs: a slow-disk-1s fault makes every cycle's write and
	// sync take about a second until then.
	verySlowUntilNs int64
	// arm: a crash waits for a cycle to reach the point it names
	// (faults_proc.go).
	arm *crashArm
}

// crashArm is a power loss waiting for the disk to reach a point: a sync in
// flight (inRoll false), or a round that creates or seals a segment in
// flight (inRoll true). It lapses at untilNs.
type crashArm struct {
	inRoll  bool
	downNs  int64
	untilNs int64
}

func (w *World) diskSubmit(sn *simNode, wr node.Write) {
	sn.disk.queue = append(sn.disk.queue, wr)
	if !sn.disk.busy {
		w.diskCycle(sn)
	}
}

func (w *World) diskCycle(sn *simNode) {
	batch := sn.disk.queue
	sn.disk.queue = nil
	sn.disk.busy = true
	gen := sn.gen
	writeNs, syncNs := w.uniform(10_000, 100_000), w.uniform(100_000, 2_000_000)
	if sn.disk.slowUntilNs > w.nowNs {
		syncNs += w.uniform(100_000_000, 1_000_000_000)
	}
	if w.faulting && sn.disk.verySlowUntilNs > w.nowNs {
		writeNs += w.uniform(200_000_000, 400_000_000)
		syncNs += w.uniform(500_000_000, 700_000_000)
	}
	errs := make([]error, len(batch))
	w.after(writeNs, func() {
		if sn.gen != gen {
			return
		}
		for i, wr := range batch {
			errs[i] = wr.W.Round.WriteAll()
		}
		w.after(syncNs, func() {
			if sn.gen != gen {
				return
			}
			crashAt, crashStep, downNs := w.crashPoint(sn, batch)
			for i, wr := range batch {
				if i == crashAt {
					w.crashMidRound(sn, wr.W.Round, crashStep, downNs)
					return
				}
				if errs[i] == nil {
					for _, f := range wr.W.Round.Syncs {
						if err := f.Sync(); err != nil {
							errs[i] = err
							break
						}
					}
				}
				if errs[i] == nil {
					errs[i] = wr.W.Round.Finish(sn.fs)
				}
				w.statWrites++
				w.statWriteBytes += wr.W.Round.Bytes()
				for _, f := range wr.W.Round.Files {
					w.statFileBytes += int64(len(f.Data))
					w.statFiles++
				}
				w.record("write", sn.id, uint64(wr.W.Round.Bytes()), b2u(errs[i] != nil))
			}
			sn.disk.busy = false
			for i, wr := range batch {
				err := errs[i]
				w.input(sn, func() { sn.n.WriteDone(wr, err) })
			}
			if len(sn.disk.queue) > 0 && sn.gen == gen && !sn.disk.busy {
				w.diskCycle(sn)
			}
		})
	})
}

// crashPoint says whether an armed crash fires in this cycle: the round
// it hits and how far that round gets (crashMidRound), or -1. A crash
// during fsync hits any round; a crash during a roll waits for a round that
// writes a segment's first bytes or seals one (its index file). Either
// lapses at its deadline or when the fault phase ends, and fires only
// while the broker may go down (a minority at most).
func (w *World) crashPoint(sn *simNode, batch []node.Write) (round, step int, downNs int64) {
	a := sn.disk.arm
	if a == nil || len(batch) == 0 {
		return -1, 0, 0
	}
	if !w.faulting || w.nowNs >= a.untilNs {
		sn.disk.arm = nil
		w.record("crash-arm-lapsed", sn.id, b2u(a.inRoll))
		return -1, 0, 0
	}
	if w.down() >= (w.cfg.Nodes-1)/2 {
		return -1, 0, 0
	}
	round = w.rng.IntN(len(batch))
	if a.inRoll {
		round = slices.IndexFunc(batch, func(wr node.Write) bool { return rolls(wr.W.Round) })
		if round < 0 {
			return -1, 0, 0
		}
	}
	sn.disk.arm = nil
	kind := either(a.inRoll, "crash-in-roll", "crash-in-fsync")
	w.span(kind, a.downNs, sn.id)
	step = w.rng.IntN(3)
	w.record(kind, sn.id, uint64(round), uint64(step))
	return round, step, a.downNs
}

// rolls reports whether a round creates a segment (writes its header at
// offset 0) or seals one (replaces its index file).
func rolls(r *raftlog.Round) bool {
	for _, wr := range r.Writes {
		if wr.Off == 0 && strings.HasSuffix(wr.File.Name(), ".seg") {
			return true
		}
	}
	for _, f := range r.Files {
		if strings.HasSuffix(f.Path, ".idx") {
			return true
		}
	}
	return false
}

// crashMidRound cuts the power while r's syncs are in flight: the rounds
// before it in the cycle are synced and finished, r itself gets through
// step 0 (none of its file syncs), 1 (a random part of them) or 2 (all of
// them and its directory syncs, not its file replacements). The broker
// restarts after downNs.
func (w *World) crashMidRound(sn *simNode, r *raftlog.Round, step int, downNs int64) {
	syncs := r.Syncs
	if step == 1 && len(syncs) > 0 {
		syncs = syncs[:w.rng.IntN(len(syncs)+1)]
	} else if step == 0 {
		syncs = nil
	}
	ok := true
	for _, f := range syncs {
		ok = ok && f.Sync() == nil
	}
	if step == 2 && ok {
		for _, d := range r.SyncDirs {
			if sn.fs.SyncDir(d) != nil {
				break
			}
		}
	}
	w.crash(sn, true, downNs)
}

// diskRule injects the broker's current disk fault: EIO or ENOSPC on
// writes, syncs and file creation while it lasts. The partition hit stops
// (fail-stop, never a retry after a failed fsync) and the broker reopens it
// from disk once the disk is healthy (DESIGN.md step 7).
func (w *World) diskRule(sn *simNode) vfs.Rule {
	return vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
		if op.Kind == vfs.OpRead && sn.damage.unreadable(op) {
			w.record("sector-error", sn.id, uint64(op.Off))
			sn.damage.reads++
			return vfs.Injection{Err: vfs.ErrEIO}
		}
		if op.Kind == vfs.OpRead && !sn.opening && w.nowNs < sn.flipUntil && w.chance(sn.flipP) {
			w.record("bit-flip", sn.id)
			return vfs.Injection{Flip: true, FlipBit: w.rng.Uint64()}
		}
		if sn.diskErr == nil || w.nowNs >= sn.diskErrUntil {
			return vfs.Injection{}
		}
		switch op.Kind {
		case vfs.OpWrite, vfs.OpSync, vfs.OpCreate, vfs.OpSyncDir:
			if w.chance(sn.diskErrP) {
				w.record("disk-error", sn.id, uint64(op.Kind))
				return vfs.Injection{Err: sn.diskErr}
			}
		}
		return vfs.Injection{}
	})
}

// diskFault makes sn's disk fail for d.
func (w *World) diskFault(sn *simNode, noSpace bool, dNs int64) {
	w.statDiskFaults++
	sn.diskErr, sn.diskErrUntil, sn.diskErrP = vfs.ErrEIO, w.nowNs+dNs, 0.2+0.8*w.rng.Float64()
	if noSpace {
		sn.diskErr, sn.diskErrP = vfs.ErrENOSPC, 1
	}
	w.record("disk-fault", sn.id, b2u(noSpace))
}
