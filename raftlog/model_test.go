package raftlog

// The model test: a rapid state machine drives a Log on a crashable vfs.Mem
// and compares it, after every step, with a model of what was written.
//
// The model keeps a history of views: the log's logical content (entries,
// snapshot, conf state, hard state, partition states) after every frame the
// log wrote since the last completed round. A completed round makes its last
// view durable. A crash keeps the durable view and any prefix of the frames
// written after it, so the recovered log must equal one view of the history
// from the durable one on: synced ⊆ recovered ⊆ written, and the recovered
// log is one consistent history, never a mix.
//
// Replay a failure with the command rapid prints (-rapid.failfile=...), or
// run more cases with -rapid.checks=N -rapid.steps=M.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"sluice/raftlog/vfs"
)

const (
	modelDir   = "data/p0" // nested: the parents' names must be durable too
	modelKinds = 3         // partition state kinds 1..modelKinds
)

type modelEnt struct {
	term uint64
	typ  pb.EntryType
	data []byte
	meta EntryMeta
}

func (e modelEnt) entry(i uint64) *pb.Entry {
	return &pb.Entry{Index: new(i), Term: new(e.term), Type: new(e.typ), Data: e.data}
}

type modelHS struct{ term, vote, commit uint64 }

type modelState struct {
	set  bool
	data []byte
}

// modelView is the logical content of the log at one point of its history.
// Views are values; ents is shared between views and never written in
// place below its length (a truncation copies).
type modelView struct {
	base     uint64     // entries at or below base are gone (a snapshot from the leader dropped them)
	ents     []modelEnt // ents[k] is entry base+1+k
	snapIdx  uint64
	snapTerm uint64
	snapData []byte
	snapCS   *pb.ConfState
	cs       *pb.ConfState
	hs       modelHS
	states   [modelKinds + 1]modelState
}

func (v *modelView) last() uint64 { return v.base + uint64(len(v.ents)) }

func (v *modelView) ent(i uint64) modelEnt {
	if i <= v.base || i > v.last() {
		panic(fmt.Sprintf("model: entry %d outside (%d,%d]", i, v.base, v.last()))
	}
	return v.ents[i-v.base-1]
}

func (v *modelView) term(i uint64) uint64 {
	if i == v.snapIdx {
		return v.snapTerm
	}
	return v.ent(i).term
}

// appendEnt applies one entry frame: a conflicting index truncates first.
func (v *modelView) appendEnt(i uint64, e modelEnt) {
	if i <= v.last() {
		v.ents = append([]modelEnt(nil), v.ents[:i-v.base-1]...)
	}
	if i != v.last()+1 {
		panic(fmt.Sprintf("model: append %d after %d", i, v.last()))
	}
	v.ents = append(v.ents, e)
}

func (v *modelView) reset(snap *pb.Snapshot) {
	md := snap.GetMetadata()
	v.base, v.ents = md.GetIndex(), nil
	v.snapIdx, v.snapTerm, v.snapData = md.GetIndex(), md.GetTerm(), snap.GetData()
	v.snapCS = md.GetConfState()
	v.cs = v.snapCS
}

func (v *modelView) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "view{base %d last %d snap %d/%d hs %+v", v.base, v.last(), v.snapIdx, v.snapTerm, v.hs)
	for k := 1; k <= modelKinds; k++ {
		if v.states[k].set {
			fmt.Fprintf(&b, " state%d=%dB", k, len(v.states[k].data))
		}
	}
	b.WriteString(" terms")
	for i := v.base + 1; i <= v.last(); i++ {
		fmt.Fprintf(&b, " %d", v.ent(i).term)
	}
	b.WriteString("}")
	return b.String()
}

type modelRound struct {
	r   *Round
	end int // index in harness.hist of the view the round ends with
}

type modelHarness struct {
	fs   *vfs.Mem
	opts Options
	l    *Log

	cur     modelView
	hist    []modelView // hist[0] is durable; later views are written, not yet durable
	pending []modelRound

	term     uint64 // the leader's term for new entries
	commit   uint64 // entries up to here are committed: never truncated
	resetOff int64  // the next offset when the log has no entries
	oldest   uint64 // OldestIndex last seen; it only grows without a crash
}

func TestModel(t *testing.T) {
	defaultRapidSteps(t, 300)
	rapid.Check(t, func(t *rapid.T) {
		h := newModelHarness(t)
		t.Repeat(map[string]func(*rapid.T){
			"append":       h.actAppend,
			"conflict":     h.actConflict,
			"hardState":    h.actHardState,
			"states":       h.actStates,
			"compact":      h.actCompact,
			"deleteBefore": h.actDeleteBefore,
			"snapshot":     h.actSnapshot,
			"sync":         h.actSync,
			"crash":        h.actCrash,
			"tornCrash":    h.actTornCrash,
			"processCrash": h.actProcessCrash,
			"reopen":       h.actReopen,
			"":             h.check,
		})
	})
}

// defaultRapidSteps makes rapid's state machines run n steps on average
// (its default is 30, too few to fill several segments between crashes)
// unless -rapid.steps or RAPID_STEPS says otherwise.
func defaultRapidSteps(t *testing.T, n int) {
	set := os.Getenv("RAPID_STEPS") != ""
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.steps" })
	f := flag.Lookup("rapid.steps")
	if set || f == nil {
		return
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Value.Set(old) })
}

func newModelHarness(t *rapid.T) *modelHarness {
	h := &modelHarness{
		fs: vfs.NewMem(rapid.Uint64().Draw(t, "memSeed")),
		opts: Options{
			SegmentBytes:       rapid.Int64Range(2<<10, 8<<10).Draw(t, "segmentBytes"),
			TailCacheBytes:     rapid.SampledFrom([]int64{1, 2 << 10, 1 << 20}).Draw(t, "tailCacheBytes"),
			IndexIntervalBytes: rapid.SampledFrom([]int64{64, 512, 4 << 10}).Draw(t, "indexIntervalBytes"),
			// A log may start in format version 1; every reopen is a
			// version 2 build's (recoverFrom), as after an upgrade.
			writeVersion: rapid.Uint16Range(1, formatVersion).Draw(t, "writeVersion"),
		},
		term: 1,
	}
	h.cur = modelView{cs: &pb.ConfState{}, snapCS: &pb.ConfState{}}
	l, err := Open(h.fs, modelDir, h.opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	h.l = l
	h.hist = []modelView{h.cur}
	return h
}

// ----- drawing -----

// drawData draws entry or state data: incompressible, about 2:1
// compressible, or highly compressible.
func drawData(t *rapid.T, label string, maxLen int) []byte {
	n := rapid.IntRange(0, maxLen).Draw(t, label+"Len")
	if n == 0 {
		if rapid.Bool().Draw(t, label+"Nil") {
			return nil
		}
		return []byte{}
	}
	rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, label+"Seed"), 7))
	b := make([]byte, n)
	switch rapid.IntRange(0, 2).Draw(t, label+"Kind") {
	case 0:
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	case 1:
		for i := 0; i < n; i += 16 {
			var chunk [8]byte
			for k := range chunk {
				chunk[k] = byte(rng.Uint32())
			}
			copy(b[i:], chunk[:])
			if i+8 < n {
				copy(b[i+8:], chunk[:])
			}
		}
	default:
		for i := range b {
			b[i] = "sluice"[i%6]
		}
	}
	return b
}

func drawConfState(t *rapid.T, label string) *pb.ConfState {
	voters := rapid.SliceOfN(rapid.Uint64Range(1, 5), 0, 3).Draw(t, label)
	if len(voters) == 0 {
		return &pb.ConfState{}
	}
	return &pb.ConfState{Voters: voters}
}

func (h *modelHarness) nextOffset(v *modelView, i uint64) int64 {
	if i-1 > v.base && i-1 > 0 {
		return v.ent(i - 1).meta.NextOffset()
	}
	return h.resetOff
}

// drawEntries draws n entries from index start, with non-decreasing offsets.
func (h *modelHarness) drawEntries(t *rapid.T, start uint64, n int, term uint64) ([]*pb.Entry, []EntryMeta, []modelEnt) {
	off := h.nextOffset(&h.cur, start)
	var ents []*pb.Entry
	var metas []EntryMeta
	var mes []modelEnt
	for k := range n {
		e := modelEnt{
			term: term,
			typ:  pb.EntryType(rapid.IntRange(0, 2).Draw(t, "entryType")),
			data: drawData(t, "entry", 1500),
		}
		e.meta = EntryMeta{BaseOffset: off, MaxTimestamp: rapid.Int64Range(0, 1000).Draw(t, "maxTs")}
		if rapid.IntRange(0, 3).Draw(t, "hasRecords") > 0 {
			e.meta.Count = uint32(rapid.IntRange(1, 5).Draw(t, "count"))
		}
		off = e.meta.NextOffset()
		ents = append(ents, e.entry(start+uint64(k)))
		metas = append(metas, e.meta)
		mes = append(mes, e)
	}
	return ents, metas, mes
}

// drawHardState draws a hard state whose commit index may reach last.
func (h *modelHarness) drawHardState(t *rapid.T, last uint64) *pb.HardState {
	hs := h.cur.hs
	term := rapid.Uint64Range(max(hs.term, 1), h.term+1).Draw(t, "hsTerm")
	commit := hs.commit
	if last > commit {
		commit = rapid.Uint64Range(commit, last).Draw(t, "hsCommit")
	}
	return &pb.HardState{Term: new(term), Vote: new(rapid.Uint64Range(0, 3).Draw(t, "vote")), Commit: new(commit)}
}

func drawStates(t *rapid.T) []State {
	n := rapid.IntRange(1, 3).Draw(t, "nStates")
	var out []State
	for range n {
		out = append(out, State{Kind: uint8(rapid.IntRange(1, modelKinds).Draw(t, "kind")), Data: drawData(t, "state", 600)})
	}
	return out
}

// ----- applying batches to the model -----

// apply runs b through the log and the model, pushing a view per frame in
// the order the log writes them: snapshot, entries, conf state, states,
// hard state.
func (h *modelHarness) apply(t *rapid.T, b Batch, mes []modelEnt) {
	r, err := h.l.Append(b)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if b.Snapshot != nil {
		h.cur.reset(proto.Clone(b.Snapshot).(*pb.Snapshot))
		h.push()
	}
	for k, e := range b.Entries {
		h.cur.appendEnt(e.GetIndex(), mes[k])
		h.push()
	}
	if b.ConfState != nil {
		h.cur.cs = proto.Clone(b.ConfState).(*pb.ConfState)
		h.push()
	}
	for _, st := range b.States {
		h.cur.states[st.Kind] = modelState{set: true, data: st.Data}
		h.push()
	}
	if hs := b.HardState; hs != nil {
		h.cur.hs = modelHS{hs.GetTerm(), hs.GetVote(), hs.GetCommit()}
		h.term = max(h.term, hs.GetTerm())
		h.commit = max(h.commit, hs.GetCommit())
		h.push()
	}
	h.pend(r)
}

func (h *modelHarness) push() { h.hist = append(h.hist, h.cur) }

func (h *modelHarness) pend(r *Round) {
	h.pending = append(h.pending, modelRound{r: r, end: len(h.hist) - 1})
}

// ----- actions -----

func (h *modelHarness) actAppend(t *rapid.T) {
	n := rapid.IntRange(1, 4).Draw(t, "n")
	start := h.cur.last() + 1
	ents, metas, mes := h.drawEntries(t, start, n, h.term)
	b := Batch{Entries: ents, Metas: metas}
	if rapid.IntRange(0, 2).Draw(t, "withHardState") == 0 {
		// Raft persists the hard state with the entries it covers.
		b.HardState = h.drawHardState(t, start+uint64(n)-1)
	}
	if rapid.IntRange(0, 5).Draw(t, "withConfState") == 0 {
		b.ConfState = drawConfState(t, "confState")
	}
	if rapid.IntRange(0, 4).Draw(t, "withStates") == 0 {
		b.States = drawStates(t)
	}
	h.apply(t, b, mes)
}

// actConflict overwrites a suffix above the commit point with entries of a
// new term, as a follower does for a new leader. Small segments make it
// reach back into closed ones.
func (h *modelHarness) actConflict(t *rapid.T) {
	lo := max(h.commit, h.cur.base, h.cur.snapIdx) + 1
	if lo > h.cur.last() {
		t.Skip("nothing uncommitted")
	}
	start := rapid.Uint64Range(lo, h.cur.last()).Draw(t, "conflictAt")
	h.term++
	ents, metas, mes := h.drawEntries(t, start, rapid.IntRange(1, 4).Draw(t, "n"), h.term)
	h.apply(t, Batch{Entries: ents, Metas: metas}, mes)
}

func (h *modelHarness) actHardState(t *rapid.T) {
	h.apply(t, Batch{HardState: h.drawHardState(t, h.cur.last())}, nil)
}

func (h *modelHarness) actStates(t *rapid.T) {
	h.apply(t, Batch{States: drawStates(t)}, nil)
}

func (h *modelHarness) actCompact(t *rapid.T) {
	if h.commit <= h.cur.snapIdx || h.commit > h.cur.last() {
		t.Skip("nothing committed to compact")
	}
	idx := rapid.Uint64Range(h.cur.snapIdx+1, h.commit).Draw(t, "compactAt")
	data := drawData(t, "snapData", 300)
	r, err := h.l.Compact(idx, nil, data)
	if err != nil {
		t.Fatalf("compact %d: %v", idx, err)
	}
	h.cur.snapTerm = h.cur.term(idx)
	h.cur.snapIdx = idx
	h.cur.snapData = data
	h.cur.snapCS = h.cur.cs
	h.push()
	h.pend(r)
}

func (h *modelHarness) actDeleteBefore(t *rapid.T) {
	idx := rapid.Uint64Range(1, h.cur.last()+2).Draw(t, "deleteBefore")
	r, err := h.l.DeleteBefore(idx)
	if err != nil {
		t.Fatalf("delete before %d: %v", idx, err)
	}
	if r != nil {
		h.pend(r)
	}
	// What retention may not remove stays; what it must remove went.
	limit := min(idx, h.l.firstIndex())
	if len(h.l.segs) > 1 {
		if s := h.l.segs[0]; s.empty() || s.last < limit {
			t.Fatalf("delete before %d (limit %d): segment %d [%d,%d] was kept", idx, limit, s.gen, s.first, s.last)
		}
	}
}

// actSnapshot applies a snapshot from the leader, which replaces the log.
func (h *modelHarness) actSnapshot(t *rapid.T) {
	lo := max(h.commit, h.cur.snapIdx) + 1
	idx := rapid.Uint64Range(lo, max(lo, h.cur.last())+3).Draw(t, "snapIndex")
	h.term += rapid.Uint64Range(0, 1).Draw(t, "snapTermBump")
	snap := &pb.Snapshot{
		Data:     drawData(t, "snapData", 300),
		Metadata: &pb.SnapshotMetadata{Index: new(idx), Term: new(h.term), ConfState: drawConfState(t, "snapConfState")},
	}
	if len(snap.Data) == 0 {
		snap.Data = nil
	}
	b := Batch{Snapshot: snap}
	h.resetOff = h.nextOffset(&h.cur, h.cur.last()+1) + 10
	var mes []modelEnt
	if rapid.Bool().Draw(t, "snapWithEntries") {
		saved := h.cur
		h.cur.reset(snap)
		b.Entries, b.Metas, mes = h.drawEntries(t, idx+1, rapid.IntRange(1, 3).Draw(t, "n"), h.term)
		h.cur = saved
	}
	if rapid.Bool().Draw(t, "snapWithHardState") {
		b.HardState = &pb.HardState{Term: new(max(h.term, h.cur.hs.term)), Vote: new(h.cur.hs.vote), Commit: new(idx)}
	}
	h.commit = max(h.commit, idx)
	h.apply(t, b, mes)
}

// actSync runs and completes the oldest pending rounds.
func (h *modelHarness) actSync(t *rapid.T) {
	if len(h.pending) == 0 {
		t.Skip("no round pending")
	}
	k := rapid.IntRange(1, len(h.pending)).Draw(t, "rounds")
	for range k {
		p := h.pending[0]
		if err := h.l.Complete(p.r, p.r.Run(h.fs)); err != nil {
			t.Fatalf("round: %v", err)
		}
		h.pending = h.pending[1:]
		h.hist = h.hist[p.end:]
		for i := range h.pending {
			h.pending[i].end -= p.end
		}
	}
	if len(h.pending) == 0 && h.l.StableIndex() != h.cur.last() {
		t.Fatalf("stable index %d, last %d with nothing pending", h.l.StableIndex(), h.cur.last())
	}
}

// runPrefix carries out the I/O of the first pending rounds without
// completing them: a crash then strikes between rounds, or in the middle of
// the last one when it only wrote (no sync). It returns how many rounds
// wrote.
func (h *modelHarness) runPrefix(t *rapid.T) int {
	if len(h.pending) == 0 {
		return 0
	}
	k := rapid.IntRange(0, len(h.pending)).Draw(t, "roundsRun")
	torn := k > 0 && rapid.Bool().Draw(t, "lastOnlyWritten")
	for i := range k {
		r := h.pending[i].r
		var err error
		if i == k-1 && torn {
			err = r.WriteAll()
		} else {
			err = r.Run(h.fs)
		}
		if err != nil {
			t.Fatalf("round: %v", err)
		}
	}
	return k
}

func (h *modelHarness) actCrash(t *rapid.T) {
	h.runPrefix(t)
	if rapid.IntRange(0, 3).Draw(t, "cleanCrash") == 0 {
		h.fs.CrashClean()
	} else {
		h.fs.Crash()
	}
	h.recoverFrom(t, 0, len(h.hist)-1)
}

// actTornCrash writes a round without syncing it, then loses power: the
// round's pages survive in any subset, the last one possibly torn.
func (h *modelHarness) actTornCrash(t *rapid.T) {
	if len(h.pending) == 0 {
		t.Skip("no round pending")
	}
	k := rapid.IntRange(1, len(h.pending)).Draw(t, "tornRound")
	for i := range k - 1 {
		if err := h.pending[i].r.Run(h.fs); err != nil {
			t.Fatalf("round: %v", err)
		}
	}
	if err := h.pending[k-1].r.WriteAll(); err != nil {
		t.Fatalf("round: %v", err)
	}
	h.fs.Crash()
	h.recoverFrom(t, 0, len(h.hist)-1)
}

// actProcessCrash kills the process: every write made survives in the page
// cache, so the log must come back exactly as far as it wrote. Recovery must
// then make it durable: a later power loss may not take it back.
func (h *modelHarness) actProcessCrash(t *rapid.T) {
	k := h.runPrefix(t)
	want := 0
	if k > 0 {
		want = h.pending[k-1].end
	}
	h.fs.ProcessCrash()
	h.recoverFrom(t, want, want)
}

// actReopen completes everything, closes the log and opens it again.
func (h *modelHarness) actReopen(t *rapid.T) {
	for _, p := range h.pending {
		if err := h.l.Complete(p.r, p.r.Run(h.fs)); err != nil {
			t.Fatalf("round: %v", err)
		}
	}
	h.pending = nil
	h.hist = []modelView{h.cur}
	oldest := h.l.OldestIndex()
	h.l.Close()
	h.recoverFrom(t, 0, 0)
	if got := h.l.OldestIndex(); got != oldest {
		t.Fatalf("clean reopen: oldest index %d, was %d", got, oldest)
	}
}

// recoverFrom opens the log again and requires it to equal one of the views
// hist[lo..hi], the later ones first.
func (h *modelHarness) recoverFrom(t *rapid.T, lo, hi int) {
	h.opts.writeVersion = 0
	l, err := Open(h.fs, modelDir, h.opts)
	if err != nil {
		t.Fatalf("open after crash: %v\ndurable %v\nlatest %v", err, &h.hist[0], &h.hist[len(h.hist)-1])
	}
	match := -1
	var diffs []string
	for i := hi; i >= lo; i-- {
		d := diffView(l, &h.hist[i])
		if d == "" {
			match = i
			break
		}
		diffs = append(diffs, fmt.Sprintf("  view %d %v: %s", i, &h.hist[i], d))
	}
	if match < 0 {
		t.Fatalf("recovered log (last %d, first %d) is none of the views written since the durable one:\n%s",
			l.last, l.firstIndex(), strings.Join(diffs, "\n"))
	}
	h.l = l
	h.cur = h.hist[match]
	h.cur.ents = slices.Clip(h.cur.ents)
	h.hist = []modelView{h.cur}
	h.pending = nil
	h.commit = min(h.commit, h.cur.last())
	if h.commit < h.cur.snapIdx {
		h.commit = h.cur.snapIdx
	}
	h.oldest = l.OldestIndex()
}

// ----- checks -----

// diffView compares everything the log recovers with a view; "" when equal.
func diffView(l *Log, v *modelView) string {
	if err := l.Err(); err != nil {
		return fmt.Sprintf("log stopped: %v", err)
	}
	last, _ := l.LastIndex()
	first, _ := l.FirstIndex()
	if last != v.last() || first != v.snapIdx+1 {
		return fmt.Sprintf("range [%d,%d], want [%d,%d]", first, last, v.snapIdx+1, v.last())
	}
	snap, err := l.Snapshot()
	if err != nil {
		return fmt.Sprintf("snapshot: %v", err)
	}
	if md := snap.GetMetadata(); md.GetIndex() != v.snapIdx || md.GetTerm() != v.snapTerm ||
		!bytes.Equal(snap.GetData(), v.snapData) || !proto.Equal(pb.EnsureConfState(md.GetConfState()), pb.EnsureConfState(v.snapCS)) {
		return fmt.Sprintf("snapshot %d/%d %dB %v, want %d/%d %dB %v", md.GetIndex(), md.GetTerm(), len(snap.GetData()),
			md.GetConfState(), v.snapIdx, v.snapTerm, len(v.snapData), v.snapCS)
	}
	hs, cs, err := l.InitialState()
	if err != nil {
		return fmt.Sprintf("initial state: %v", err)
	}
	if got := (modelHS{hs.GetTerm(), hs.GetVote(), hs.GetCommit()}); got != v.hs {
		return fmt.Sprintf("hard state %+v, want %+v", got, v.hs)
	}
	if !proto.Equal(cs, pb.EnsureConfState(v.cs)) {
		return fmt.Sprintf("conf state %v, want %v", cs, v.cs)
	}
	if d := diffStates(l.states, v); d != "" {
		return d
	}
	for i := v.snapIdx; i <= last; i++ {
		if tm, err := l.Term(i); err != nil || tm != v.term(i) {
			return fmt.Sprintf("term(%d) = %d, %v; want %d", i, tm, err, v.term(i))
		}
	}
	oldest := l.OldestIndex()
	if oldest <= v.base || oldest > first {
		return fmt.Sprintf("oldest index %d outside (%d,%d]", oldest, v.base, first)
	}
	if oldest <= last {
		got, err := l.ReadEntries(oldest, last+1, math.MaxUint64)
		if err != nil {
			return fmt.Sprintf("read entries [%d,%d]: %v", oldest, last, err)
		}
		if d := diffEntries(got, v, oldest, last+1); d != "" {
			return d
		}
	}
	return ""
}

func diffStates(got []State, v *modelView) string {
	var want []State
	for k := 1; k <= modelKinds; k++ {
		if v.states[k].set {
			want = append(want, State{Kind: uint8(k), Data: v.states[k].data})
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d states, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Kind != want[i].Kind || !bytes.Equal(got[i].Data, want[i].Data) {
			return fmt.Sprintf("state %d: kind %d %dB, want kind %d %dB", i, got[i].Kind, len(got[i].Data), want[i].Kind, len(want[i].Data))
		}
	}
	return ""
}

func diffEntries(got []*pb.Entry, v *modelView, lo, hi uint64) string {
	if uint64(len(got)) != hi-lo {
		return fmt.Sprintf("%d entries in [%d,%d), want %d", len(got), lo, hi, hi-lo)
	}
	for k, e := range got {
		i := lo + uint64(k)
		want := v.ent(i).entry(i)
		if !proto.Equal(e, want) || proto.Size(e) != proto.Size(want) {
			return fmt.Sprintf("entry %d: index %d term %d type %v %dB, want term %d type %v %dB", i,
				e.GetIndex(), e.GetTerm(), e.GetType(), len(e.GetData()), want.GetTerm(), want.GetType(), len(want.GetData()))
		}
	}
	return ""
}

// check runs after every action: the live log equals the model's current
// view, and every read agrees with it.
func (h *modelHarness) check(t *rapid.T) {
	l, v := h.l, &h.cur
	if d := diffView(l, v); d != "" {
		t.Fatalf("log differs from the model: %s\nmodel %v", d, v)
	}
	first, last := v.snapIdx+1, v.last()
	if _, err := l.Term(last + 1); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("term(%d) past the end: %v", last+1, err)
	}
	if v.snapIdx > 0 {
		if _, err := l.Term(v.snapIdx - 1); !errors.Is(err, raft.ErrCompacted) {
			t.Fatalf("term(%d) below the snapshot: %v", v.snapIdx-1, err)
		}
	}
	if _, err := l.Entries(first-1, last+1, math.MaxUint64); first > 1 && !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("entries from %d below first %d: %v", first-1, first, err)
	}
	if _, err := l.Entries(first, last+2, math.MaxUint64); err == nil {
		t.Fatalf("entries past last %d: no error", last)
	}
	if first <= last {
		lo := rapid.Uint64Range(first, last).Draw(t, "lo")
		hi := rapid.Uint64Range(lo+1, last+1).Draw(t, "hi")
		want := make([]*pb.Entry, 0, hi-lo)
		var total uint64
		for i := lo; i < hi; i++ {
			e := v.ent(i).entry(i)
			want = append(want, e)
			total += uint64(proto.Size(e))
		}
		maxSize := rapid.Uint64Range(0, total+1).Draw(t, "maxSize")
		got, err := l.Entries(lo, hi, maxSize)
		if err != nil {
			t.Fatalf("entries [%d,%d) max %d: %v", lo, hi, maxSize, err)
		}
		n := len(limitEntries(want, maxSize))
		if d := diffEntries(got, v, lo, lo+uint64(n)); d != "" {
			t.Fatalf("entries [%d,%d) max %d: %s", lo, hi, maxSize, d)
		}
	}
	oldest := l.OldestIndex()
	if oldest < h.oldest {
		t.Fatalf("oldest index went back from %d to %d", h.oldest, oldest)
	}
	h.oldest = oldest
	h.checkFind(t, oldest)
}

// limitEntries is raft's limitSize: at least one entry, then as many as fit.
func limitEntries(ents []*pb.Entry, maxSize uint64) []*pb.Entry {
	if len(ents) == 0 {
		return ents
	}
	size := uint64(proto.Size(ents[0]))
	for n := 1; n < len(ents); n++ {
		size += uint64(proto.Size(ents[n]))
		if size > maxSize {
			return ents[:n]
		}
	}
	return ents
}

// checkFind probes FindOffset and FindTimestamp against the retained
// entries of the model.
func (h *modelHarness) checkFind(t *rapid.T, oldest uint64) {
	v := &h.cur
	last := v.last()
	var maxOff int64
	if last > v.base && last >= oldest {
		maxOff = v.ent(last).meta.NextOffset()
	}
	for range 3 {
		o := rapid.Int64Range(-1, maxOff+1).Draw(t, "findOffset")
		wantIdx, wantOK := uint64(0), false
		for i := oldest; i <= last; i++ {
			if m := v.ent(i).meta; m.Count > 0 && m.NextOffset() > o {
				wantIdx, wantOK = i, true
				break
			}
		}
		idx, ok, err := h.l.FindOffset(o)
		if err != nil || ok != wantOK || (ok && idx != wantIdx) {
			t.Fatalf("FindOffset(%d) = %d %v %v, want %d %v", o, idx, ok, err, wantIdx, wantOK)
		}
		ts := rapid.Int64Range(-1, 1001).Draw(t, "findTs")
		wantIdx, wantOK = 0, false
		for i := oldest; i <= last; i++ {
			if m := v.ent(i).meta; m.Count > 0 && m.MaxTimestamp >= ts {
				wantIdx, wantOK = i, true
				break
			}
		}
		idx, ok, err = h.l.FindTimestamp(ts)
		if err != nil || ok != wantOK || (ok && idx != wantIdx) {
			t.Fatalf("FindTimestamp(%d) = %d %v %v, want %d %v", ts, idx, ok, err, wantIdx, wantOK)
		}
	}
	// MetaRange over a drawn range, sometimes stopped early, gives the
	// model's entries in order.
	if last >= oldest {
		lo := rapid.Uint64Range(oldest-min(oldest, 2), last+1).Draw(t, "metaLo")
		hi := rapid.Uint64Range(lo, last+2).Draw(t, "metaHi")
		stop := rapid.IntRange(1, 1<<20).Draw(t, "metaStop")
		var got []uint64
		err := h.l.MetaRange(lo, hi, func(i uint64, m EntryMeta) bool {
			if want := v.ent(i).meta; m != want {
				t.Fatalf("MetaRange(%d, %d): entry %d meta %+v, want %+v", lo, hi, i, m, want)
			}
			got = append(got, i)
			return len(got) < stop
		})
		if err != nil {
			t.Fatalf("MetaRange(%d, %d): %v", lo, hi, err)
		}
		var want []uint64
		for i := max(lo, oldest); i <= min(hi, last) && len(want) < stop; i++ {
			want = append(want, i)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("MetaRange(%d, %d) stopped after %d visited %v, want %v", lo, hi, stop, got, want)
		}
	}
}

// ----- regressions: scenarios the model test found, pinned -----

// regressLog is a small log on a Mem for the pinned scenarios.
type regressLog struct {
	t    *testing.T
	fs   *vfs.Mem
	opts Options
	l    *Log
}

func newRegressLog(t *testing.T, opts Options) *regressLog {
	r := &regressLog{t: t, fs: vfs.NewMem(3), opts: opts}
	r.reopen()
	return r
}

func (r *regressLog) reopen() {
	r.t.Helper()
	if r.l != nil {
		r.l.Close()
	}
	l, err := Open(r.fs, modelDir, r.opts)
	if err != nil {
		r.t.Fatalf("open: %v", err)
	}
	r.l = l
}

func (r *regressLog) run(rd *Round, err error) {
	r.t.Helper()
	mustRun(r.t, r.l, rd, err)
}

// fill appends entries [from, to] of term, 300 incompressible bytes each,
// one per round, each with one record.
func (r *regressLog) fill(from, to, term uint64) {
	r.t.Helper()
	for i := from; i <= to; i++ {
		r.run(r.l.Append(Batch{Entries: []*pb.Entry{ent(i, term, incompressible(i, 300))},
			Metas: []EntryMeta{{BaseOffset: int64(i), Count: 1, MaxTimestamp: int64(i)}}}))
	}
}

func (r *regressLog) requireEntries(first, last uint64) {
	r.t.Helper()
	if f, l := r.l.firstIndex(), r.l.last; f != first || l != last {
		r.t.Fatalf("log holds [%d,%d], want [%d,%d]", f, l, first, last)
	}
	if first <= last {
		if _, err := r.l.Entries(first, last+1, math.MaxUint64); err != nil {
			r.t.Fatal(err)
		}
	}
}

func TestRegressRetentionOfEveryClosedSegment(t *testing.T) {
	r := newRegressLog(t, Options{SegmentBytes: 2 << 10})
	r.fill(1, 12, 1)
	r.run(r.l.Compact(r.l.active().first, nil, []byte("state")))
	r.run(r.l.DeleteBefore(100))
	if len(r.l.segs) != 1 {
		t.Fatalf("%d segments left", len(r.l.segs))
	}
	first := r.l.firstIndex()
	r.reopen()
	r.requireEntries(first, 12)
}

func TestRegressSnapshotAfterRoll(t *testing.T) {
	r := newRegressLog(t, Options{SegmentBytes: 2 << 10})
	r.fill(1, 14, 1)
	r.run(r.l.Append(Batch{Snapshot: &pb.Snapshot{Metadata: &pb.SnapshotMetadata{
		Index: new(uint64(20)), Term: new(uint64(2)), ConfState: &pb.ConfState{Voters: []uint64{1}}}}}))
	r.reopen()
	r.requireEntries(21, 20)
	r.fill(21, 22, 2)
	r.reopen()
	r.requireEntries(21, 22)
}

// A conflict reaching into a closed segment, then a checkpoint written
// while the active segment still holds the superseded entries.
func TestRegressDeepConflictThenCheckpoint(t *testing.T) {
	r := newRegressLog(t, Options{SegmentBytes: 2 << 10})
	r.fill(1, 14, 1)
	cut := r.l.active().first - 2
	r.run(r.l.Append(Batch{Entries: []*pb.Entry{ent(cut, 2, []byte("y"))}}))
	r.run(r.l.Compact(5, nil, nil))
	r.run(r.l.DeleteBefore(6))
	r.reopen()
	r.requireEntries(6, cut)
}

// A conflict below the first index of an active segment that holds no
// entry yet (just rolled by recovery), then retention and a reopen.
func TestRegressConflictBelowEmptyActiveSegment(t *testing.T) {
	r := newRegressLog(t, Options{SegmentBytes: 2 << 10})
	r.fill(1, 1, 1)
	r.reopen() // the active segment now starts at 2
	r.run(r.l.Append(Batch{Entries: []*pb.Entry{ent(1, 2, []byte("new"))}}))
	r.run(r.l.DeleteBefore(1))
	r.reopen()
	r.requireEntries(1, 1)
	if tm, _ := r.l.Term(1); tm != 2 {
		t.Fatalf("term(1) = %d, want 2", tm)
	}
}

// An entry read from the segment before an emptied closed segment: the
// search for the segment holding an index must skip empty ones.
func TestRegressReadBeforeEmptiedSegment(t *testing.T) {
	r := newRegressLog(t, Options{SegmentBytes: 2 << 10, TailCacheBytes: 1})
	r.fill(1, 14, 1)
	if len(r.l.segs) < 3 {
		t.Fatal("want three segments")
	}
	mid := r.l.segs[1]
	r.run(r.l.Append(Batch{Entries: []*pb.Entry{ent(mid.first, 2, []byte("z"))}}))
	if _, err := r.l.Entries(1, mid.first+1, math.MaxUint64); err != nil {
		t.Fatal(err)
	}
}

// FindOffset and FindTimestamp over a segment sealed by a round not yet
// written: its frames are not in the file, so it may not be scanned.
func TestRegressFindInUnwrittenClosedSegment(t *testing.T) {
	r := newRegressLog(t, Options{SegmentBytes: 2 << 10})
	var rounds []*Round
	for i := uint64(1); i <= 10; i++ {
		rd, err := r.l.Append(Batch{Entries: []*pb.Entry{ent(i, 1, incompressible(i, 300))},
			Metas: []EntryMeta{{BaseOffset: int64(i), Count: 1, MaxTimestamp: int64(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		rounds = append(rounds, rd)
	}
	if r.l.segs[0].dense != nil {
		t.Fatal("want a closed segment")
	}
	if idx, ok, err := r.l.FindOffset(2); err != nil || !ok || idx != 2 {
		t.Fatalf("FindOffset(2) = %d %v %v", idx, ok, err)
	}
	if idx, ok, err := r.l.FindTimestamp(3); err != nil || !ok || idx != 3 {
		t.Fatalf("FindTimestamp(3) = %d %v %v", idx, ok, err)
	}
	for _, rd := range rounds {
		r.run(rd, nil)
	}
	if idx, ok, err := r.l.FindOffset(2); err != nil || !ok || idx != 2 {
		t.Fatalf("FindOffset(2) once written = %d %v %v", idx, ok, err)
	}
}

// After a process crash recovery keeps frames that were written but never
// synced; it must sync them before it trusts them, or a power loss takes
// back a log already reopened.
func TestRegressProcessCrashThenPowerLoss(t *testing.T) {
	r := newRegressLog(t, Options{SegmentBytes: 2 << 10})
	r.fill(1, 3, 1)
	var rounds []*Round
	for i := uint64(4); i <= 12; i++ {
		rd, err := r.l.Append(Batch{Entries: []*pb.Entry{ent(i, 1, incompressible(i, 300))}})
		if err != nil {
			t.Fatal(err)
		}
		rounds = append(rounds, rd)
	}
	for _, rd := range rounds {
		if err := rd.WriteAll(); err != nil {
			t.Fatal(err)
		}
	}
	r.fs.ProcessCrash()
	r.l = nil
	r.reopen()
	r.requireEntries(1, 12)
	r.fs.CrashClean()
	r.l = nil
	r.reopen()
	r.requireEntries(1, 12)
}
