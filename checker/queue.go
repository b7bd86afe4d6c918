package checker

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// This file holds Jepsen's Kafka queue analyses (jepsen.tests.kafka), over
// the version order of each partition: every (offset, value) any OK poll
// returned or any acks=all send was answered with.

func (a *analysis) checkPartition(p *part) {
	a.countStats(p)
	a.checkInconsistentOffsets(p)
	a.checkDuplicates(p)
	a.checkReads(p)
	a.checkLostWrites(p)
	a.checkPollOrder(p)
	a.checkSendOrder(p)
	a.checkIncompatibleOrder(p)
	a.checkDuplicateOffsets(p)
	a.checkRealtimeOrder(p)
	if !a.opts.AllowOffsetGaps {
		a.checkGaps(p)
	}
	a.checkHighWatermarks(p)
	a.checkLatests(p)
	a.checkLogStarts(p)
	a.checkDeletes(p)
}

func (a *analysis) countStats(p *part) {
	s := &a.stats
	s.LogicalSends += len(p.groups)
	for gi := range p.groups {
		g := &p.groups[gi]
		switch g.outcome {
		case OK:
			s.SendsOK++
		case Fail:
			s.SendsFail++
		default:
			s.SendsUnknown++
			if g.read() {
				s.UnknownRead++
			}
		}
		if !g.weak {
			continue
		}
		s.WeakSends++
		switch {
		case g.read():
			s.WeakRead++
		case a.weakLost(p, g):
			s.WeakLost++
		default:
			s.WeakUnread++
		}
	}
	s.PollsOK += len(p.okPolls)
	for _, pi := range p.okPolls {
		s.Records += len(a.h.Polls[pi].Records)
	}
	s.FinalRead = s.FinalRead || p.final.ok
}

// weakLost reports whether an unread acks=0/1 send is provably gone: the
// final read began after it was invoked (so it would have been in the log by
// then), or the broker answered it with an offset some poll read across.
func (a *analysis) weakLost(p *part, g *group) bool {
	if g.outcome == Fail || (g.offset >= 0 && a.expired(p, g.offset)) {
		return false
	}
	if p.final.ok && g.invoke < p.final.invoke {
		return true
	}
	for _, si := range g.recs {
		s := &a.h.Sends[si]
		if s.Outcome == OK && s.Offset >= 0 && p.isCovered(s.Offset) {
			return true
		}
	}
	return false
}

// checkInconsistentOffsets: an offset holding two values.
func (a *analysis) checkInconsistentOffsets(p *part) {
	for i, o := range p.offs {
		es := p.slotEntries(i)
		if es[0].v == es[len(es)-1].v {
			continue
		}
		var vals []string
		var ops []ref
		for j, e := range es {
			if j == 0 || e.v != es[j-1].v {
				vals = append(vals, fmt.Sprintf("%q", p.names[e.v]))
				ops = append(ops, e.op)
			}
		}
		a.violation(InconsistentOffsets, p, fmt.Sprintf("offset %d holds %s", o, strings.Join(vals, " and ")), ops...)
	}
}

// checkDuplicates: a value at two offsets.
func (a *analysis) checkDuplicates(p *part) {
	byValue := slices.Clone(p.entries)
	slices.SortFunc(byValue, func(x, y entry) int {
		return cmp.Or(cmp.Compare(x.v, y.v), cmp.Compare(x.offset, y.offset))
	})
	for i := 0; i < len(byValue); {
		j := i + 1
		for j < len(byValue) && byValue[j].v == byValue[i].v {
			j++
		}
		es := byValue[i:j]
		i = j
		if es[0].offset == es[len(es)-1].offset {
			continue
		}
		v := es[0].v
		if g := p.group(v); g != nil && !g.idem && a.opts.NonIdempotentRetries {
			a.stats.LawfulDuplicates++
			continue
		}
		var offs []string
		var ops []ref
		for k, e := range es {
			if k == 0 || e.offset != es[k-1].offset {
				offs = append(offs, fmt.Sprint(e.offset))
				ops = append(ops, e.op)
			}
		}
		a.violation(Duplicate, p, fmt.Sprintf("value %q at offsets %s", p.names[v], strings.Join(offs, ", ")), ops...)
	}
}

// checkReads: per record, phantom and G1a reads; per poll, records above
// its high watermark.
func (a *analysis) checkReads(p *part) {
	for _, pi := range p.okPolls {
		q := &a.h.Polls[pi]
		for ri, r := range q.Records {
			g := p.group(p.ids[r.Value])
			switch {
			case g == nil:
				detail := fmt.Sprintf("value %q at offset %d was never sent to partition %d", r.Value, r.Offset, p.id)
				ops := []ref{recRef(pi, ri)}
				for _, o := range a.parts {
					if gi, ok := o.ids[r.Value]; ok && o != p && int(gi) < len(o.groups) {
						detail += fmt.Sprintf(" (it was sent to partition %d)", o.id)
						ops = append(ops, sendRef(o.groups[gi].recs[0]))
						break
					}
				}
				a.violation(Phantom, p, detail, ops...)
			case g.outcome == Fail:
				a.violation(G1a, p, fmt.Sprintf("value %q at offset %d was read though its send failed", r.Value, r.Offset),
					sendRef(g.recs[0]), recRef(pi, ri))
			}
		}
		if q.HighWatermark >= 0 {
			for ri, r := range q.Records {
				if r.Offset >= q.HighWatermark {
					a.violation(ReadAboveHW, p, fmt.Sprintf("record at offset %d returned with high watermark %d", r.Offset, q.HighWatermark),
						recRef(pi, ri))
					break
				}
			}
		}
	}
}

// checkLostWrites: an acknowledged value never read, although a poll read
// across its offset or the final read should have returned it.
func (a *analysis) checkLostWrites(p *part) {
	for gi := range p.groups {
		g := &p.groups[gi]
		if g.outcome != OK || g.read() {
			continue
		}
		if a.expired(p, g.offset) {
			a.stats.Expired++
			continue
		}
		var why string
		var witness ref
		switch {
		case p.isCovered(g.offset):
			why = fmt.Sprintf("polls read across offset %d", g.offset)
			witness = a.coveringPoll(p, g.offset)
		case p.final.ok && g.offset < p.final.hw:
			why = fmt.Sprintf("the final read reported high watermark %d", p.final.hw)
			witness = pollRef(p.final.hwPoll)
		case p.final.ok && g.complete < p.final.invoke:
			why = "it was acknowledged before the final read began"
			witness = pollRef(p.final.first)
		default:
			continue
		}
		a.violation(LostWrite, p, fmt.Sprintf("value %q acknowledged at offset %d was never read, yet %s", g.value, g.offset, why),
			sendRef(g.recs[0]), witness)
	}
}

// coveringPoll finds an OK poll that read across offset o.
func (a *analysis) coveringPoll(p *part, o int64) ref {
	for _, pi := range p.okPolls {
		if lo, hi, ok := span(&a.h.Polls[pi]); ok && lo <= o && o <= hi {
			return pollRef(pi)
		}
	}
	return noRef()
}

// skipped describes what lies strictly between offsets lo and hi, or "" if
// nothing should: no version-order offset, and (with contiguous offsets)
// no offset at all.
func (a *analysis) skipped(p *part, lo, hi int64) string {
	n := p.between(lo, hi)
	if n == 0 && (a.opts.AllowOffsetGaps || hi <= lo+1) {
		return ""
	}
	if n == 0 {
		return fmt.Sprintf("offsets %d..%d (never read by anyone, but offsets are contiguous)", lo+1, hi-1)
	}
	i, _ := p.slot(lo + 1)
	var vals []string
	for k := i; k < i+n && k < i+3; k++ {
		vals = append(vals, fmt.Sprintf("%q at %d", p.names[p.slotEntries(k)[0].v], p.offs[k]))
	}
	if n > 3 {
		vals = append(vals, fmt.Sprintf("and %d more", n-3))
	}
	return fmt.Sprintf("%d known records: %s", n, strings.Join(vals, ", "))
}

// checkPollOrder: poll-skip and nonmonotonic-poll across a process's
// successive polls, int-poll-skip and int-nonmonotonic-poll within one.
func (a *analysis) checkPollOrder(p *part) {
	lastProc := 0
	last := noRef() // the previous OK poll with records, of this process
	for n, pi := range p.polls {
		q := &a.h.Polls[pi]
		if n == 0 || q.Process != lastProc || q.Seek {
			last = noRef() // a seek counts even on a poll that then failed
		}
		lastProc = q.Process
		if q.Outcome != OK || q.Complete < q.Invoke || len(q.Records) == 0 {
			continue
		}
		a.checkWithinPoll(p, pi)
		if last.valid() {
			lq := &a.h.Polls[last.idx]
			o1, o2 := lq.Records[len(lq.Records)-1].Offset, q.Records[0].Offset
			switch {
			case o2 <= o1:
				a.violation(NonmonotonicPoll, p, fmt.Sprintf("offset %d was read after offset %d without a seek", o2, o1),
					recRef(last.idx, len(lq.Records)-1), recRef(pi, 0))
			default:
				if s := a.skipped(p, o1, o2); s != "" {
					a.violation(PollSkip, p, fmt.Sprintf("read offset %d then %d, skipping %s", o1, o2, s),
						recRef(last.idx, len(lq.Records)-1), recRef(pi, 0))
				}
			}
		}
		last = pollRef(pi)
	}
}

func (a *analysis) checkWithinPoll(p *part, pi int32) {
	q := &a.h.Polls[pi]
	if f := q.Records[0].Offset; q.From >= 0 && f > q.From {
		if s := a.skipped(p, q.From-1, f); s != "" {
			a.violation(IntPollSkip, p, fmt.Sprintf("fetch from %d returned first offset %d, skipping %s", q.From, f, s), recRef(pi, 0))
		}
	}
	for i := 1; i < len(q.Records); i++ {
		o1, o2 := q.Records[i-1].Offset, q.Records[i].Offset
		if o2 <= o1 {
			a.violation(IntNonmonotonicPoll, p, fmt.Sprintf("offset %d returned after offset %d", o2, o1),
				recRef(pi, i-1), recRef(pi, i))
		} else if s := a.skipped(p, o1, o2); s != "" {
			a.violation(IntPollSkip, p, fmt.Sprintf("returned offset %d then %d, skipping %s", o1, o2, s),
				recRef(pi, i-1), recRef(pi, i))
		}
	}
}

// checkSendOrder: nonmonotonic-send across a process's batches (idempotent
// acknowledged sends, in invoke order), int-nonmonotonic-send within a batch.
func (a *analysis) checkSendOrder(p *part) {
	type unit struct {
		process int
		invoke  int64
		first   int32 // first send record, to order ties
		members []int32
	}
	units := map[[2]int]*unit{}
	var list []*unit
	for gi := range p.groups {
		g := &p.groups[gi]
		if g.outcome != OK {
			continue
		}
		key := [2]int{g.process, -1 - gi} // a send without a batch is its own unit
		if g.batch != 0 {
			key[1] = g.batch
		}
		u := units[key]
		if u == nil {
			u = &unit{process: g.process, invoke: g.invoke, first: g.recs[0]}
			units[key] = u
			list = append(list, u)
		}
		u.members = append(u.members, int32(gi))
		u.invoke = min(u.invoke, g.invoke)
	}
	slices.SortFunc(list, func(x, y *unit) int {
		return cmp.Or(cmp.Compare(x.process, y.process), cmp.Compare(x.invoke, y.invoke), cmp.Compare(x.first, y.first))
	})
	var maxOff int64 = -1
	var maxG int32 = -1
	for i, u := range list {
		if i == 0 || u.process != list[i-1].process {
			maxOff, maxG = -1, -1
		}
		// Members are in history order, which is the batch's record order.
		for k := 1; k < len(u.members); k++ {
			g1, g2 := &p.groups[u.members[k-1]], &p.groups[u.members[k]]
			if g2.offset <= g1.offset {
				a.violation(IntNonmonotonicSend, p, fmt.Sprintf("batch %d: %q got offset %d after %q got %d", g1.batch, g2.value, g2.offset, g1.value, g1.offset),
					sendRef(g1.recs[0]), sendRef(g2.recs[0]))
			}
		}
		lo, loG := int64(-1), int32(-1)
		for _, gi := range u.members {
			if g := &p.groups[gi]; loG < 0 || g.offset < lo {
				lo, loG = g.offset, gi
			}
		}
		idem := true
		for _, gi := range u.members {
			idem = idem && p.groups[gi].idem
		}
		if !idem {
			continue // order is promised only between idempotent sends
		}
		if maxG >= 0 && lo <= maxOff {
			g1, g2 := &p.groups[maxG], &p.groups[loG]
			a.violation(NonmonotonicSend, p, fmt.Sprintf("process %d sent %q (offset %d) after %q (offset %d)", g2.process, g2.value, g2.offset, g1.value, g1.offset),
				sendRef(g1.recs[0]), sendRef(g2.recs[0]))
		}
		for _, gi := range u.members {
			if g := &p.groups[gi]; g.offset > maxOff {
				maxOff, maxG = g.offset, gi
			}
		}
	}
}

// checkIncompatibleOrder: the polls' record sequences, read as "value a
// comes right before value b" edges, must form no cycle: a cycle means no
// single log order agrees with all of them. Cycles one poll makes alone
// (repeating a value) are left to int-nonmonotonic-poll and duplicate.
func (a *analysis) checkIncompatibleOrder(p *part) {
	n := len(p.names)
	type edge struct{ from, to int32 }
	seen := map[edge]int32{}
	var edges []edge
	var by []int32 // poll that first drew each edge
	for _, pi := range p.okPolls {
		rs := a.h.Polls[pi].Records
		for i := 1; i < len(rs); i++ {
			e := edge{p.ids[rs[i-1].Value], p.ids[rs[i].Value]}
			if _, ok := seen[e]; !ok {
				seen[e] = int32(len(edges))
				edges = append(edges, e)
				by = append(by, pi)
			}
		}
	}
	if len(edges) == 0 {
		return
	}
	// Adjacency in CSR form.
	start := make([]int32, n+1)
	for _, e := range edges {
		start[e.from+1]++
	}
	for i := range n {
		start[i+1] += start[i]
	}
	adj := make([]int32, len(edges))
	fill := slices.Clone(start[:n])
	for _, e := range edges {
		adj[fill[e.from]] = e.to
		fill[e.from]++
	}
	comp := sccs(n, start, adj)
	size := map[int32]int{}
	for _, c := range comp {
		size[c]++
	}
	inside := map[int32][]int{} // component -> its internal edges
	var order []int32
	for i, e := range edges {
		if c := comp[e.from]; size[c] >= 2 && comp[e.to] == c {
			if inside[c] == nil {
				order = append(order, c)
			}
			inside[c] = append(inside[c], i)
		}
	}
	for _, c := range order {
		var polls []int32
		var vals []string
		for _, j := range inside[c] {
			if !slices.Contains(polls, by[j]) {
				polls = append(polls, by[j])
			}
			if len(vals) < 6 {
				vals = append(vals, fmt.Sprintf("%q→%q", p.names[edges[j].from], p.names[edges[j].to]))
			}
		}
		if len(polls) < 2 {
			continue // one poll alone: int-nonmonotonic-poll and duplicate say it
		}
		var ops []ref
		for _, pi := range polls[:min(len(polls), 4)] {
			ops = append(ops, pollRef(pi))
		}
		a.violation(IncompatibleOrder, p, fmt.Sprintf("%d values in a cycle of read orders across %d polls: %s",
			size[c], len(polls), strings.Join(vals, ", ")), ops...)
	}
}

// sccs labels each node with its strongly connected component (Tarjan,
// iterative so that long chains do not exhaust the stack).
func sccs(n int, start, adj []int32) []int32 {
	index := make([]int32, n)
	low := make([]int32, n)
	comp := make([]int32, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack, calls []int32
	next := make([]int32, n) // next edge to visit per node
	var counter, ncomp int32
	for root := range int32(n) {
		if index[root] >= 0 {
			continue
		}
		calls = append(calls, root)
		index[root], low[root] = counter, counter
		counter++
		stack = append(stack, root)
		on[root] = true
		next[root] = start[root]
		for len(calls) > 0 {
			v := calls[len(calls)-1]
			if next[v] < start[v+1] {
				w := adj[next[v]]
				next[v]++
				if index[w] < 0 {
					index[w], low[w] = counter, counter
					counter++
					stack = append(stack, w)
					on[w] = true
					next[w] = start[w]
					calls = append(calls, w)
				} else if on[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				u := calls[len(calls)-1]
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					on[w] = false
					comp[w] = ncomp
					if w == v {
						break
					}
				}
				ncomp++
			}
		}
	}
	return comp
}

// expired reports whether offset o of p lies below the log start its final
// read reported, where retention may have deleted it (Options.Retention).
func (a *analysis) expired(p *part, o int64) bool {
	return a.opts.Retention && p.final.ok && o < p.final.logStart
}
