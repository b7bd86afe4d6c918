package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/golang/snappy"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"sluice/raftlog/vfs"
)

// Batch is what one raft MsgStorageAppend asks to persist, plus the
// partition's own state. Entries' metadata is parallel to Entries.
type Batch struct {
	// Snapshot, if set, came from the leader and replaces the whole log.
	Snapshot *pb.Snapshot
	Entries  []*pb.Entry
	Metas    []EntryMeta
	// Known, if set, is parallel to Entries: a CRC the caller already
	// holds for the end of each entry's Data (see KnownCRC).
	Known     []KnownCRC
	HardState *pb.HardState
	ConfState *pb.ConfState
	States    []State
	// Relaxed lets the round's data go unsynced (a relaxed flush policy,
	// flush.messages and flush.ms, DESIGN.md step 7): the round has no
	// Syncs, and its entries count as stable once written. The log syncs
	// the round anyway when it changes raft's term or vote (synced before
	// a vote is answered, whatever the policy), installs a snapshot,
	// changes the conf state, or rolls a segment (a roll seals, indexes and
	// checkpoints, which recovery trusts as durable); a synced round also
	// syncs what earlier relaxed rounds wrote.
	Relaxed bool
}

// WriteOp writes Data at Off of File. Data may alias an entry's Data (large
// raw bodies are not copied): it must not be modified.
type WriteOp struct {
	File vfs.File
	Off  int64
	Data []byte
}

// FileWrite replaces the file at Path with Data: written to Path+".tmp",
// synced, renamed into place; the directory is synced after the last one.
type FileWrite struct {
	Path string
	Data []byte
	// Cache marks a file recovery rebuilds when it is missing or damaged (a
	// closed segment's index, loadIndex): it is renamed into place without
	// a sync, which saves a device flush per roll (0.7–0.8 ms of the roll's
	// 4–5 ms on the development VM), and is written back in the file
	// system's own time. Its contents never change once written: a segment
	// is indexed after its seal is durable.
	Cache bool
}

// Round is the I/O one Append (or Compact, DeleteBefore, Sync) needs, in
// order: Writes, then one Sync of each of Syncs (in parallel if the runner
// likes), then SyncDirs, then Files, then Removes. The log treats the
// round's data as stable only when Complete is called with a nil error
// (durable, unless the round was relaxed: Synced reports false and its
// Syncs are empty). Rounds of one log must be run and completed in the
// order they were made.
type Round struct {
	Writes   []WriteOp
	Syncs    []vfs.File
	SyncDirs []string
	Files    []FileWrite
	Removes  []string
	Dir      string // directory of Files

	log    *Log
	last   uint64 // entries up to here are stable once the round completes
	synced bool   // the round syncs its data and every earlier round's
	ends   []segEnd
	closes []vfs.File

	// The segment being written, its frames buffered in buf; buf[pend:] is
	// not yet in a WriteOp and goes at file offset pendOff.
	cur      *segment
	buf      []byte
	pend     int
	pendOff  int64
	owned    [][]byte // buffers of the round's writes, reused after Complete
	relaxed  bool     // the caller allows no sync (Batch.Relaxed), the log agrees so far
	entries  uint64   // entries the round appends
	sizeHint int      // expected bytes of buffered frames, to size buffers once
}

type segEnd struct {
	seg *segment
	end int64
}

// Bytes is the number of bytes the round writes to segments.
func (r *Round) Bytes() int64 {
	var n int64
	for _, w := range r.Writes {
		n += int64(len(w.Data))
	}
	return n
}

// Empty reports whether the round has no I/O at all.
func (r *Round) Empty() bool {
	return len(r.Writes) == 0 && len(r.Syncs) == 0 && len(r.SyncDirs) == 0 && len(r.Files) == 0 && len(r.Removes) == 0
}

// Synced reports whether the round makes its data, and that of every round
// of the log before it, durable: false for a relaxed round.
func (r *Round) Synced() bool { return r.synced }

// ErrEarlierRoundFailed is returned by a round's I/O methods once an
// earlier round of the same log failed (Round.Fail): nothing of it is
// written.
var ErrEarlierRoundFailed = errors.New("raftlog: an earlier round of this log failed")

// Fail records that r's I/O failed (a write, sync, directory sync or file
// replacement). No round of its log touches the disk after that: WriteAll,
// Finish and ReplaceFiles return ErrEarlierRoundFailed, and runners check
// Failed before syncing. The round's own methods call it on their errors;
// a runner that syncs files itself calls it on a failed sync. Safe from any
// goroutine.
func (r *Round) Fail() { r.log.ioFailed.Store(true) }

// Failed reports whether a round of r's log failed (Fail).
func (r *Round) Failed() bool { return r.log.ioFailed.Load() }

// WriteAll performs the round's Writes. Consecutive writes to one file are
// one system call where the file can write vectors (vfs.VectorWriter).
func (r *Round) WriteAll() error {
	if r.Failed() {
		return ErrEarlierRoundFailed
	}
	if err := r.writeAll(); err != nil {
		r.Fail()
		return err
	}
	return nil
}

func (r *Round) writeAll() error {
	var bufs [][]byte
	for i := 0; i < len(r.Writes); {
		w := r.Writes[i]
		j, end := i+1, w.Off+int64(len(w.Data))
		for j < len(r.Writes) && r.Writes[j].File == w.File && r.Writes[j].Off == end {
			end += int64(len(r.Writes[j].Data))
			j++
		}
		if vw, ok := w.File.(vfs.VectorWriter); ok && j-i > 1 {
			bufs = bufs[:0]
			for _, v := range r.Writes[i:j] {
				bufs = append(bufs, v.Data)
			}
			if _, err := vw.WriteVAt(bufs, w.Off); err != nil {
				return fmt.Errorf("raftlog: write %s at %d: %w", w.File.Name(), w.Off, err)
			}
			i = j
			continue
		}
		for ; i < j; i++ {
			w := r.Writes[i]
			if _, err := w.File.WriteAt(w.Data, w.Off); err != nil {
				return fmt.Errorf("raftlog: write %s at %d: %w", w.File.Name(), w.Off, err)
			}
		}
	}
	return nil
}

// Finish performs what follows the file syncs: directory syncs, then
// ReplaceFiles.
func (r *Round) Finish(fs vfs.FS) error {
	if r.Failed() {
		return ErrEarlierRoundFailed
	}
	for _, d := range r.SyncDirs {
		if err := fs.SyncDir(d); err != nil {
			r.Fail()
			return fmt.Errorf("raftlog: sync dir %s: %w", d, err)
		}
	}
	return r.ReplaceFiles(fs)
}

// ReplaceFiles writes the round's Files (each durable, then renamed into
// place), syncs their directory, then performs Removes. It runs after the
// round's file and directory syncs.
func (r *Round) ReplaceFiles(fs vfs.FS) error {
	if r.Failed() {
		return ErrEarlierRoundFailed
	}
	if err := r.replaceFiles(fs); err != nil {
		r.Fail()
		return err
	}
	return nil
}

func (r *Round) replaceFiles(fs vfs.FS) error {
	for _, fw := range r.Files {
		if err := replaceFile(fs, fw.Path, fw.Data, !fw.Cache); err != nil {
			return err
		}
	}
	if len(r.Files) > 0 {
		if err := fs.SyncDir(r.Dir); err != nil {
			return fmt.Errorf("raftlog: sync dir %s: %w", r.Dir, err)
		}
	}
	for _, p := range r.Removes {
		if err := fs.Remove(p); err != nil && !errors.Is(err, vfs.ErrNotExist) {
			return fmt.Errorf("raftlog: remove %s: %w", p, err)
		}
	}
	return nil
}

// Run performs the whole round sequentially.
func (r *Round) Run(fs vfs.FS) error {
	if err := r.WriteAll(); err != nil {
		return err
	}
	for _, f := range r.Syncs {
		if err := f.Sync(); err != nil {
			r.Fail()
			return fmt.Errorf("raftlog: sync %s: %w", f.Name(), err)
		}
	}
	return r.Finish(fs)
}

func replaceFile(fs vfs.FS, path string, data []byte, sync bool) error {
	tmp := path + tmpSuffix
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("raftlog: create %s: %w", tmp, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return fmt.Errorf("raftlog: write %s: %w", tmp, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("raftlog: sync %s: %w", tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("raftlog: close %s: %w", tmp, err)
	}
	if err := fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("raftlog: rename %s: %w", tmp, err)
	}
	return nil
}

func (l *Log) newRound() *Round {
	r := &Round{log: l, Dir: l.dir}
	l.inflight = append(l.inflight, r)
	return r
}

// Complete reports that r was run; err is its first failure. A failure stops
// the log for good (never retry after a failed fsync): reopen it from disk.
func (l *Log) Complete(r *Round, err error) error {
	if len(l.inflight) == 0 || l.inflight[0] != r {
		panic(fmt.Sprintf("raftlog: %s: round completed out of order (%d in flight)", l.dir, len(l.inflight)))
	}
	l.inflight[0] = nil
	l.inflight = l.inflight[1:]
	if err != nil {
		return l.fail(err)
	}
	if l.err != nil {
		return l.err
	}
	for _, e := range r.ends {
		e.seg.written = max(e.seg.written, e.end)
		if r.synced {
			e.seg.durable = max(e.seg.durable, e.end)
		}
		if e.seg.written >= e.seg.size && e.seg.closing != nil {
			l.recycleDense(e.seg.closing)
			e.seg.closing = nil
		}
	}
	l.stable = max(l.stable, r.last)
	if r.synced {
		l.synced = max(l.synced, r.last)
	}
	for _, f := range r.closes {
		f.Close()
	}
	for _, b := range r.owned {
		l.putBuf(b)
	}
	r.owned = nil
	for i := range r.Writes {
		r.Writes[i].Data = nil
	}
	l.evictTail()
	return nil
}

// Log is the log the round belongs to.
func (r *Round) Log() *Log { return r.log }

// StableIndex is the last entry index written by a completed round: known
// durable, unless relaxed rounds wrote it (then SyncedIndex is lower).
func (l *Log) StableIndex() uint64 { return l.stable }

// SyncedIndex is the last entry index known durable (synced).
func (l *Log) SyncedIndex() uint64 { return l.synced }

// UnsyncedEntries counts the entries relaxed rounds appended since the last
// round that syncs was made: what a flush.messages policy counts.
func (l *Log) UnsyncedEntries() uint64 { return l.unsyncedEntries }

// Unsynced reports whether relaxed rounds wrote data that no round made
// since syncs.
func (l *Log) Unsynced() bool { return l.unsyncedData }

// Sync returns a round that syncs what relaxed rounds wrote (the active
// segment's file), with no writes of its own: a flush.ms interval's sync.
// It returns nil when nothing is unsynced.
func (l *Log) Sync() (*Round, error) {
	if l.err != nil {
		return nil, l.err
	}
	if !l.unsyncedData {
		return nil, nil
	}
	r := l.newRound()
	l.finishRound(r)
	return r, nil
}

// Append prepares the writes for b and applies it to the in-memory view at
// once (raft may read the entries back before they are durable; they come
// from the tail cache). The caller runs the returned Round, then calls
// Complete. An error stops the log.
func (l *Log) Append(b Batch) (*Round, error) {
	if l.err != nil {
		return nil, l.err
	}
	ents, err := l.validate(&b)
	if err != nil {
		return nil, err
	}
	r := l.newRound()
	// Term and vote are synced before a vote is answered whatever the
	// flush policy: raft's safety rests on them (DESIGN.md step 7).
	relaxed := b.Relaxed && b.Snapshot == nil && b.ConfState == nil
	if hs := b.HardState; hs != nil && (hs.GetTerm() != l.hs.GetTerm() || hs.GetVote() != l.hs.GetVote()) {
		relaxed = false
	}
	r.relaxed = relaxed
	for _, e := range ents {
		r.sizeHint += frameHeaderSize + entryMetaSize
		if len(e.Data) < zeroCopyBytes || l.compFailures < skipAfterFailures {
			r.sizeHint += len(e.Data)
		}
	}
	r.sizeHint += 2 * markFrameBytes
	if b.Snapshot != nil {
		// The snapshot replaces the log: start a segment for it, so no
		// segment that recovery scans begins with entries it no longer has.
		if err := l.roll(r); err != nil {
			return nil, l.fail(err)
		}
		pos, s, err := l.emit(r, recSnapshot, encodeSnapshot(b.Snapshot, true))
		if err != nil {
			return nil, l.fail(err)
		}
		l.resetMem(s, pos, proto.Clone(b.Snapshot).(*pb.Snapshot))
		l.ckptDirty = true
	}
	if len(ents) > 0 {
		if first := ents[0].GetIndex(); first <= l.last {
			// A conflict reaching below the active segment rewrites closed
			// segments' ranges in the next checkpoint; the entries after it
			// then start a segment of their own, so recovery never scans
			// entries that depend on the old ranges, nor entries below the
			// next index in a segment's header.
			roll := first < l.active().first
			l.truncateMem(first)
			if roll {
				if err := l.roll(r); err != nil {
					return nil, l.fail(err)
				}
			}
		}
		for i, e := range ents {
			var m EntryMeta
			if b.Metas != nil {
				m = b.Metas[len(b.Metas)-len(ents)+i]
			}
			var k KnownCRC
			if b.Known != nil {
				k = b.Known[len(b.Known)-len(ents)+i]
			}
			if err := l.appendEntry(r, e, m, k); err != nil {
				return nil, l.fail(err)
			}
		}
		r.entries = uint64(len(ents))
	}
	if b.ConfState != nil {
		c := proto.Clone(b.ConfState).(*pb.ConfState)
		if _, _, err := l.emit(r, recConfState, encodeConfState(c)); err != nil {
			return nil, l.fail(err)
		}
		l.cs = c
		l.csExplicit = true
	}
	for _, st := range b.States {
		st = State{Kind: st.Kind, Data: append([]byte(nil), st.Data...)}
		if _, _, err := l.emit(r, recState, encodeState(st)); err != nil {
			return nil, l.fail(err)
		}
		l.setState(st)
	}
	if hs := b.HardState; hs != nil && !raft.IsEmptyHardState(hs) {
		h := proto.Clone(hs).(*pb.HardState)
		if _, _, err := l.emit(r, recHardState, encodeHardState(h)); err != nil {
			return nil, l.fail(err)
		}
		l.hs = h
	}
	l.finishRound(r)
	return r, nil
}

// validate checks b before anything changes and returns the entries to
// append (those below the first index are dropped, as MemoryStorage does).
func (l *Log) validate(b *Batch) ([]*pb.Entry, error) {
	if b.Metas != nil && len(b.Metas) != len(b.Entries) {
		return nil, fmt.Errorf("raftlog: %d metas for %d entries", len(b.Metas), len(b.Entries))
	}
	if b.Known != nil && len(b.Known) != len(b.Entries) {
		return nil, fmt.Errorf("raftlog: %d known CRCs for %d entries", len(b.Known), len(b.Entries))
	}
	first, last := l.firstIndex(), l.last
	if s := b.Snapshot; s != nil {
		idx := s.GetMetadata().GetIndex()
		if idx <= l.snap.GetMetadata().GetIndex() {
			return nil, raft.ErrSnapOutOfDate
		}
		first, last = idx+1, idx
	}
	ents := b.Entries
	for i, e := range ents {
		if i > 0 && e.GetIndex() != ents[i-1].GetIndex()+1 {
			return nil, fmt.Errorf("raftlog: entries not contiguous: %d after %d", e.GetIndex(), ents[i-1].GetIndex())
		}
		if n := entryMetaMax + len(e.GetData()); n > maxFramePayload {
			return nil, fmt.Errorf("raftlog: entry %d of %d bytes exceeds the frame limit %d", e.GetIndex(), n, maxFramePayload)
		}
		if b.Known != nil && (b.Known[i].Len < 0 || b.Known[i].Len > len(e.GetData())) {
			return nil, fmt.Errorf("raftlog: entry %d: known CRC of %d bytes for %d bytes of data", e.GetIndex(), b.Known[i].Len, len(e.GetData()))
		}
	}
	if len(ents) == 0 {
		return nil, nil
	}
	if ents[len(ents)-1].GetIndex() < first {
		return nil, nil
	}
	if ents[0].GetIndex() < first {
		ents = ents[first-ents[0].GetIndex():]
	}
	if ents[0].GetIndex() > last+1 {
		return nil, fmt.Errorf("raftlog: missing log entries: append at %d after last index %d", ents[0].GetIndex(), last)
	}
	return ents, nil
}

func (l *Log) appendEntry(r *Round, e *pb.Entry, m EntryMeta, known KnownCRC) error {
	h := entryHeader{index: e.GetIndex(), term: e.GetTerm(), meta: m}
	h.etype = uint8(e.GetType()) & 0x0f
	if e.Type != nil {
		h.etype |= presType
	}
	if e.Term != nil {
		h.etype |= presTerm
	}
	if e.Index != nil {
		h.etype |= presIndex
	}
	if e.Data != nil {
		h.etype |= presData
	}
	// writeTo copies the fields into the round's buffer: one scratch
	// array serves every entry.
	typ := recEntryV2
	if l.opts.writeVersion < 2 {
		typ = recEntry
		l.hdrBuf = slices.Grow(l.hdrBuf[:0], entryMetaSize)[:entryMetaSize]
		putEntryHeader(l.hdrBuf, h)
	} else {
		l.hdrBuf = appendEntryHeader(l.hdrBuf[:0], h)
	}
	hdr := l.hdrBuf
	body, compressed := l.compress(e.Data)
	if compressed {
		known = KnownCRC{}
	}
	pos, s, err := l.emitParts(r, typ, compressed, hdr, body, known)
	if err != nil {
		return err
	}
	l.addEntry(s, h, pos)
	if l.tailFirst+uint64(len(l.tail)) != h.index {
		clear(l.tail)
		l.tail, l.tailBytes, l.tailFirst = l.tail[:0], 0, h.index
	}
	l.pushTail(e)
	l.tailBytes += int64(entrySize(e))
	return nil
}

// pushTail appends e to the tail cache. The cache slides forward through
// its array as evictTail drops entries from the front; at the array's end
// the entries move back to its start when they fill at most half of it,
// rather than into a fresh array as append would put them (fresh memory is
// costly to fault in, see recycleDense); a new array is at least twice the
// old, so a cache whose length wavers settles in one.
func (l *Log) pushTail(e *pb.Entry) {
	if len(l.tail) == cap(l.tail) {
		arr := l.tailArr[:cap(l.tailArr)]
		if len(arr) == 0 || 2*len(l.tail) > len(arr) {
			arr = make([]*pb.Entry, max(2*len(arr), 2*len(l.tail), 64))
			copy(arr, l.tail)
		} else {
			n := copy(arr, l.tail)
			clear(arr[n:])
		}
		l.tailArr, l.tail = arr, arr[:len(l.tail)]
	}
	l.tail = append(l.tail, e)
}

// Presence bits in the entry type byte: protobuf optional fields keep
// whether they were set, and raft sizes entries by their encoding.
const (
	presType  = 0x10
	presTerm  = 0x20
	presIndex = 0x40
	presData  = 0x80
)

// minCompressBytes: below this, snappy rarely pays for its header.
const minCompressBytes = 64

// Entries of a partition tend to be alike: when several in a row do not
// compress enough (worthCompressing) — client batches compressed already,
// or random records — the log stops trying on most entries and probes one
// now and then until one does again: first one in probeEvery, each failed
// probe doubling the interval up to maxProbeEvery, so a stream that turns
// compressible is noticed within maxProbeEvery entries. Snappy gives up on
// random bytes at memory speed, but a batch of random records between
// headers it shrinks by a few percent at full cost (about 2.4 GB/s here).
const (
	skipAfterFailures = 8
	probeEvery        = 16
	maxProbeEvery     = 1024
)

// compress is maybeCompress into the log's scratch buffer, adaptively; the
// result is valid until the next call (frames copy it).
func (l *Log) compress(b []byte) ([]byte, bool) {
	if len(b) < minCompressBytes {
		return b, false
	}
	if l.compFailures >= skipAfterFailures {
		l.compSkipped++
		if l.compSkipped < l.compInterval {
			return b, false
		}
		l.compSkipped = 0
	}
	l.compTries++
	if n := snappy.MaxEncodedLen(len(b)); cap(l.compBuf) < n {
		l.compBuf = make([]byte, n)
	}
	c := snappy.Encode(l.compBuf[:cap(l.compBuf)], b)
	if !worthCompressing(len(c), len(b)) {
		l.compFailures++
		switch {
		case l.compFailures == skipAfterFailures:
			l.compInterval = probeEvery
		case l.compFailures > skipAfterFailures:
			l.compInterval = min(2*l.compInterval, maxProbeEvery)
		}
		return b, false
	}
	l.compFailures, l.compSkipped, l.compInterval = 0, 0, 0
	return c, true
}

// markFrameBytes is the size of a sync mark frame.
const markFrameBytes = frameHeaderSize + 16

// Write buffers are reused once their round completes; a few are kept.
const (
	keepBufs      = 4
	keepBufBytes  = 16 << 20
	minRoundBytes = 4 << 10
)

func (l *Log) takeBuf(hint int) []byte {
	hint = max(hint, minRoundBytes)
	for i := len(l.freeBufs) - 1; i >= 0; i-- {
		if b := l.freeBufs[i]; cap(b) >= hint {
			l.freeBufs = append(l.freeBufs[:i], l.freeBufs[i+1:]...)
			return b[:0]
		}
	}
	return make([]byte, 0, hint)
}

func (l *Log) putBuf(b []byte) {
	if cap(b) > keepBufBytes {
		return
	}
	if len(l.freeBufs) == keepBufs {
		l.freeBufs = l.freeBufs[1:]
	}
	l.freeBufs = append(l.freeBufs, b[:0])
}

func maybeCompress(b []byte) ([]byte, bool) {
	if len(b) < minCompressBytes {
		return b, false
	}
	c := snappy.Encode(nil, b)
	if !worthCompressing(len(c), len(b)) {
		return b, false
	}
	return c, true
}

// worthCompressing: a body is stored compressed only when snappy saves at
// least an eighth of it. Less is not worth decoding on every cold read, and
// a stream of such bodies must count as failures for compress to stop
// trying: batches of random records, which snappy shrinks by a few percent,
// counted as successes before, so snappy ran on every entry (4.3% of `sluice
// dev`'s CPU taking 42 MB/s in sluice bench -profile cpu).
func worthCompressing(compressed, raw int) bool {
	return compressed <= raw-raw/8
}

func encodeHardState(h *pb.HardState) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint64(b, h.GetTerm())
	binary.LittleEndian.PutUint64(b[8:], h.GetVote())
	binary.LittleEndian.PutUint64(b[16:], h.GetCommit())
	return b
}

func encodeConfState(c *pb.ConfState) []byte {
	b, err := proto.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("raftlog: marshal conf state: %v", err))
	}
	return b
}

type payload struct {
	compressed bool
	header     []byte
	body       []byte
}

func encodeState(s State) payload {
	body, c := maybeCompress(s.Data)
	return payload{compressed: c, header: []byte{s.Kind}, body: body}
}

func encodeSnapshot(s *pb.Snapshot, reset bool) payload {
	cs := encodeConfState(pb.EnsureConfState(s.GetMetadata().GetConfState()))
	h := make([]byte, 21, 21+len(cs))
	binary.LittleEndian.PutUint64(h, s.GetMetadata().GetIndex())
	binary.LittleEndian.PutUint64(h[8:], s.GetMetadata().GetTerm())
	if reset {
		h[16] = 1
	}
	binary.LittleEndian.PutUint32(h[17:], uint32(len(cs)))
	h = append(h, cs...)
	body, c := maybeCompress(s.GetData())
	return payload{compressed: c, header: h, body: body}
}

// emit writes one frame into the active segment, rolling first when it does
// not fit. It accepts a []byte or a payload.
func (l *Log) emit(r *Round, typ recordType, p any) (int64, *segment, error) {
	switch p := p.(type) {
	case []byte:
		return l.emitParts(r, typ, false, p, nil, KnownCRC{})
	case payload:
		return l.emitParts(r, typ, p.compressed, p.header, p.body, KnownCRC{})
	}
	panic("raftlog: emit of unknown payload")
}

// rollSlackBytes keeps room for the seal and a sync mark past SegmentBytes.
const rollSlackBytes = 2 * (frameHeaderSize + 16)

func (l *Log) emitParts(r *Round, typ recordType, compressed bool, header, body []byte, tail KnownCRC) (int64, *segment, error) {
	n := int64(frameHeaderSize + len(header) + len(body))
	s := l.active()
	if s.size > s.base && s.size+n+rollSlackBytes > l.opts.SegmentBytes {
		if err := l.roll(r); err != nil {
			return 0, nil, err
		}
		s = l.active()
	}
	return l.writeTo(r, s, typ, compressed, header, body, tail), s, nil
}

// zeroCopyBytes: a raw body this large is written from the entry's own
// memory (its WriteOp aliases it) rather than copied into the round's
// buffer; WriteAll writes it with its neighbours in one vectored call.
const zeroCopyBytes = 4 << 10

// writeTo appends a frame to segment s within round r and returns its
// position. The first write of a round to a segment is preceded by a sync
// mark when the segment became more durable since the last mark.
func (l *Log) writeTo(r *Round, s *segment, typ recordType, compressed bool, header, body []byte, tail KnownCRC) int64 {
	if r.cur != s {
		r.flush()
		r.cur, r.pend, r.pendOff = s, 0, s.size
		r.buf = l.takeBuf(r.sizeHint)
		if s.durable > s.marked && typ != recSegmentHeader {
			var m [16]byte
			binary.LittleEndian.PutUint64(m[:], s.gen)
			binary.LittleEndian.PutUint64(m[8:], uint64(s.durable))
			r.buf = appendFrame(r.buf, recSyncMark, false, s.gen, m[:], nil)
			s.size += frameHeaderSize + 16
			s.marked = s.durable
		}
	}
	pos := s.size
	s.size += int64(frameHeaderSize + len(header) + len(body))
	if compressed || len(body) < zeroCopyBytes {
		r.buf = appendFrame(r.buf, typ, compressed, s.gen, header, body)
		return pos
	}
	r.buf = appendFrameHead(r.buf, typ, compressed, s.gen, header, body, tail)
	r.cut()
	r.Writes = append(r.Writes, WriteOp{File: s.f, Off: r.pendOff, Data: body})
	r.pendOff += int64(len(body))
	return pos
}

// cut turns the buffered bytes not yet in a WriteOp into one.
func (r *Round) cut() {
	if n := len(r.buf); n > r.pend {
		r.Writes = append(r.Writes, WriteOp{File: r.cur.f, Off: r.pendOff, Data: r.buf[r.pend:n:n]})
		r.pendOff += int64(n - r.pend)
		r.pend = n
	}
}

// flush turns the round's buffered frames for its current segment into a
// write.
func (r *Round) flush() {
	if r.cur == nil || len(r.buf) == 0 {
		r.cur = nil
		return
	}
	s := r.cur
	r.cut()
	r.owned = append(r.owned, r.buf)
	synced := false
	for _, f := range r.Syncs {
		synced = synced || f == s.f
	}
	if !synced {
		r.Syncs = append(r.Syncs, s.f)
	}
	if r.pendOff != s.size {
		panic(fmt.Sprintf("raftlog: segment %d: round wrote up to %d, segment size %d", s.gen, r.pendOff, s.size))
	}
	r.ends = append(r.ends, segEnd{seg: s, end: r.pendOff})
	r.cur, r.buf = nil, nil
}

func (l *Log) writeSeal(r *Round, s *segment) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], l.last+1)
	l.writeTo(r, s, recSeal, false, b[:], nil, KnownCRC{})
	s.sealed = true
}

// closeSegment turns a sealed segment into a closed one and schedules its
// index file.
func (l *Log) closeSegment(r *Round, s *segment) {
	d := s.dense
	s.buildSparse(l.opts.IndexIntervalBytes)
	if s.closing == nil {
		l.recycleDense(d)
	}
	// The index's bytes come from, and go back to, the write buffers: at
	// 64 MiB of 1 KiB entries they are 384 KiB, fresh memory to fault in at
	// every roll otherwise.
	b := encodeIndex(l.takeBuf(indexBytes(s)), s, l.opts.writeVersion)
	r.owned = append(r.owned, b)
	r.Files = append(r.Files, FileWrite{Path: l.path(indexName(s.gen)), Data: b, Cache: true})
	l.ckptDirty = true
}

// recycleDense hands d, the dense index array of a closed segment no reader
// needs any more, to the active segment: its index moves into d when d is
// larger (it began in a small array at the roll, see roll), or starts there
// if it has none yet; otherwise d is kept as a spare for the next segment.
// Each roll used to allocate a fresh array as large as the last (2.5 MB for
// 64 MiB of 1 KiB entries), and faulting that memory in cost about as much
// as the roll's syncs on this project's VM (~14 µs a page): a fifth of
// Append's time at 1 KiB × 256, in BenchmarkAppend's fault profile.
func (l *Log) recycleDense(d []entryPos) {
	if s := l.active(); s.dense != nil && cap(d) > cap(s.dense) {
		s.dense = append(d[:0], s.dense...)
		return
	}
	if cap(d) > cap(l.spareDense) {
		l.spareDense = d[:0]
	}
}

// roll seals the active segment and starts a new one that begins with a
// copy of the log's state.
func (l *Log) roll(r *Round) error {
	// The new segment's dense index starts as large as the last one ended
	// (a partition's entries tend to be alike, so it will likely fill as
	// far), unless it can move into the old index's array once the round
	// completes.
	denseHint := 0
	if len(l.segs) > 0 {
		old := l.active()
		denseHint = len(old.dense)
		if !old.sealed {
			l.writeSeal(r, old)
			l.closeSegment(r, old)
		}
		if old.closing != nil {
			// The new index moves into the old one's array when this round
			// completes (recycleDense); a small array holds it until then.
			denseHint = 0
		}
	}
	gen := l.nextGen
	l.nextGen++
	p := l.path(segmentName(gen))
	f, dirs, err := l.opts.Allocator.Allocate(l.fs, p, l.opts.SegmentBytes)
	if err != nil {
		return fmt.Errorf("raftlog: allocate segment %s: %w", p, err)
	}
	s := &segment{gen: gen, path: p, f: f, first: l.last + 1, last: l.last, denseHint: denseHint}
	l.segs = append(l.segs, s)
	r.SyncDirs = append(r.SyncDirs, l.dir)
	r.SyncDirs = append(r.SyncDirs, dirs...)

	h := make([]byte, 0, len(segmentMagic)+2+16)
	h = append(h, segmentMagic...)
	h = binary.LittleEndian.AppendUint16(h, l.opts.writeVersion)
	h = binary.LittleEndian.AppendUint64(h, gen)
	h = binary.LittleEndian.AppendUint64(h, l.last+1)
	l.writeTo(r, s, recSegmentHeader, false, h, nil, KnownCRC{})
	if l.snap.GetMetadata().GetIndex() > 0 || len(l.snap.GetData()) > 0 {
		p := encodeSnapshot(l.snap, false)
		l.writeTo(r, s, recSnapshot, p.compressed, p.header, p.body, KnownCRC{})
	}
	if l.csExplicit {
		l.writeTo(r, s, recConfState, false, encodeConfState(l.cs), nil, KnownCRC{})
	}
	for _, st := range l.states {
		p := encodeState(st)
		l.writeTo(r, s, recState, p.compressed, p.header, p.body, KnownCRC{})
	}
	if !raft.IsEmptyHardState(l.hs) {
		l.writeTo(r, s, recHardState, false, encodeHardState(l.hs), nil, KnownCRC{})
	}
	s.base = s.size
	l.ckptDirty = true
	return nil
}

// finishRound flushes the round and, when segments were closed or dropped,
// adds a checkpoint and the removal of dead segments; then settles whether
// it syncs.
func (l *Log) finishRound(r *Round) {
	r.flush()
	r.last = l.last
	defer l.settleSync(r)
	if !l.ckptDirty {
		return
	}
	l.ckptDirty = false
	live := l.segs[:0]
	for i, s := range l.segs {
		if i < len(l.segs)-1 && s.empty() {
			l.dead = append(l.dead, s)
			continue
		}
		live = append(live, s)
	}
	clear(l.segs[len(live):])
	l.segs = live
	r.Files = append(r.Files, FileWrite{Path: l.path(checkpointFn), Data: encodeCheckpoint(l.checkpoint(), l.opts.writeVersion)})
	for _, s := range l.dead {
		r.Removes = append(r.Removes, s.path, l.path(indexName(s.gen)))
		if s.f != nil {
			r.closes = append(r.closes, s.f)
			s.f = nil
		}
	}
	l.dead = l.dead[:0]
}

// settleSync makes r relaxed (no Syncs) when its caller allowed it and it
// neither rolled a segment nor replaces files; otherwise r syncs, and also
// syncs the active segment when earlier relaxed rounds left it unsynced
// (relaxed rounds write only to the active segment: a roll is never
// relaxed).
func (l *Log) settleSync(r *Round) {
	if r.relaxed && len(r.SyncDirs) == 0 && len(r.Files) == 0 && len(r.Removes) == 0 {
		r.Syncs = r.Syncs[:0]
		r.synced = false
		l.unsyncedEntries += r.entries
		l.unsyncedData = l.unsyncedData || len(r.Writes) > 0
		return
	}
	r.synced = true
	if l.unsyncedData {
		s := l.active()
		if !slices.Contains(r.Syncs, s.f) {
			r.Syncs = append(r.Syncs, s.f)
			r.ends = append(r.ends, segEnd{seg: s, end: s.size})
		}
	}
	l.unsyncedEntries, l.unsyncedData = 0, false
}

func (l *Log) checkpoint() checkpoint {
	c := checkpoint{scanFrom: l.active().gen, nextGen: l.nextGen}
	var closedLast uint64
	for _, s := range l.segs[:len(l.segs)-1] {
		if !s.sealed {
			panic(fmt.Sprintf("raftlog: %s: closed segment %d not sealed", l.dir, s.gen))
		}
		c.closed = append(c.closed, closedInfo{
			gen: s.gen, first: s.first, last: s.last, size: s.size,
			hasRecords: s.hasRecords, firstOffset: s.firstOffset, nextOffset: s.nextOffset, maxTs: s.maxTs,
		})
		closedLast = s.last
	}
	for _, t := range l.terms {
		if len(c.closed) == 0 || t.index > closedLast {
			break
		}
		c.terms = append(c.terms, t)
	}
	return c
}

// Compact records a snapshot of the partition's state at index (raft log
// compaction): FirstIndex becomes index+1. Entries below stay on disk, and
// readable with ReadEntries, until DeleteBefore removes their segments.
func (l *Log) Compact(index uint64, cs *pb.ConfState, data []byte) (*Round, error) {
	if l.err != nil {
		return nil, l.err
	}
	if index <= l.snap.GetMetadata().GetIndex() {
		return nil, raft.ErrSnapOutOfDate
	}
	if index > l.last {
		return nil, fmt.Errorf("raftlog: compact %d beyond last index %d", index, l.last)
	}
	term, _ := l.termAt(index)
	if cs == nil {
		cs = l.cs
	}
	snap := &pb.Snapshot{
		Data:     append([]byte(nil), data...),
		Metadata: &pb.SnapshotMetadata{Index: new(index), Term: new(term), ConfState: proto.Clone(cs).(*pb.ConfState)},
	}
	if len(data) == 0 {
		snap.Data = nil
	}
	r := l.newRound()
	if _, _, err := l.emit(r, recSnapshot, encodeSnapshot(snap, false)); err != nil {
		return nil, l.fail(err)
	}
	l.snap = snap
	if !l.csExplicit {
		l.cs = snap.Metadata.ConfState
	}
	l.finishRound(r)
	return r, nil
}

// DeleteBefore is retention: it removes closed segments whose entries all
// lie below index and below FirstIndex. It returns nil when nothing can go.
func (l *Log) DeleteBefore(index uint64) (*Round, error) {
	if l.err != nil {
		return nil, l.err
	}
	limit := min(index, l.firstIndex())
	n := 0
	for _, s := range l.segs[:len(l.segs)-1] {
		if !s.empty() && s.last >= limit {
			break
		}
		n++
	}
	if n == 0 {
		return nil, nil
	}
	l.dead = append(l.dead, l.segs[:n]...)
	l.segs = append(l.segs[:0:0], l.segs[n:]...)
	oldest := l.oldestIndex()
	k := 0
	for k+1 < len(l.terms) && l.terms[k+1].index <= oldest {
		k++
	}
	l.terms = append(l.terms[:0:0], l.terms[k:]...)
	r := l.newRound()
	l.ckptDirty = true
	l.finishRound(r)
	return r, nil
}

// oldestIndex is the first entry still on disk.
func (l *Log) oldestIndex() uint64 {
	for _, s := range l.segs {
		if !s.empty() {
			return s.first
		}
	}
	return l.firstIndex()
}

func (l *Log) evictTail() {
	budget := l.opts.TailCacheBytes
	n := 0
	for l.tailBytes > budget && n < len(l.tail) && l.tailFirst+uint64(n) <= l.stable {
		l.tailBytes -= int64(entrySize(l.tail[n]))
		n++
	}
	if n > 0 {
		clear(l.tail[:n])
		l.tail = l.tail[n:]
		l.tailFirst += uint64(n)
	}
}
