package sim

import "sluice/node"

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
