package sim

import (
	"sluice/node"
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
			for i, wr := range batch {
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

// diskRule injects the broker's current disk fault: EIO or ENOSPC on
// writes, syncs and file creation while it lasts. The partition hit stops
// (fail-stop, never a retry after a failed fsync) and the broker reopens it
// from disk once the disk is healthy (DESIGN.md step 7).
func (w *World) diskRule(sn *simNode) vfs.Rule {
	return vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
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
