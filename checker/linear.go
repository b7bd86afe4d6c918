package checker

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/anishathalye/porcupine"
)

// Linearizability, with porcupine, over bounded windows of a partition.
//
// The model is the partition as an append-only log. A send appends its value
// once, at some moment between its invoke and its completion, and that is
// the offset it gets; a poll, at some moment between its invoke and its
// completion, returns records equal to the log at those offsets.
//
// Unknown outcomes. A send of unknown outcome (timeouts, acks=0/1) may take
// effect at any time after its invoke, or never. Two cases:
//   - its value was read: it happened, at the offset it was read at. It is
//     an operation whose completion is +inf (the end of the window), the
//     usual porcupine encoding of a call that never returned.
//   - its value was never read: all the history can see of it is that it
//     may have taken an offset nobody read. Such sends are interchangeable,
//     so instead of one pending operation each (2^k interleavings for k of
//     them) the model counts them: the state carries how many were spent as
//     fillers of offsets no operation of the window claims, and a send may
//     spend only those invoked by its own completion time. Filling lazily,
//     at the first send above a gap, is optimal (nothing reads a filler, and
//     spending later never exceeds a budget spending earlier would not), so
//     the model is deterministic and its states are two integers.
//
// Because every send in the model has a known offset, the log's contents
// need not be stored: a value is at offset o exactly when its send has been
// linearized, and a send is linearized only when the log ends exactly at its
// offset, after every claimed offset below it. A poll is then correct when
// each record's value belongs to a send of that offset and the log has grown
// past the record.
//
// Windows. A partition's offsets are cut into blocks of at most WindowOps/2
// operations (the sends claiming offsets in the block and the polls reading
// any of them); each window is two adjacent blocks, so windows overlap by
// half and every pair of operations in neighbouring blocks is checked
// together. A window over offsets [lo, hi) starts from a log of length lo,
// seeded from the version order: everything below lo is taken as filled.
// Polls are clipped to the records they returned in [lo, hi).
//
// Soundness (no false alarm): take any linearization of the whole history.
// Offsets fill in increasing order, so when any operation of the window
// takes effect every offset below lo is already filled; dropping the other
// operations and the clipped records only removes constraints; and the
// unread sends that filled the window's gaps were each invoked before the
// send above their gap took effect, so the budget allows them. Hence every
// valid history passes every window. What windowing gives up: constraints
// between operations more than one block apart (the direct realtime-order
// check covers acknowledged sends globally), and the budget of unread sends
// is not shared between windows, so one unread send may explain a gap in
// two windows (the direct unexplained-gap check counts them globally).

type linState struct {
	n    int64 // log length: every offset below n is filled
	used int64 // unread sends of unknown outcome spent as fillers
}

type linOp struct {
	send   bool
	offset int64 // send: the offset it fills
	prev   int64 // send: the highest other claimed offset below offset in the window (lo-1 if none)
	avail  int64 // send: unread sends of unknown outcome invoked by this op's completion
	maxOff int64 // poll: the highest offset in the window it returned
	bad    bool  // poll: returned a record no send of the window put at that offset
	ref    ref
	desc   string
}

func linStep(state, input, _ any) (bool, any) {
	s, op := state.(linState), input.(*linOp)
	if !op.send {
		return !op.bad && s.n > op.maxOff, s
	}
	if s.n <= op.prev || s.n > op.offset {
		return false, s
	}
	used := s.used + op.offset - s.n
	if used > op.avail {
		return false, s
	}
	return true, linState{n: op.offset + 1, used: used}
}

func logModel(lo int64) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return linState{n: lo} },
		Step: linStep,
		Hash: func(state any) uint64 {
			s := state.(linState)
			return uint64(s.n)*0x9e3779b97f4a7c15 ^ uint64(s.used)
		},
		DescribeOperation: func(input, _ any) string { return input.(*linOp).desc },
		DescribeState: func(state any) string {
			s := state.(linState)
			return fmt.Sprintf("log end %d (%d unread sends used as fillers)", s.n, s.used)
		},
	}
}

// window is one porcupine call: a partition's operations touching offsets
// [lo, hi).
type window struct {
	p      *part
	lo, hi int64
}

// linIndex is what the windows of one partition share.
type linIndex struct {
	claims   []claim // sends with a known offset, by offset
	polls    []linPoll
	byMin    []int32 // indices in polls, by lowest offset
	short    []int32 // byMin's polls spanning fewer than shortSpan offsets
	shortMin []int64 // their lowest offsets, ascending
	long     []int32 // the others, by lowest offset
	fillers  []int64 // invoke times of unread sends of unknown outcome, ascending
	lastTime int64   // latest time in the partition's history: +inf for a window
}

type claim struct {
	offset int64
	g      int32
}

type linPoll struct {
	pi       int32
	offs     []int64 // its record offsets, ascending
	bad      []int64 // offsets of records no send put there, ascending
	min, max int64
}

func (a *analysis) linIndex(p *part) *linIndex {
	x := &linIndex{}
	for gi := range p.groups {
		g := &p.groups[gi]
		x.lastTime = max(x.lastTime, g.invoke, g.complete)
		if g.outcome == Fail {
			continue
		}
		if o := g.known(); o >= 0 {
			x.claims = append(x.claims, claim{o, int32(gi)})
		} else if g.outcome == Unknown {
			x.fillers = append(x.fillers, g.invoke)
		}
	}
	slices.SortFunc(x.claims, func(a, b claim) int { return cmp.Or(cmp.Compare(a.offset, b.offset), cmp.Compare(a.g, b.g)) })
	slices.Sort(x.fillers)
	for _, pi := range p.okPolls {
		q := &a.h.Polls[pi]
		x.lastTime = max(x.lastTime, q.Complete)
		if len(q.Records) == 0 {
			continue
		}
		lp := linPoll{pi: pi}
		for _, r := range q.Records {
			if r.Offset < 0 {
				continue
			}
			lp.offs = append(lp.offs, r.Offset)
			g := p.group(p.ids[r.Value])
			if g == nil || g.outcome == Fail || g.known() != r.Offset {
				lp.bad = append(lp.bad, r.Offset)
			}
		}
		if len(lp.offs) == 0 {
			continue
		}
		slices.Sort(lp.offs)
		slices.Sort(lp.bad)
		lp.min, lp.max = lp.offs[0], lp.offs[len(lp.offs)-1]
		x.polls = append(x.polls, lp)
	}
	x.byMin = make([]int32, len(x.polls))
	for i := range x.byMin {
		x.byMin[i] = int32(i)
	}
	slices.SortFunc(x.byMin, func(a, b int32) int {
		return cmp.Or(cmp.Compare(x.polls[a].min, x.polls[b].min), cmp.Compare(a, b))
	})
	for _, k := range x.byMin {
		if lp := &x.polls[k]; lp.max-lp.min < shortSpan {
			x.short = append(x.short, k)
			x.shortMin = append(x.shortMin, lp.min)
		} else {
			x.long = append(x.long, k)
		}
	}
	return x
}

// shortSpan splits polls in two, so that finding the polls of a window costs
// a binary search among the short ones (a short poll reading anything at or
// above lo begins at or above lo-shortSpan) plus a scan of the few long ones.
const shortSpan = 64

// windowPolls lists the polls that returned a record in [lo, hi), in order
// of their lowest offset.
func (x *linIndex) windowPolls(lo, hi int64) []int32 {
	var out []int32
	i, _ := slices.BinarySearch(x.shortMin, lo-shortSpan)
	for ; i < len(x.short) && x.shortMin[i] < hi; i++ {
		if x.polls[x.short[i]].max >= lo {
			out = append(out, x.short[i])
		}
	}
	for _, k := range x.long {
		if lp := &x.polls[k]; lp.min < hi && lp.max >= lo {
			out = append(out, k)
		}
	}
	return out
}

// blocks cuts offsets [0, end) into ranges of at most limit operations each
// (more only when the polls reading across one offset already exceed it).
func (x *linIndex) blocks(limit int) [][2]int64 {
	mins := make([]int64, len(x.byMin))
	for i, k := range x.byMin {
		mins[i] = x.polls[k].min
	}
	maxs := make([]int64, len(x.polls))
	end := int64(0)
	for i, lp := range x.polls {
		maxs[i] = lp.max
		end = max(end, lp.max+1)
	}
	slices.Sort(maxs)
	if n := len(x.claims); n > 0 {
		end = max(end, x.claims[n-1].offset+1)
	}
	var out [][2]int64
	lo := int64(0)
	ci, pi := 0, 0
	for lo < end {
		a, _ := slices.BinarySearch(mins, lo)
		b, _ := slices.BinarySearch(maxs, lo)
		count := a - b // polls reading across lo that began below it
		hi, added := end, false
		for ci < len(x.claims) || pi < len(mins) {
			next := end
			if ci < len(x.claims) {
				next = x.claims[ci].offset
			}
			if pi < len(mins) {
				next = min(next, mins[pi])
			}
			c := 0
			ci2, pi2 := ci, pi
			for ci2 < len(x.claims) && x.claims[ci2].offset == next {
				ci2++
				c++
			}
			for pi2 < len(mins) && mins[pi2] == next {
				pi2++
				c++
			}
			if added && count+c > limit {
				hi = next
				break
			}
			count += c
			ci, pi, added = ci2, pi2, true
		}
		out = append(out, [2]int64{lo, hi})
		lo = hi
	}
	return out
}

// windowOps builds the porcupine operations of window [lo, hi).
func (a *analysis) windowOps(p *part, x *linIndex, lo, hi int64, describe bool) []porcupine.Operation {
	inf := x.lastTime + 1
	clients := map[int]int{}
	client := func(proc int) int {
		c, ok := clients[proc]
		if !ok {
			c = len(clients)
			clients[proc] = c
		}
		return c
	}
	var ops []porcupine.Operation
	i, _ := slices.BinarySearchFunc(x.claims, lo, func(c claim, o int64) int { return cmp.Compare(c.offset, o) })
	prevOff := lo - 1
	for ; i < len(x.claims) && x.claims[i].offset < hi; i++ {
		c := x.claims[i]
		if i > 0 && x.claims[i-1].offset < c.offset && x.claims[i-1].offset >= lo {
			prevOff = x.claims[i-1].offset
		}
		g := &p.groups[c.g]
		ret := inf
		if g.outcome == OK && g.offset == c.offset {
			ret = g.complete
		}
		avail, _ := slices.BinarySearch(x.fillers, ret+1)
		op := &linOp{send: true, offset: c.offset, prev: prevOff, avail: int64(avail), ref: sendRef(g.recs[0])}
		if describe {
			state := "read, outcome " + g.outcome.String()
			if ret != inf {
				state = "acknowledged"
			}
			op.desc = fmt.Sprintf("send %q → offset %d (%s)", g.value, c.offset, state)
		}
		ops = append(ops, porcupine.Operation{ClientId: client(g.process), Input: op, Call: g.invoke, Return: ret})
	}
	for _, k := range x.windowPolls(lo, hi) {
		lp := &x.polls[k]
		j, _ := slices.BinarySearch(lp.offs, hi)
		maxOff := lp.offs[j-1]
		if maxOff < lo {
			continue
		}
		b, _ := slices.BinarySearch(lp.bad, lo)
		bad := b < len(lp.bad) && lp.bad[b] < hi
		q := &a.h.Polls[lp.pi]
		op := &linOp{maxOff: maxOff, bad: bad, ref: pollRef(lp.pi)}
		if describe {
			first, _ := slices.BinarySearch(lp.offs, lo)
			op.desc = fmt.Sprintf("poll from %d → offsets %d..%d of this window", q.From, lp.offs[first], maxOff)
			if bad {
				op.desc += " (a record no send put there)"
			}
		}
		ops = append(ops, porcupine.Operation{ClientId: client(q.Process), Input: op, Call: q.Invoke, Return: q.Complete})
	}
	if describe {
		for k := range ops {
			ops[k].Metadata = a.describe(ops[k].Input.(*linOp).ref)
		}
	}
	return ops
}

// windows lists the porcupine windows of p: pairs of adjacent blocks.
func (a *analysis) windows(p *part, x *linIndex) []window {
	bs := x.blocks(max(2, a.opts.WindowOps/2))
	if len(bs) == 1 {
		return []window{{p, bs[0][0], bs[0][1]}}
	}
	var ws []window
	for i := 0; i+1 < len(bs); i++ {
		ws = append(ws, window{p, bs[i][0], bs[i+1][1]})
	}
	return ws
}

type windowResult struct {
	res porcupine.CheckResult
	ops int
}

func (a *analysis) checkLinearizable() {
	type job struct {
		w window
		x *linIndex
	}
	var jobs []job
	for _, p := range a.parts {
		x := a.linIndex(p)
		for _, w := range a.windows(p, x) {
			jobs = append(jobs, job{w, x})
		}
	}
	results := make([]windowResult, len(jobs))
	workers := a.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, len(jobs)) {
		wg.Go(func() {
			for i := range next {
				j := jobs[i]
				ops := a.windowOps(j.w.p, j.x, j.w.lo, j.w.hi, false)
				results[i] = windowResult{porcupine.CheckOperationsTimeout(logModel(j.w.lo), ops, a.opts.WindowTimeout), len(ops)}
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, r := range results {
		j := jobs[i]
		a.stats.Windows++
		a.stats.MaxWindowOps = max(a.stats.MaxWindowOps, r.ops)
		switch r.res {
		case porcupine.Unknown:
			a.stats.WindowsTimedOut++
			a.unknown = append(a.unknown, fmt.Sprintf("porcupine timed out after %v on partition %d offsets [%d, %d) (%d operations)",
				a.opts.WindowTimeout, j.w.p.id, j.w.lo, j.w.hi, r.ops))
		case porcupine.Illegal:
			a.explainWindow(j.w, j.x)
		}
	}
}

// explainWindow reports a window porcupine rejected, naming the operations
// its longest partial linearization could not place.
func (a *analysis) explainWindow(w window, x *linIndex) {
	ops := a.windowOps(w.p, x, w.lo, w.hi, true)
	res, info := porcupine.CheckOperationsVerbose(logModel(w.lo), ops, a.opts.WindowTimeout)
	detail := fmt.Sprintf("no linearization of the %d operations touching offsets [%d, %d) fits an append-only log", len(ops), w.lo, w.hi)
	var refs []ref
	if res == porcupine.Illegal {
		var longest []int
		for _, part := range info.PartialLinearizations() {
			for _, l := range part {
				if len(l) > len(longest) {
					longest = l
				}
			}
		}
		placed := make([]bool, len(ops))
		for _, k := range longest {
			placed[k] = true
		}
		var stuck []int
		for k := range ops {
			if !placed[k] {
				stuck = append(stuck, k)
			}
		}
		slices.SortFunc(stuck, func(x, y int) int { return cmp.Compare(ops[x].Call, ops[y].Call) })
		var descs []string
		for _, k := range stuck[:min(len(stuck), 6)] {
			op := ops[k].Input.(*linOp)
			refs = append(refs, op.ref)
			descs = append(descs, op.desc)
		}
		detail += fmt.Sprintf("; the longest linearizable prefix places %d, then cannot place: %s; checker.Visualize draws it",
			len(longest), strings.Join(descs, "; "))
	}
	a.violation(Nonlinearizable, w.p, detail, refs...)
}

// ErrNoFailingWindow is returned by Visualize when porcupine accepts every
// window of the partition.
var ErrNoFailingWindow = errors.New("checker: porcupine accepts every window of the partition")

// Visualize writes porcupine's HTML visualization of the first window of the
// partition that porcupine rejects: the operations, the longest partial
// linearizations and the log states along them.
func Visualize(h History, partition int32, opts Options, w io.Writer) error {
	opts = opts.withDefaults()
	a := analyze(h, opts)
	p := a.byID[partition]
	if p == nil {
		return fmt.Errorf("checker: no operation on partition %d", partition)
	}
	x := a.linIndex(p)
	for _, win := range a.windows(p, x) {
		ops := a.windowOps(p, x, win.lo, win.hi, true)
		model := logModel(win.lo)
		res, info := porcupine.CheckOperationsVerbose(model, ops, opts.WindowTimeout)
		switch res {
		case porcupine.Illegal:
			return porcupine.Visualize(model, info, w)
		case porcupine.Unknown:
			return fmt.Errorf("checker: porcupine timed out after %v on partition %d offsets [%d, %d)", opts.WindowTimeout, partition, win.lo, win.hi)
		}
	}
	return ErrNoFailingWindow
}
