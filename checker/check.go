package checker

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Check judges a history: the direct checks over every partition, then
// porcupine over bounded windows of each partition (unless
// Options.SkipLinearizability). The result is deterministic for a given
// history and options, except that a porcupine window may time out on a
// loaded machine (and is then listed in Result.Unknown, never passed).
func Check(h History, opts Options) Result {
	opts = opts.withDefaults()
	a := analyze(h, opts)
	for _, p := range a.parts {
		a.checkPartition(p)
	}
	a.checkGroups()
	if !opts.SkipLinearizability {
		a.checkLinearizable()
	}
	return a.result()
}

// ref names one operation of the history: a send record, or a poll (and
// optionally one of its records).
type ref struct {
	poll bool
	idx  int32 // index in History.Sends or History.Polls
	rec  int32 // record index within the poll, -1 for the whole poll
}

func sendRef(i int32) ref       { return ref{idx: i, rec: -1} }
func pollRef(i int32) ref       { return ref{poll: true, idx: i, rec: -1} }
func recRef(i int32, r int) ref { return ref{poll: true, idx: i, rec: int32(r)} }
func noRef() ref                { return ref{idx: -1, rec: -1} }
func (r ref) valid() bool       { return r.idx >= 0 }

// group is one logical send: the send records of one value (a retry of an
// idempotent send recorded twice is one group).
type group struct {
	value    string
	recs     []int32 // indices in History.Sends, in history order
	process  int
	invoke   int64   // earliest invoke of its records
	complete int64   // earliest completion of an acks=all OK record; -1 if none
	outcome  Outcome // OK: acknowledged with acks=all; Fail: every record failed; else Unknown
	weak     bool    // acks=0 or acks=1
	idem     bool
	batch    int
	offset   int64 // offset of its first acks=all OK record; -1 if none
	readOff  int64 // lowest offset a poll returned it at; -1 if never read
}

func (g *group) read() bool { return g.readOff >= 0 }

// known is the offset the group's value occupies as far as the history
// shows: the acknowledged offset, else the offset it was read at, else -1.
func (g *group) known() int64 {
	if g.offset >= 0 {
		return g.offset
	}
	return g.readOff
}

// entry is one observation of the version order: value id v at offset, seen
// by op at time (the op's completion).
type entry struct {
	offset int64
	v      int32
	time   int64
	op     ref
}

// part is everything the checks know about one partition.
type part struct {
	id      int32
	groups  []group
	names   []string         // value id -> value; ids below len(groups) are group ids
	ids     map[string]int32 // value -> id
	sends   []int32          // send records of this partition
	polls   []int32          // polls of this partition (any outcome)
	okPolls []int32          // OK polls, by (process, invoke, index)

	// The version order: every (offset, value) any OK poll returned or any
	// acks=all OK send was answered with, sorted by offset then value.
	entries []entry
	offs    []int64 // distinct offsets of entries, ascending
	slotAt  []int32 // offs[i]'s entries start at entries[slotAt[i]]

	final struct {
		ok     bool
		hw     int64 // greatest HighWatermark of a Final poll
		hwPoll int32
		invoke int64 // earliest invoke of a Final poll
		first  int32
		// logStart: greatest LogStart of a Final poll (0 if none).
		logStart int64
	}
	// endLogStart: greatest LogStart of an End poll (0 if none).
	endLogStart int64
	covered     [][2]int64 // merged offset ranges some OK poll read across, ascending
}

type analysis struct {
	h       History
	opts    Options
	parts   []*part
	byID    map[int32]*part
	found   []Violation
	counts  map[Anomaly]int
	unknown []string
	stats   Stats
}

func analyze(h History, opts Options) *analysis {
	a := &analysis{h: h, opts: opts, byID: map[int32]*part{}, counts: map[Anomaly]int{}}
	get := func(id int32) *part {
		p := a.byID[id]
		if p == nil {
			p = &part{id: id, ids: map[string]int32{}}
			a.byID[id] = p
			a.parts = append(a.parts, p)
		}
		return p
	}
	for i := range h.Sends {
		p := get(h.Sends[i].Partition)
		p.sends = append(p.sends, int32(i))
	}
	for i := range h.Polls {
		p := get(h.Polls[i].Partition)
		p.polls = append(p.polls, int32(i))
	}
	slices.SortFunc(a.parts, func(x, y *part) int { return cmp.Compare(x.id, y.id) })
	for _, p := range a.parts {
		a.buildGroups(p)
		a.buildVersionOrder(p)
	}
	a.stats.Partitions = len(a.parts)
	a.stats.Sends = len(h.Sends)
	a.stats.Polls = len(h.Polls)
	return a
}

// identity is what makes two send records one logical send.
type identity struct {
	idem  bool
	pid   int64
	epoch int16
	seq   int32
	value string
}

func sendIdentity(s *Send) identity {
	if s.Idempotent {
		return identity{idem: true, pid: s.ProducerID, epoch: s.Epoch, seq: s.Seq}
	}
	return identity{value: s.Value}
}

func (a *analysis) buildGroups(p *part) {
	byIdent := make(map[identity]int32, len(p.sends))
	for _, si := range p.sends {
		s := &a.h.Sends[si]
		if s.Outcome == OK && s.Acks == AcksAll && (s.Complete < s.Invoke || s.Offset < 0) {
			a.malformed("%s: acknowledged but completes before it was invoked or has no offset", a.describe(sendRef(si)))
		}
		id := sendIdentity(s)
		gi, ok := byIdent[id]
		if !ok {
			if prev, dup := p.ids[s.Value]; dup {
				// Two logical sends with one value: the poll side cannot
				// tell them apart. Keep the first.
				a.malformed("%s: value %q was already sent by %s, a different send",
					a.describe(sendRef(si)), s.Value, a.describe(sendRef(p.groups[prev].recs[0])))
				byIdent[id] = prev
				gi = prev
				p.groups[gi].recs = append(p.groups[gi].recs, si)
				a.mergeRecord(&p.groups[gi], s)
				continue
			}
			gi = int32(len(p.groups))
			byIdent[id] = gi
			p.groups = append(p.groups, group{
				value: s.Value, process: s.Process, invoke: s.Invoke, complete: -1,
				outcome: Fail, weak: s.Acks != AcksAll, idem: s.Idempotent, batch: s.Batch,
				offset: -1, readOff: -1,
			})
			p.ids[s.Value] = gi
			p.names = append(p.names, s.Value)
		} else if g := &p.groups[gi]; g.value != s.Value {
			a.malformed("%s: same producer id, epoch and sequence as %s but value %q instead of %q",
				a.describe(sendRef(si)), a.describe(sendRef(g.recs[0])), s.Value, g.value)
		}
		p.groups[gi].recs = append(p.groups[gi].recs, si)
		a.mergeRecord(&p.groups[gi], s)
	}
}

func (a *analysis) mergeRecord(g *group, s *Send) {
	g.invoke = min(g.invoke, s.Invoke)
	switch {
	case s.Outcome == OK && s.Acks == AcksAll && s.Complete >= s.Invoke && s.Offset >= 0:
		if g.outcome != OK || s.Complete < g.complete {
			g.complete = s.Complete
		}
		if g.offset < 0 {
			g.offset = s.Offset
		}
		g.outcome = OK
	case s.Outcome == Fail:
	default:
		// Unknown, or OK with acks=0/1: it may or may not be in the log.
		if g.outcome == Fail {
			g.outcome = Unknown
		}
	}
}

// intern returns the value id of v in p, adding a value no send attempted.
func (p *part) intern(v string) int32 {
	if id, ok := p.ids[v]; ok {
		return id
	}
	id := int32(len(p.names))
	p.names = append(p.names, v)
	p.ids[v] = id
	return id
}

func (p *part) group(v int32) *group {
	if int(v) < len(p.groups) {
		return &p.groups[v]
	}
	return nil
}

func (a *analysis) buildVersionOrder(p *part) {
	for gi := range p.groups {
		g := &p.groups[gi]
		for _, si := range g.recs {
			s := &a.h.Sends[si]
			if s.Outcome == OK && s.Acks == AcksAll && s.Complete >= s.Invoke && s.Offset >= 0 {
				p.entries = append(p.entries, entry{offset: s.Offset, v: int32(gi), time: s.Complete, op: sendRef(si)})
			}
		}
	}
	for _, pi := range p.polls {
		q := &a.h.Polls[pi]
		if q.Outcome != OK {
			continue
		}
		if q.Complete < q.Invoke {
			a.malformed("%s: OK but completes before it was invoked", a.describe(pollRef(pi)))
			continue
		}
		p.okPolls = append(p.okPolls, pi)
		if q.Final {
			if !p.final.ok || q.HighWatermark > p.final.hw {
				p.final.hw, p.final.hwPoll = q.HighWatermark, pi
			}
			if !p.final.ok || q.Invoke < p.final.invoke {
				p.final.invoke, p.final.first = q.Invoke, pi
			}
			p.final.logStart = max(p.final.logStart, q.LogStart)
			p.final.ok = true
		}
		if q.End {
			p.endLogStart = max(p.endLogStart, q.LogStart)
		}
		for ri, r := range q.Records {
			if r.Offset < 0 {
				a.malformed("%s: record %d has negative offset %d", a.describe(pollRef(pi)), ri, r.Offset)
				continue
			}
			v := p.intern(r.Value)
			p.entries = append(p.entries, entry{offset: r.Offset, v: v, time: q.Complete, op: recRef(pi, ri)})
			if g := p.group(v); g != nil && (g.readOff < 0 || r.Offset < g.readOff) {
				g.readOff = r.Offset
			}
		}
	}
	byProcess := func(x, y int32) int {
		px, py := &a.h.Polls[x], &a.h.Polls[y]
		return cmp.Or(cmp.Compare(px.Process, py.Process), cmp.Compare(px.Invoke, py.Invoke), cmp.Compare(x, y))
	}
	slices.SortFunc(p.polls, byProcess)
	slices.SortFunc(p.okPolls, byProcess)
	slices.SortFunc(p.entries, func(x, y entry) int {
		return cmp.Or(cmp.Compare(x.offset, y.offset), cmp.Compare(x.v, y.v), cmp.Compare(x.time, y.time))
	})
	for i, e := range p.entries {
		if i == 0 || e.offset != p.entries[i-1].offset {
			p.offs = append(p.offs, e.offset)
			p.slotAt = append(p.slotAt, int32(i))
		}
	}
	p.covered = a.coverage(p)
}

// slot returns the index of offset o in p.offs and whether it is there.
func (p *part) slot(o int64) (int, bool) {
	return slices.BinarySearch(p.offs, o)
}

// slotEntries returns the entries at p.offs[i].
func (p *part) slotEntries(i int) []entry {
	end := len(p.entries)
	if i+1 < len(p.slotAt) {
		end = int(p.slotAt[i+1])
	}
	return p.entries[p.slotAt[i]:end]
}

// between counts the version-order offsets strictly between lo and hi.
func (p *part) between(lo, hi int64) int {
	i, _ := slices.BinarySearch(p.offs, lo+1)
	j, _ := slices.BinarySearch(p.offs, hi)
	return max(0, j-i)
}

// coverage merges, over OK polls, the offset ranges each read across: from
// its fetch offset (or first record) to the highest record it returned.
// A record in such a range should have been returned by that poll.
func (a *analysis) coverage(p *part) [][2]int64 {
	var rs [][2]int64
	for _, pi := range p.okPolls {
		if lo, hi, ok := span(&a.h.Polls[pi]); ok {
			rs = append(rs, [2]int64{lo, hi})
		}
	}
	slices.SortFunc(rs, func(x, y [2]int64) int { return cmp.Compare(x[0], y[0]) })
	var out [][2]int64
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// span is the offset range a poll read across: from its fetch offset (or
// its lowest record) to its highest record; ok is false if it returned none.
func span(q *Poll) (lo, hi int64, ok bool) {
	if len(q.Records) == 0 {
		return 0, 0, false
	}
	lo, hi = q.Records[0].Offset, q.Records[0].Offset
	for _, r := range q.Records {
		lo, hi = min(lo, r.Offset), max(hi, r.Offset)
	}
	if q.From >= 0 && q.From < lo {
		lo = q.From
	}
	return lo, hi, true
}

// isCovered reports whether some OK poll read across offset o.
func (p *part) isCovered(o int64) bool {
	i, _ := slices.BinarySearchFunc(p.covered, o, func(r [2]int64, o int64) int { return cmp.Compare(r[1], o) })
	return i < len(p.covered) && p.covered[i][0] <= o
}

func (a *analysis) malformed(format string, args ...any) {
	a.unknown = append(a.unknown, "malformed history: "+fmt.Sprintf(format, args...))
}

func (a *analysis) report(v Violation) {
	a.counts[v.Anomaly]++
	if a.counts[v.Anomaly] <= a.opts.MaxPerAnomaly {
		a.found = append(a.found, v)
	}
}

func (a *analysis) violation(an Anomaly, p *part, detail string, ops ...ref) {
	v := Violation{Anomaly: an, Partition: p.id, Detail: detail}
	for _, r := range ops {
		if r.valid() {
			v.Ops = append(v.Ops, a.describe(r))
		}
	}
	a.report(v)
}

func (a *analysis) result() Result {
	r := Result{Violations: a.found, Counts: a.counts, Unknown: a.unknown, Stats: a.stats}
	order := make(map[Anomaly]int, len(Anomalies))
	for i, an := range Anomalies {
		order[an] = i
	}
	slices.SortStableFunc(r.Violations, func(x, y Violation) int {
		return cmp.Or(cmp.Compare(x.Partition, y.Partition), cmp.Compare(order[x.Anomaly], order[y.Anomaly]))
	})
	r.Valid = len(r.Violations) == 0 && len(r.Unknown) == 0
	return r
}

// describe renders an operation for a violation report, with its virtual
// times.
func (a *analysis) describe(r ref) string {
	if !r.poll {
		s := &a.h.Sends[r.idx]
		d := fmt.Sprintf("send#%d process %d %q [%s → %s] %s", r.idx, s.Process, s.Value,
			vtime(s.Invoke), vtime(s.Complete), s.Outcome)
		if s.Outcome == OK {
			d += fmt.Sprintf(" offset %d", s.Offset)
		}
		if s.Acks != AcksAll {
			d += " acks=" + s.Acks.String()
		}
		if s.Idempotent {
			d += fmt.Sprintf(" (producer %d epoch %d seq %d)", s.ProducerID, s.Epoch, s.Seq)
		}
		if s.Batch != 0 {
			d += fmt.Sprintf(" batch %d", s.Batch)
		}
		return d
	}
	q := &a.h.Polls[r.idx]
	d := fmt.Sprintf("poll#%d process %d from %d [%s → %s] %s", r.idx, q.Process, q.From,
		vtime(q.Invoke), vtime(q.Complete), q.Outcome)
	if n := len(q.Records); n > 0 {
		d += fmt.Sprintf(" %d records %d..%d", n, q.Records[0].Offset, q.Records[n-1].Offset)
	}
	d += fmt.Sprintf(" hw %d epoch %d", q.HighWatermark, q.LeaderEpoch)
	if q.Seek {
		d += " seek"
	}
	if q.Final {
		d += " final"
	}
	if r.rec >= 0 && int(r.rec) < len(q.Records) {
		rec := q.Records[r.rec]
		d += fmt.Sprintf(": record %d = %q at offset %d", r.rec, rec.Value, rec.Offset)
	}
	return d
}

// vtime renders virtual nanoseconds; -1 (never) as "never".
func vtime(ns int64) string {
	if ns < 0 {
		return "never"
	}
	return time.Duration(ns).String()
}
