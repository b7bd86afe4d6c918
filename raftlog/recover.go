package raftlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"sluice/raftlog/vfs"
)

func (l *Log) recover() error {
	names, err := l.fs.List(l.dir)
	if err != nil {
		return fmt.Errorf("raftlog: list %s: %w", l.dir, err)
	}
	var gens []uint64
	var removes []string
	hasCkpt := false
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, tmpSuffix):
			removes = append(removes, l.path(n))
		case n == checkpointFn:
			hasCkpt = true
		default:
			if g, ok := parseGen(n, segmentExt); ok {
				gens = append(gens, g)
			}
		}
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i] < gens[j] })

	var ck checkpoint
	if hasCkpt {
		// A checkpoint that does not decode is read again before it is
		// believed, as a frame is (reread): a flipped bit on the way must
		// not fail the open.
		for k := 0; ; k++ {
			b, err := readFile(l.fs, l.path(checkpointFn))
			if err != nil {
				return fmt.Errorf("raftlog: %s: %w", l.path(checkpointFn), err)
			}
			if ck, err = decodeCheckpoint(b); err == nil {
				break
			} else if k == rereadTries {
				return fmt.Errorf("raftlog: %s: %w", l.path(checkpointFn), err)
			}
		}
	}
	if ck.nextGen > l.nextGen {
		l.nextGen = ck.nextGen
	}
	if n := len(gens); n > 0 && gens[n-1] >= l.nextGen {
		l.nextGen = gens[n-1] + 1
	}
	if err := l.loadClosed(ck, gens); err != nil {
		return err
	}

	closed := make(map[uint64]bool, len(ck.closed))
	for _, c := range ck.closed {
		closed[c.gen] = true
	}
	var scan []uint64
	for _, g := range gens {
		switch {
		case closed[g]:
		case g >= ck.scanFrom:
			scan = append(scan, g)
		default:
			// Dead before the checkpoint was written: removal did not finish.
			removes = append(removes, l.path(segmentName(g)), l.path(indexName(g)))
		}
	}
	dropped, err := l.replay(scan)
	if err != nil {
		return err
	}
	// Dropped segments go before recovery writes anything: if recovery
	// itself crashed after sealing the torn segment, a surviving dropped
	// segment would be replayed as live on the next open.
	if len(dropped) > 0 {
		for _, p := range dropped {
			if err := l.fs.Remove(p); err != nil && !errors.Is(err, vfs.ErrNotExist) {
				return fmt.Errorf("raftlog: remove %s: %w", p, err)
			}
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			return fmt.Errorf("raftlog: sync dir %s: %w", l.dir, err)
		}
	}
	return l.finishRecovery(removes)
}

// loadClosed opens the segments the checkpoint lists as closed.
func (l *Log) loadClosed(ck checkpoint, gens []uint64) error {
	present := make(map[uint64]bool, len(gens))
	for _, g := range gens {
		present[g] = true
	}
	l.terms = append(l.terms[:0], ck.terms...)
	for i, c := range ck.closed {
		p := l.path(segmentName(c.gen))
		if !present[c.gen] {
			return fmt.Errorf("%w: %s: closed segment %d missing", ErrCorrupt, l.dir, c.gen)
		}
		if i > 0 && c.first != l.last+1 {
			return fmt.Errorf("%w: %s: closed segment %d starts at %d, want %d", ErrCorrupt, l.dir, c.gen, c.first, l.last+1)
		}
		f, err := l.fs.Open(p)
		if err != nil {
			return fmt.Errorf("raftlog: open %s: %w", p, err)
		}
		s := &segment{
			gen: c.gen, path: p, f: f, first: c.first, last: c.last,
			size: c.size, written: c.size, durable: c.size, marked: c.size, sealed: true,
			hasRecords: c.hasRecords, firstOffset: c.firstOffset, nextOffset: c.nextOffset, maxTs: c.maxTs,
		}
		l.segs = append(l.segs, s)
		if err := l.loadIndex(s); err != nil {
			return err
		}
		l.last = c.last
	}
	if len(ck.closed) > 0 {
		// Entries below the first closed segment are gone; so is their snapshot
		// until the scan finds the carried-over copy.
		// The scan finds the carried-over snapshot; until then the log starts
		// at the first closed entry.
		l.snap.Metadata.Index = new(ck.closed[0].first - 1)
	}
	return nil
}

// loadIndex reads a closed segment's index file, rebuilding it from the
// segment when it is missing or damaged (the segment itself is known good).
func (l *Log) loadIndex(s *segment) error {
	b, err := readFile(l.fs, l.path(indexName(s.gen)))
	if err == nil {
		if err = decodeIndex(b, s); err == nil {
			return nil
		}
	}
	return l.rebuildIndex(s)
}

// rebuildIndex scans a closed segment strictly: every frame up to its
// recorded size must be valid.
func (l *Log) rebuildIndex(s *segment) error {
	sc, err := newScanner(s.f, s.gen, 0)
	if err != nil {
		return err
	}
	var dense []entryPos
	var first uint64
	s.dead = nil
	for sc.pos < s.size {
		pos, fr, err := sc.next()
		sc, fr, err = reread(sc, s.f, s.gen, pos, fr, err)
		if err != nil {
			if errors.Is(err, errInvalidFrame) {
				return fmt.Errorf("%w: corrupt record at segment %d offset %d (%s)", ErrCorrupt, s.gen, pos, s.path)
			}
			return err
		}
		if !isEntry(fr.typ) {
			continue
		}
		h, _, err := getEntryHeader(fr)
		if err != nil {
			return fmt.Errorf("segment %d offset %d: %w", s.gen, pos, err)
		}
		if h.index < s.first || h.index > s.last {
			continue
		}
		if len(dense) > 0 && h.index < first+uint64(len(dense)) {
			n := uint64(0) // a frame below the first supersedes them all
			if h.index > first {
				n = h.index - first
			}
			s.dead = append(s.dead, deadRange{start: dense[n].pos, end: pos})
			dense = dense[:n]
		}
		if len(dense) == 0 {
			first = h.index
		}
		dense = append(dense, entryPos{pos: pos, meta: h.meta})
	}
	if len(dense) == 0 || first != s.first || first+uint64(len(dense))-1 != s.last {
		return fmt.Errorf("%w: segment %d holds entries [%d,%d], checkpoint says [%d,%d]",
			ErrCorrupt, s.gen, first, first+uint64(len(dense))-1, s.first, s.last)
	}
	s.dense = dense
	s.buildSparse(l.opts.IndexIntervalBytes)
	return nil
}

// replay scans the given segments in order, applying their frames. It
// returns the files of segments dropped after a torn tail.
func (l *Log) replay(gens []uint64) ([]string, error) {
	marks := make(map[uint64]int64)
	for i, g := range gens {
		p := l.path(segmentName(g))
		f, err := l.fs.OpenReadWrite(p)
		if err != nil {
			return nil, fmt.Errorf("raftlog: open %s: %w", p, err)
		}
		s := &segment{gen: g, path: p, f: f, first: l.last + 1, last: l.last}
		l.segs = append(l.segs, s)
		ok, err := l.replaySegment(s, marks)
		if err != nil {
			return nil, err
		}
		if !s.sealed {
			// The log ends here. Anything proved durable beyond is
			// corruption. A damaged frame hides the sync marks after it
			// from the scan, so they are searched for.
			m, err := durableBeyond(s, s.size)
			if err != nil {
				return nil, err
			}
			if m = max(m, marks[g]); m > s.size {
				return nil, fmt.Errorf("%w: corrupt record at segment %d offset %d (%s): below durable watermark %d",
					ErrCorrupt, g, s.size, p, m)
			}
		}
		if !ok {
			l.segs = l.segs[:len(l.segs)-1]
			f.Close()
		}
		if s.sealed {
			continue
		}
		var drop []string
		if !ok {
			drop = append(drop, p)
		}
		for _, h := range gens[i+1:] {
			if err := l.checkDropped(h, g, s.size); err != nil {
				return nil, err
			}
			drop = append(drop, l.path(segmentName(h)), l.path(indexName(h)))
		}
		return drop, nil
	}
	return nil, nil
}

// durableBeyond searches segment s from position from, where its scan met
// an invalid frame, for sync marks of s, and returns the largest durable
// position one records. The search ends at the first zeroed page past the
// damaged frame: the end of what was written (the rest of a preallocated
// file), since the marks that matter follow the damaged frame's round
// closely. Zeroed pages inside the frame do not end it: a raw body may hold
// zeros, and damage (a misdirected write) may zero part of a durable frame
// whose proving marks lie beyond it. The frame reaches as far as its
// length field says when that is plausible, else as far as any frame can;
// a frame whose header is all zeros was never written, and the search ends
// at its page.
func durableBeyond(s *segment, from int64) (int64, error) {
	size, err := s.f.Size()
	if err != nil {
		return 0, fmt.Errorf("raftlog: size of %s: %w", s.path, err)
	}
	const (
		chunk    = 64 << 10
		markSize = frameHeaderSize + 16
		page     = 4 << 10
	)
	zeroFrom := from // zeroed pages from here on end the search
	var h [frameHeaderSize]byte
	n, err := s.f.ReadAt(h[:], from)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("raftlog: read %s at %d: %w", s.path, from, err)
	}
	if n == len(h) && h != ([frameHeaderSize]byte{}) {
		n := int64(maxFramePayload)
		if l := frameLength(h[:]); l >= 0 {
			n = int64(l)
		}
		zeroFrom = from + frameHeaderSize + n
	}
	// A sync mark of s from its length field on: length, type, generation,
	// marked generation.
	var pat [4 + 1 + 8 + 8]byte
	binary.LittleEndian.PutUint32(pat[0:], 16)
	pat[4] = byte(recSyncMark)
	binary.LittleEndian.PutUint64(pat[5:], s.gen)
	binary.LittleEndian.PutUint64(pat[13:], s.gen)
	var zeros [page]byte
	buf := make([]byte, chunk+markSize)
	var best int64
	for off := from; off < size; off += chunk {
		b := buf[:min(int64(len(buf)), size-off)]
		if n, err := s.f.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
			return 0, fmt.Errorf("raftlog: read %s at %d: %w", s.path, off, err)
		}
		for k := 0; ; {
			i := bytes.Index(b[k:], pat[:])
			if i < 0 {
				break
			}
			q := k + i - 4 // the frame's start
			k += i + 1
			if q < 0 || q+markSize > len(b) {
				continue // in the previous or the next chunk
			}
			if fr, err := decodeFrame(b[q:q+markSize], s.gen); err == nil && fr.typ == recSyncMark {
				best = max(best, int64(binary.LittleEndian.Uint64(fr.payload[8:])))
			}
		}
		end := off + min(chunk, int64(len(b)))
		for p := (max(off, zeroFrom) + page - 1) / page * page; p+page <= end; p += page {
			if bytes.Equal(b[p-off:p-off+page], zeros[:]) {
				return best, nil
			}
		}
	}
	return best, nil
}

// checkDropped scans a segment that follows a torn one for sync marks that
// would prove the torn bytes durable.
func (l *Log) checkDropped(gen, tornGen uint64, tornAt int64) error {
	p := l.path(segmentName(gen))
	f, err := l.fs.Open(p)
	if err != nil {
		return fmt.Errorf("raftlog: open %s: %w", p, err)
	}
	defer f.Close()
	sc, err := newScanner(f, gen, 0)
	if err != nil {
		return err
	}
	for {
		pos, fr, err := sc.next()
		sc, fr, err = reread(sc, f, gen, pos, fr, err)
		if err != nil {
			if errors.Is(err, errInvalidFrame) {
				return nil
			}
			return err
		}
		if fr.typ != recSyncMark || len(fr.payload) < 16 {
			continue
		}
		g := binary.LittleEndian.Uint64(fr.payload)
		m := int64(binary.LittleEndian.Uint64(fr.payload[8:]))
		if (g == tornGen && m > tornAt) || (g > tornGen && m > 0) {
			return fmt.Errorf("%w: corrupt record at segment %d offset %d: segment %d proves it durable",
				ErrCorrupt, tornGen, tornAt, gen)
		}
	}
}

// rereadTries is how many more times recovery reads a frame that does not
// decode before it believes it (replaySegment).
const rereadTries = 4

// reread reads the frame at pos of file f (generation gen) again, up to
// rereadTries times, when sc's last read of it did not decode (err is
// errInvalidFrame), and returns the scanner to go on with. A torn or damaged frame reads the same each
// time; a read that went wrong on the way (a flipped bit) does not.
func reread(sc *scanner, f vfs.File, gen uint64, pos int64, fr frame, err error) (*scanner, frame, error) {
	for k := 0; k < rereadTries && errors.Is(err, errInvalidFrame); k++ {
		again, aerr := newScanner(f, gen, pos)
		if aerr != nil {
			break
		}
		if apos, afr, err2 := again.next(); err2 == nil && apos == pos {
			sc, fr, err = again, afr, nil
		}
	}
	return sc, fr, err
}

// replaySegment applies the frames of one segment. ok is false when the
// segment has no valid header (a crash during its creation).
func (l *Log) replaySegment(s *segment, marks map[uint64]int64) (ok bool, err error) {
	sc, err := newScanner(s.f, s.gen, 0)
	if err != nil {
		return false, err
	}
	for {
		pos, fr, err := sc.next()
		// A frame that does not decode is a torn write, or a read that went
		// wrong on the way from the disk (a bit flipped on the bus). Read it
		// again before cutting the log there: a torn write reads the same
		// each time, and cutting durable records on a transient error loses
		// them. One more read was not enough: with a flaky bus (the
		// simulator flips up to a fifth of a broker's reads) two in a row
		// went wrong often enough that a reopened partition lost its only
		// copy of the hard state, reopened with its commit index below its
		// applied index, and raft refused it (large-records -swarm, seed
		// 205).
		sc, fr, err = reread(sc, s.f, s.gen, pos, fr, err)
		if err != nil {
			if errors.Is(err, errInvalidFrame) {
				s.size = pos
				s.written, s.durable, s.marked = pos, pos, pos
				return pos > 0, nil
			}
			return false, err
		}
		if pos == 0 {
			if fr.typ != recSegmentHeader || len(fr.payload) < len(segmentMagic)+2+16 ||
				string(fr.payload[:len(segmentMagic)]) != segmentMagic {
				s.size = 0
				return false, nil
			}
			if v := binary.LittleEndian.Uint16(fr.payload[len(segmentMagic):]); v < minFormatVersion || v > formatVersion {
				return false, fmt.Errorf("raftlog: %s: unsupported format version %d (this build reads %d to %d)", s.path, v, minFormatVersion, formatVersion)
			}
			l.startAt(s, binary.LittleEndian.Uint64(fr.payload[len(segmentMagic)+2+8:]))
			continue
		}
		if err := l.replayFrame(s, pos, fr, marks); err != nil {
			return false, fmt.Errorf("%w (segment %d offset %d, %s)", err, s.gen, pos, s.path)
		}
		s.size = sc.pos
		if fr.typ == recSeal {
			s.sealed = true
			s.size = sc.pos
			s.written, s.durable, s.marked = s.size, s.size, s.size
			return true, nil
		}
	}
}

func (l *Log) replayFrame(s *segment, pos int64, fr frame, marks map[uint64]int64) error {
	p := fr.payload
	switch fr.typ {
	case recEntry, recEntryV2:
		h, _, err := getEntryHeader(fr)
		if err != nil {
			return err
		}
		if h.index == math.MaxUint64 {
			return fmt.Errorf("%w: entry index %d", ErrCorrupt, h.index)
		}
		if h.index <= l.snap.GetMetadata().GetIndex() {
			return fmt.Errorf("%w: entry %d at or below snapshot %d", ErrCorrupt, h.index, l.snap.GetMetadata().GetIndex())
		}
		if h.index <= l.last {
			l.truncateMem(h.index)
		}
		if h.index != l.last+1 {
			return fmt.Errorf("%w: entry %d after %d", ErrCorrupt, h.index, l.last)
		}
		l.addEntry(s, h, pos)
	case recHardState:
		if len(p) < 24 {
			return fmt.Errorf("%w: hard state of %d bytes", ErrCorrupt, len(p))
		}
		l.hs = &pb.HardState{
			Term:   new(binary.LittleEndian.Uint64(p)),
			Vote:   new(binary.LittleEndian.Uint64(p[8:])),
			Commit: new(binary.LittleEndian.Uint64(p[16:])),
		}
	case recConfState:
		cs := &pb.ConfState{}
		if err := proto.Unmarshal(p, cs); err != nil {
			return fmt.Errorf("%w: conf state: %v", ErrCorrupt, err)
		}
		l.cs = cs
		l.csExplicit = true
	case recSnapshot:
		snap, reset, err := decodeSnapshot(fr)
		if err != nil {
			return err
		}
		// A snapshot beyond the last entry can only be the carried-over copy
		// of one that replaced the log: it is a reset too.
		if reset || snap.GetMetadata().GetIndex() > l.last {
			l.resetMem(s, pos, snap)
		} else {
			l.snap = snap
			if !l.csExplicit {
				l.cs = snap.GetMetadata().GetConfState()
			}
		}
	case recSyncMark:
		if len(p) < 16 {
			return fmt.Errorf("%w: sync mark of %d bytes", ErrCorrupt, len(p))
		}
		g := binary.LittleEndian.Uint64(p)
		if m := int64(binary.LittleEndian.Uint64(p[8:])); m > marks[g] {
			marks[g] = m
		}
	case recState:
		if len(p) < 1 {
			return fmt.Errorf("%w: empty state record", ErrCorrupt)
		}
		data := p[1:]
		if fr.snappy {
			d, err := unsnappy(data)
			if err != nil {
				return fmt.Errorf("%w: state: %v", ErrCorrupt, err)
			}
			data = d
		} else {
			data = append([]byte(nil), data...)
		}
		l.setState(State{Kind: p[0], Data: data})
	case recSeal, recSegmentHeader:
	}
	return nil
}

// startAt applies a segment header's next index: when no live entry
// precedes the segment (retention deleted the segments before it), the log
// starts there. The snapshot frame carried over, or written later in the
// segment, sets the real snapshot.
func (l *Log) startAt(s *segment, next uint64) {
	for _, o := range l.segs {
		if !o.empty() {
			return
		}
	}
	if next == 0 || next-1 <= l.last {
		return
	}
	l.last = next - 1
	l.terms = l.terms[:0]
	if l.snap.GetMetadata().GetIndex() < next-1 {
		l.snap.Metadata.Index = new(next - 1)
		l.snap.Metadata.Term = new(uint64(0))
	}
	for _, o := range l.segs {
		o.first, o.last = next, next-1
	}
}

// addEntry records entry h at pos of the active (or scanned) segment s.
func (l *Log) addEntry(s *segment, h entryHeader, pos int64) {
	if s.empty() {
		s.first = h.index
	}
	if s.dense == nil && l.spareDense != nil {
		s.dense, l.spareDense = l.spareDense, nil
	}
	s.dense = appendDense(s.dense, entryPos{pos: pos, meta: h.meta}, s.denseHint)
	s.last = h.index
	s.addRecords(h.meta)
	l.last = h.index
	l.pushTerm(h.index, h.term)
}

// truncateMem drops entries from index i on, in memory: a conflicting append.
func (l *Log) truncateMem(i uint64) {
	for k := len(l.segs) - 1; k >= 0; k-- {
		s := l.segs[k]
		if s.empty() {
			continue
		}
		if s.last < i {
			break
		}
		cut := i
		if cut < s.first {
			cut = s.first
		}
		if s.dense != nil {
			n := cut - s.first
			s.dead = append(s.dead, deadRange{start: s.dense[n].pos, end: s.size})
			s.dense = s.dense[:n]
			s.recomputeRecords()
		}
		s.last = cut - 1
		if s.empty() {
			// Keep first/last non-decreasing across segments for searches.
			s.first, s.last = i, i-1
		}
	}
	l.last = i - 1
	for n := len(l.terms); n > 0 && l.terms[n-1].index >= i; n-- {
		l.terms = l.terms[:n-1]
	}
	if i < l.tailFirst {
		l.tail, l.tailBytes, l.tailFirst = nil, 0, i
	} else if n := i - l.tailFirst; n < uint64(len(l.tail)) {
		for _, e := range l.tail[n:] {
			l.tailBytes -= int64(entrySize(e))
		}
		clear(l.tail[n:])
		l.tail = l.tail[:n]
	}
	if l.stable >= i {
		l.stable = i - 1
	}
	if l.synced >= i {
		l.synced = i - 1
	}
	for _, r := range l.inflight {
		if r.last >= i {
			r.last = i - 1
		}
	}
}

// recomputeRecords rebuilds a dense segment's offset summary after a cut.
func (s *segment) recomputeRecords() {
	s.hasRecords = false
	s.maxTs = 0
	for _, e := range s.dense {
		s.addRecords(e.meta)
	}
}

// resetMem applies a snapshot from the leader: every entry is dropped. cur
// is the segment being written (the last of l.segs) and pos the position of
// the snapshot frame in it.
func (l *Log) resetMem(cur *segment, pos int64, snap *pb.Snapshot) {
	for _, s := range l.segs {
		if s.dense != nil {
			end := s.size
			if s == cur {
				end = pos
			}
			s.dead = append(s.dead, deadRange{start: 0, end: end})
			s.dense = nil
		}
		s.hasRecords = false
	}
	idx := snap.GetMetadata().GetIndex()
	for _, s := range l.segs {
		s.first, s.last = idx+1, idx
	}
	cur.first, cur.last = idx+1, idx
	l.last = idx
	l.terms = append(l.terms[:0], termRun{index: idx, term: snap.GetMetadata().GetTerm()})
	clear(l.tail)
	l.tail, l.tailBytes, l.tailFirst = l.tail[:0], 0, idx+1
	if l.stable > idx {
		l.stable = idx
	}
	if l.synced > idx {
		l.synced = idx
	}
	for _, r := range l.inflight {
		if r.last > idx {
			r.last = idx
		}
	}
	l.snap = snap
	l.cs = snap.GetMetadata().GetConfState()
	l.csExplicit = false
}

func decodeSnapshot(fr frame) (*pb.Snapshot, bool, error) {
	p := fr.payload
	if len(p) < 21 {
		return nil, false, fmt.Errorf("%w: snapshot of %d bytes", ErrCorrupt, len(p))
	}
	idx := binary.LittleEndian.Uint64(p)
	term := binary.LittleEndian.Uint64(p[8:])
	reset := p[16] == 1
	if idx == math.MaxUint64 {
		// The first index after it must exist.
		return nil, false, fmt.Errorf("%w: snapshot index %d", ErrCorrupt, idx)
	}
	n := binary.LittleEndian.Uint32(p[17:])
	if uint64(n) > uint64(len(p)-21) {
		return nil, false, fmt.Errorf("%w: snapshot conf state length %d", ErrCorrupt, n)
	}
	cs := &pb.ConfState{}
	if err := proto.Unmarshal(p[21:21+n], cs); err != nil {
		return nil, false, fmt.Errorf("%w: snapshot conf state: %v", ErrCorrupt, err)
	}
	data := p[21+n:]
	if fr.snappy {
		d, err := unsnappy(data)
		if err != nil {
			return nil, false, fmt.Errorf("%w: snapshot data: %v", ErrCorrupt, err)
		}
		data = d
	} else {
		data = append([]byte(nil), data...)
	}
	if len(data) == 0 {
		data = nil
	}
	return &pb.Snapshot{
		Data:     data,
		Metadata: &pb.SnapshotMetadata{Index: new(idx), Term: new(term), ConfState: cs},
	}, reset, nil
}

// finishRecovery seals what the scan left open, writes index files and a
// checkpoint, starts a fresh active segment, all durably, and removes dead
// files.
func (l *Log) finishRecovery(removes []string) error {
	r := l.newRound()
	for _, s := range l.segs {
		if s.dense != nil || !s.sealed {
			// A scanned segment may hold frames written but never synced
			// (the process died, the page cache survived): it becomes a
			// closed, trusted segment only once synced.
			r.Syncs = append(r.Syncs, s.f)
			if !s.sealed {
				l.writeSeal(r, s)
			}
			l.closeSegment(r, s)
		}
	}
	if err := l.roll(r); err != nil {
		return err
	}
	l.finishRound(r)
	r.Removes = append(r.Removes, removes...)
	err := r.Run(l.fs)
	if err := l.Complete(r, err); err != nil {
		return err
	}
	l.stable, l.synced = l.last, l.last
	l.tailFirst = l.last + 1
	return nil
}

// readFile reads a whole small file.
func readFile(fs vfs.FS, path string) ([]byte, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, err
	}
	if n > 1<<30 {
		return nil, fmt.Errorf("raftlog: %s: %d bytes is too large", path, n)
	}
	b := make([]byte, n)
	m, err := f.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && int64(m) == n) {
		return nil, err
	}
	return b, nil
}
