package sim

import (
	"encoding/binary"
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

// crashArm is a power loss waiting for the disk to reach a point (at). It
// lapses at untilNs.
type crashArm struct {
	at      armPoint
	downNs  int64
	untilNs int64
}

// armPoint is where an armed crash cuts the disk.
type armPoint uint8

const (
	armSync     armPoint = iota // any round with syncs in flight
	armRoll                     // a round that creates or seals a segment
	armSnapshot                 // a round that installs a snapshot from the leader
)

func (a armPoint) kind() string {
	return [...]string{"crash-in-fsync", "crash-in-roll", "crash-in-snapshot"}[a]
}

// hits reports whether the round is one the arm waits for.
func (a armPoint) hits(r *raftlog.Round) bool {
	switch a {
	case armRoll:
		return rolls(r)
	case armSnapshot:
		return installs(r)
	}
	return true
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
	if !slices.ContainsFunc(batch, needsSync) {
		// Relaxed flush policy: rounds with nothing to sync are done once
		// written, as raftlog/writer reports them.
		syncNs = 0
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
				if errs[i] == nil && wr.W.Round.Failed() {
					// An earlier round of the log failed: never sync a
					// file again after a failed fsync.
					errs[i] = raftlog.ErrEarlierRoundFailed
				}
				if errs[i] == nil {
					for _, f := range wr.W.Round.Syncs {
						if err := f.Sync(); err != nil {
							errs[i] = err
							wr.W.Round.Fail()
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
// writes a segment's first bytes or seals one (its index file); a crash
// during a snapshot install waits for a round that writes a snapshot from
// the leader. Each lapses at its deadline or when the fault phase ends,
// and fires only while the broker may go down (a minority at most).
func (w *World) crashPoint(sn *simNode, batch []node.Write) (round, step int, downNs int64) {
	a := sn.disk.arm
	if a == nil || len(batch) == 0 {
		return -1, 0, 0
	}
	if !w.faulting || w.nowNs >= a.untilNs {
		sn.disk.arm = nil
		w.record("crash-arm-lapsed", sn.id, uint64(a.at))
		return -1, 0, 0
	}
	if !w.mayGoDown(sn) {
		return -1, 0, 0
	}
	round = w.rng.IntN(len(batch))
	if a.at != armSync {
		round = slices.IndexFunc(batch, func(wr node.Write) bool { return a.at.hits(wr.W.Round) })
		if round < 0 {
			return -1, 0, 0
		}
	}
	sn.disk.arm = nil
	kind := a.at.kind()
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

// installs reports whether a round writes a snapshot frame that resets the
// log (raftlog's recSnapshot, type 5, with reset set: a snapshot from the
// leader). A round's first write to a segment starts at a frame, so the
// frames are walked over each run of consecutive writes to one file (the
// format of raftlog/format.go; the reset byte follows index and term).
func installs(r *raftlog.Round) bool {
	var buf []byte
	var f vfs.File
	var end int64
	check := func() bool {
		for pos := 0; pos+17 <= len(buf); {
			n := int(binary.LittleEndian.Uint32(buf[pos+4:]))
			if buf[pos+8]&0x7f == 5 && n >= 17 && pos+17+17 <= len(buf) && buf[pos+17+16] == 1 {
				return true
			}
			pos += 17 + n
		}
		return false
	}
	for _, wr := range r.Writes {
		if wr.File != f || wr.Off != end {
			if check() {
				return true
			}
			buf, f = buf[:0], wr.File
		}
		buf = append(buf, wr.Data...)
		end = wr.Off + int64(len(wr.Data))
	}
	return check()
}

// mayGoDown: taking sn down leaves at most a minority of brokers down
// (sn itself may already count as down, as a rejoining broker does).
func (w *World) mayGoDown(sn *simNode) bool {
	down := w.down()
	if sn.n != nil && (sn.paused || w.rejoining(sn)) {
		down--
	}
	return sn.n != nil && down < (w.cfg.Nodes-1)/2
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

// needsSync reports whether a write's round syncs anything (files, their
// directory, or whole files it replaces).
func needsSync(wr node.Write) bool {
	r := wr.W.Round
	return len(r.Syncs) > 0 || len(r.SyncDirs) > 0 || len(r.Files) > 0
}
