package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// This file holds the direct checks of DESIGN.md's invariants, each
// O(n log n) in the size of a partition's history.

// checkDuplicateOffsets: two logical sends acknowledged at one offset. The
// records of one idempotent send (same producer id, epoch and sequence) are
// one logical send, so a retry answered with the original offset is fine.
func (a *analysis) checkDuplicateOffsets(p *part) {
	type ack struct {
		offset int64
		g      int32
		rec    int32
	}
	var acks []ack
	for gi := range p.groups {
		for _, si := range p.groups[gi].recs {
			if s := &a.h.Sends[si]; s.Outcome == OK && s.Acks == AcksAll && s.Complete >= s.Invoke && s.Offset >= 0 {
				acks = append(acks, ack{s.Offset, int32(gi), si})
			}
		}
	}
	slices.SortFunc(acks, func(x, y ack) int { return cmp.Or(cmp.Compare(x.offset, y.offset), cmp.Compare(x.g, y.g)) })
	for i := 0; i < len(acks); {
		j := i + 1
		for j < len(acks) && acks[j].offset == acks[i].offset {
			j++
		}
		if acks[i].g != acks[j-1].g {
			var ops []ref
			for k := i; k < j; k++ {
				if k == i || acks[k].g != acks[k-1].g {
					ops = append(ops, sendRef(acks[k].rec))
				}
			}
			a.violation(DuplicateOffset, p, fmt.Sprintf("%d different sends acknowledged at offset %d", len(ops), acks[i].offset), ops...)
		}
		i = j
	}
}

// checkRealtimeOrder: if acknowledged send a completed before acknowledged
// send b was invoked, offset(a) < offset(b). A sweep over b in invoke order
// keeps the greatest offset among the sends that completed before b began.
func (a *analysis) checkRealtimeOrder(p *part) {
	var oks []int32
	for gi := range p.groups {
		if p.groups[gi].outcome == OK {
			oks = append(oks, int32(gi))
		}
	}
	byInvoke := slices.Clone(oks)
	slices.SortFunc(byInvoke, func(x, y int32) int {
		return cmp.Or(cmp.Compare(p.groups[x].invoke, p.groups[y].invoke), cmp.Compare(x, y))
	})
	byComplete := oks
	slices.SortFunc(byComplete, func(x, y int32) int {
		return cmp.Or(cmp.Compare(p.groups[x].complete, p.groups[y].complete), cmp.Compare(x, y))
	})
	best := int32(-1)
	j := 0
	for _, bi := range byInvoke {
		b := &p.groups[bi]
		for ; j < len(byComplete) && p.groups[byComplete[j]].complete < b.invoke; j++ {
			if c := byComplete[j]; best < 0 || p.groups[c].offset > p.groups[best].offset {
				best = c
			}
		}
		if best >= 0 && p.groups[best].offset >= b.offset {
			x := &p.groups[best]
			a.violation(RealtimeOrder, p, fmt.Sprintf("%q was acknowledged at offset %d before %q was sent, which got offset %d",
				x.value, x.offset, b.value, b.offset), sendRef(x.recs[0]), sendRef(b.recs[0]))
		}
	}
}

// checkGaps: offsets are contiguous, so every offset below the highest
// known one holds a record. An offset no poll returned and no acknowledged
// send was answered with must hold a send of unknown outcome whose value
// nobody read. Such a send can fill offset o only if it was invoked before
// o's deadline: the earliest completion of an operation that proves a higher
// offset was committed (a poll that returned it, an acks=all send answered
// with it). Offsets come in runs between known offsets; each run has one
// deadline. A send invoked earlier can fill every run a later one can, so
// the candidate sets are nested and Hall's condition reduces to: for the
// runs in deadline order, the gaps so far never outnumber the candidates
// invoked by the current deadline.
func (a *analysis) checkGaps(p *part) {
	if len(p.offs) == 0 {
		return
	}
	// deadline[i]: earliest proof that some offset >= offs[i] was committed.
	deadline := make([]int64, len(p.offs))
	witness := make([]ref, len(p.offs))
	for i := len(p.offs) - 1; i >= 0; i-- {
		deadline[i], witness[i] = -1, noRef()
		if i+1 < len(p.offs) {
			deadline[i], witness[i] = deadline[i+1], witness[i+1]
		}
		for _, e := range p.slotEntries(i) {
			if deadline[i] < 0 || e.time < deadline[i] {
				deadline[i], witness[i] = e.time, e.op
			}
		}
	}
	type run struct {
		lo, n    int64
		deadline int64
		witness  ref
	}
	var runs []run
	prev := int64(-1)
	if a.opts.Retention && p.final.ok {
		prev = p.final.logStart - 1 // below it, retention may have deleted
	}
	for i, o := range p.offs {
		if o > prev+1 {
			runs = append(runs, run{prev + 1, o - prev - 1, deadline[i], witness[i]})
		}
		prev = max(prev, o)
	}
	if len(runs) == 0 {
		return
	}
	var fillers []int64 // invoke times of unread sends of unknown outcome
	for gi := range p.groups {
		if g := &p.groups[gi]; g.outcome == Unknown && !g.read() {
			fillers = append(fillers, g.invoke)
		}
	}
	slices.Sort(fillers)
	slices.SortStableFunc(runs, func(x, y run) int { return cmp.Compare(x.deadline, y.deadline) })
	var need int64
	for _, r := range runs {
		need += r.n
		have, _ := slices.BinarySearch(fillers, r.deadline+1)
		if need > int64(have) {
			a.violation(UnexplainedGap, p, fmt.Sprintf(
				"offsets %d..%d were never read, and by %s, when offset %d was known committed, %d offsets were empty but only %d unread sends of unknown outcome had been invoked",
				r.lo, r.lo+r.n-1, vtime(r.deadline), r.lo+r.n, need, have), r.witness)
			return
		}
	}
}

// checkHighWatermarks: the high watermark a process sees never goes
// backwards across non-decreasing leader epochs. For each poll, the greatest
// high watermark among the process's earlier polls answered with an epoch
// no higher than this one's must not exceed it (a prefix maximum over
// epochs, in a Fenwick tree).
func (a *analysis) checkHighWatermarks(p *part) {
	for i := 0; i < len(p.okPolls); {
		proc := a.h.Polls[p.okPolls[i]].Process
		j := i
		for j < len(p.okPolls) && a.h.Polls[p.okPolls[j]].Process == proc {
			j++
		}
		a.checkProcessHW(p, p.okPolls[i:j])
		i = j
	}
}

func (a *analysis) checkProcessHW(p *part, polls []int32) {
	var epochs []int32
	for _, pi := range polls {
		if q := &a.h.Polls[pi]; q.LeaderEpoch >= 0 && q.HighWatermark >= 0 {
			epochs = append(epochs, q.LeaderEpoch)
		}
	}
	hw := func(pi int32) int64 { return a.h.Polls[pi].HighWatermark }
	tree := newEpochMax(epochs, hw)
	for _, pi := range polls {
		q := &a.h.Polls[pi]
		if q.LeaderEpoch < 0 || q.HighWatermark < 0 {
			continue
		}
		if best := tree.best(q.LeaderEpoch); best >= 0 && hw(best) > q.HighWatermark {
			a.violation(HWRegression, p, fmt.Sprintf("process %d saw high watermark %d at epoch %d, then %d at epoch %d",
				q.Process, hw(best), a.h.Polls[best].LeaderEpoch, q.HighWatermark, q.LeaderEpoch), pollRef(best), pollRef(pi))
		}
		tree.add(q.LeaderEpoch, pi)
	}
}

// epochMax is a Fenwick tree over leader epochs holding, for each prefix of
// epochs, the poll with the greatest key added so far.
type epochMax struct {
	epochs []int32 // sorted, distinct
	tree   []int32 // 1-based; a poll, -1 for none
	key    func(int32) int64
}

func newEpochMax(epochs []int32, key func(int32) int64) *epochMax {
	epochs = slices.Clone(epochs)
	slices.Sort(epochs)
	epochs = slices.Compact(epochs)
	t := &epochMax{epochs: epochs, tree: make([]int32, len(epochs)+1), key: key}
	for i := range t.tree {
		t.tree[i] = -1
	}
	return t
}

// add records poll pi answered at epoch (one of the tree's epochs).
func (t *epochMax) add(epoch, pi int32) {
	k, _ := slices.BinarySearch(t.epochs, epoch)
	for i := k + 1; i < len(t.tree); i += i & -i {
		if b := t.tree[i]; b < 0 || t.key(b) < t.key(pi) {
			t.tree[i] = pi
		}
	}
}

// best is the poll with the greatest key among those added at epochs up to
// epoch, or -1.
func (t *epochMax) best(epoch int32) int32 {
	k, _ := slices.BinarySearch(t.epochs, epoch)
	best := int32(-1)
	for i := k + 1; i > 0; i -= i & -i {
		if b := t.tree[i]; b >= 0 && (best < 0 || t.key(b) > t.key(best)) {
			best = b
		}
	}
	return best
}

// checkLogStarts: the log start offset clients see never goes back. A poll
// invoked after another completed, answered at the same or a later leader
// epoch, reports a log start at least as high: retention only moves it
// forward, and a new leader answers no fetch before it has applied every
// log start its predecessors committed. A deposed leader that has not yet
// learned of its successor answers at its older epoch and may lag, as for
// the high watermark. A sweep in time over completions and invocations,
// with a prefix maximum over epochs in a Fenwick tree.
func (a *analysis) checkLogStarts(p *part) {
	var polls, epochs []int32
	for _, pi := range p.okPolls {
		if q := &a.h.Polls[pi]; q.LeaderEpoch >= 0 && q.LogStart >= 0 {
			polls = append(polls, pi)
			epochs = append(epochs, q.LeaderEpoch)
		}
	}
	if len(polls) < 2 {
		return
	}
	byComplete := slices.Clone(polls)
	slices.SortFunc(byComplete, func(x, y int32) int {
		return cmp.Or(cmp.Compare(a.h.Polls[x].Complete, a.h.Polls[y].Complete), cmp.Compare(x, y))
	})
	byInvoke := polls
	slices.SortFunc(byInvoke, func(x, y int32) int {
		return cmp.Or(cmp.Compare(a.h.Polls[x].Invoke, a.h.Polls[y].Invoke), cmp.Compare(x, y))
	})
	start := func(pi int32) int64 { return a.h.Polls[pi].LogStart }
	tree := newEpochMax(epochs, start)
	j := 0
	for _, pi := range byInvoke {
		q := &a.h.Polls[pi]
		for ; j < len(byComplete) && a.h.Polls[byComplete[j]].Complete < q.Invoke; j++ {
			tree.add(a.h.Polls[byComplete[j]].LeaderEpoch, byComplete[j])
		}
		if best := tree.best(q.LeaderEpoch); best >= 0 && start(best) > q.LogStart {
			b := &a.h.Polls[best]
			a.violation(LogStartRegression, p, fmt.Sprintf("process %d saw log start %d at epoch %d; later process %d saw %d at epoch %d",
				b.Process, b.LogStart, b.LeaderEpoch, q.Process, q.LogStart, q.LeaderEpoch), pollRef(best), pollRef(pi))
		}
	}
}

// checkDeletes: an answered DeleteRecords reports a log start at least the
// offset it asked for, and the final reader's last polls (End), invoked
// after the answer, report one at least as high (the deletion was done,
// and stays done). With Options.DeleteOnly, every log start above 0 a poll
// or an answer reports is an offset some DeleteRecords of the partition
// asked for, invoked before the report completed (UnrequestedLogStart). A log start moves
// only by DeleteRecords there, to exactly the offset asked (Kafka's
// KIP-107: inside a batch too), or stays where a later-asked lower offset
// found it.
func (a *analysis) checkDeletes(p *part) {
	asked := map[int64]int64{0: math.MinInt64} // offset → earliest invoke of a request for it
	for i := range a.h.Deletes {
		if d := &a.h.Deletes[i]; d.Partition == p.id {
			if t, ok := asked[d.Offset]; !ok || d.Invoke < t {
				asked[d.Offset] = d.Invoke
			}
		}
	}
	// askedBy: some request for offset was invoked before time t.
	askedBy := func(offset, t int64) bool {
		inv, ok := asked[offset]
		return ok && inv < t
	}
	// The final reader's last polls (End: after the group settled, long
	// after the faults healed) come from leaders that have applied
	// everything committed before them, every answered deletion included.
	// (An earlier poll may still reach a deposed leader that has not heard
	// of its successor.)
	var ends []int32
	for _, pi := range p.okPolls {
		if q := &a.h.Polls[pi]; q.End && q.LogStart >= 0 {
			ends = append(ends, pi)
		}
	}
	for i := range a.h.Deletes {
		d := &a.h.Deletes[i]
		if d.Partition != p.id || d.Complete < 0 || d.LowWatermark < 0 {
			continue
		}
		ref := fmt.Sprintf("delete#%d process %d [%s → %s] offset %d low watermark %d", i, d.Process, vtime(d.Invoke), vtime(d.Complete), d.Offset, d.LowWatermark)
		switch {
		case d.LowWatermark < d.Offset:
			a.report(Violation{Anomaly: UnrequestedLogStart, Partition: p.id, Ops: []string{ref},
				Detail: fmt.Sprintf("DeleteRecords to %d answered with log start %d: acknowledged, not done", d.Offset, d.LowWatermark)})
		case a.opts.DeleteOnly && !askedBy(d.LowWatermark, d.Complete):
			a.report(Violation{Anomaly: UnrequestedLogStart, Partition: p.id, Ops: []string{ref},
				Detail: fmt.Sprintf("DeleteRecords to %d answered with log start %d, an offset no DeleteRecords asked for", d.Offset, d.LowWatermark)})
		}
		// A last poll after the answer below its offset: the deletion
		// was acknowledged and then lost.
		for _, pi := range ends {
			if q := &a.h.Polls[pi]; q.Invoke > d.Complete && q.LogStart < d.Offset {
				a.report(Violation{Anomaly: UnrequestedLogStart, Partition: p.id, Ops: []string{ref, a.describe(pollRef(pi))},
					Detail: fmt.Sprintf("DeleteRecords to %d was answered, and the final reader's last poll then reported log start %d", d.Offset, q.LogStart)})
				break
			}
		}
	}
	if !a.opts.DeleteOnly {
		return
	}
	for _, pi := range p.okPolls {
		if q := &a.h.Polls[pi]; q.LogStart > 0 && !askedBy(q.LogStart, q.Complete) {
			a.violation(UnrequestedLogStart, p, fmt.Sprintf("process %d saw log start %d, an offset no DeleteRecords asked for before", q.Process, q.LogStart), pollRef(pi))
		}
	}
}

// checkLatests: ListOffsets LATEST answered L at leader epoch e reports the
// high watermark of the leader at e, which never goes back within e. So
// every OK poll at epoch e invoked after the answer completed, whichever
// process made it, reports a high watermark of at least L (LatestAboveHW).
func (a *analysis) checkLatests(p *part) {
	var ls []int32
	for i := range a.h.Latests {
		if l := &a.h.Latests[i]; l.Partition == p.id && l.LeaderEpoch >= 0 && l.Complete >= 0 {
			ls = append(ls, int32(i))
		}
	}
	if len(ls) == 0 {
		return
	}
	var polls []int32 // OK polls with a known epoch and high watermark, by (epoch, invoke)
	for _, pi := range p.okPolls {
		if q := &a.h.Polls[pi]; q.LeaderEpoch >= 0 && q.HighWatermark >= 0 {
			polls = append(polls, pi)
		}
	}
	key := func(pi int32) (int32, int64) { q := &a.h.Polls[pi]; return q.LeaderEpoch, q.Invoke }
	slices.SortFunc(polls, func(x, y int32) int {
		ex, ix := key(x)
		ey, iy := key(y)
		return cmp.Or(cmp.Compare(ex, ey), cmp.Compare(ix, iy), cmp.Compare(x, y))
	})
	// least[i]: the poll of lowest high watermark among polls[i:] of
	// polls[i]'s epoch.
	least := make([]int32, len(polls))
	for i := len(polls) - 1; i >= 0; i-- {
		least[i] = polls[i]
		if i+1 < len(polls) && a.h.Polls[polls[i+1]].LeaderEpoch == a.h.Polls[polls[i]].LeaderEpoch &&
			a.h.Polls[least[i+1]].HighWatermark < a.h.Polls[polls[i]].HighWatermark {
			least[i] = least[i+1]
		}
	}
	for _, li := range ls {
		l := &a.h.Latests[li]
		k, _ := slices.BinarySearchFunc(polls, l, func(pi int32, l *Latest) int {
			e, inv := key(pi)
			return cmp.Or(cmp.Compare(e, l.LeaderEpoch), cmp.Compare(inv, l.Complete+1))
		})
		if k == len(polls) || a.h.Polls[polls[k]].LeaderEpoch != l.LeaderEpoch {
			continue
		}
		if q := &a.h.Polls[least[k]]; q.HighWatermark < l.Offset {
			a.report(Violation{Anomaly: LatestAboveHW, Partition: p.id,
				Detail: fmt.Sprintf("ListOffsets LATEST answered %d at epoch %d, then a poll at that epoch reported high watermark %d", l.Offset, l.LeaderEpoch, q.HighWatermark),
				Ops: []string{fmt.Sprintf("latest#%d process %d [%s → %s] offset %d epoch %d", li, l.Process, vtime(l.Invoke), vtime(l.Complete), l.Offset, l.LeaderEpoch),
					a.describe(pollRef(least[k]))}})
		}
	}
}
