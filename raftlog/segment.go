package raftlog

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"sluice/raftlog/vfs"
)

// segment is one segment file and what the log knows about it in memory.
// The active segment keeps a dense index (one position per live entry);
// closed segments keep only a sparse offset index and a time index, so
// memory grows with bytes retained divided by the index interval, not with
// the number of entries.
type segment struct {
	gen  uint64
	path string
	f    vfs.File

	// first and last are the live entry range [first, last]; the range is
	// empty when last < first. Entries of later generations (conflicting
	// appends, resets) shrink it; it never grows once the segment is closed.
	first, last uint64

	size    int64 // bytes of frames written (the next write position)
	written int64 // bytes written by completed rounds (readable; maybe not synced)
	durable int64 // bytes known durable: synced by completed rounds
	marked  int64 // durable position last recorded in a sync mark
	sealed  bool
	base    int64 // size after the header and carried-over state

	// Active segment: dense[i] is the frame of entry first+i. denseHint is
	// the capacity its first array gets when it finds no spare one (see
	// roll and recycleDense).
	dense     []entryPos
	denseHint int

	// closing keeps a closed segment's dense index until the round that
	// sealed it completes: until then its last frames may not be in the file,
	// so FindOffset and FindTimestamp must not scan it.
	closing []entryPos

	// Closed segment.
	sparse []sparsePoint
	times  []timePoint
	// dead holds byte ranges of frames superseded by a later append in the
	// same segment; scans skip them.
	dead []deadRange

	// Offsets and times of the entries with records, for skipping segments.
	hasRecords  bool
	firstOffset int64
	nextOffset  int64
	maxTs       int64
}

type entryPos struct {
	pos  int64
	meta EntryMeta
}

type sparsePoint struct {
	index  uint64
	offset int64 // base offset of the entry at index
	pos    int64
}

type timePoint struct {
	ts    int64 // running maximum timestamp up to and including index
	index uint64
}

type deadRange struct{ start, end int64 }

func (s *segment) empty() bool { return s.last < s.first }

func (s *segment) isDead(pos int64) bool {
	for _, d := range s.dead {
		if pos >= d.start && pos < d.end {
			return true
		}
	}
	return false
}

func segmentName(gen uint64) string { return fmt.Sprintf("%020d%s", gen, segmentExt) }
func indexName(gen uint64) string   { return fmt.Sprintf("%020d%s", gen, indexExt) }

// parseGen returns the generation of a segment or index file name.
func parseGen(name, ext string) (uint64, bool) {
	if !strings.HasSuffix(name, ext) || len(name) != 20+len(ext) {
		return 0, false
	}
	g, err := strconv.ParseUint(strings.TrimSuffix(name, ext), 10, 64)
	return g, err == nil
}

// buildSparse turns the active segment's dense index into the sparse
// indexes a closed segment keeps. It counts the points first and fills
// arrays of exactly that size: a closed segment keeps them for as long as it
// is retained, and growing them by append faulted in about twice the memory
// at every roll (on this project's VM each fresh page costs ~14 µs to fault
// in, so 64 MiB of 1 KiB entries cost ~3 ms of faults per roll).
func (s *segment) buildSparse(intervalBytes int64) {
	ns, nt := s.indexPoints(intervalBytes, nil, nil)
	s.sparse, s.times = nil, nil
	if ns > 0 {
		s.sparse = make([]sparsePoint, 0, ns)
	}
	if nt > 0 {
		s.times = make([]timePoint, 0, nt)
	}
	s.indexPoints(intervalBytes, &s.sparse, &s.times)
	if s.written < s.size {
		s.closing = s.dense
	}
	s.dense = nil
}

// indexPoints walks the dense index and counts the sparse offset points and
// time points a closed segment keeps; with non-nil sparse and times it also
// appends them there.
func (s *segment) indexPoints(intervalBytes int64, sparse *[]sparsePoint, times *[]timePoint) (ns, nt int) {
	var lastSparse, lastTime int64 = -intervalBytes, -intervalBytes
	running, lastTs := int64(-1<<63), int64(-1<<63)
	for i, e := range s.dense {
		idx := s.first + uint64(i)
		if e.pos-lastSparse >= intervalBytes {
			if sparse != nil {
				*sparse = append(*sparse, sparsePoint{index: idx, offset: e.meta.BaseOffset, pos: e.pos})
			}
			ns++
			lastSparse = e.pos
		}
		if e.meta.Count > 0 && e.meta.MaxTimestamp > running {
			running = e.meta.MaxTimestamp
			// The time index records only some increases; a lookup scans from
			// the previous point, whose running maximum bounds every entry
			// before it.
			if e.pos-lastTime >= intervalBytes || i == len(s.dense)-1 {
				if times != nil {
					*times = append(*times, timePoint{ts: running, index: idx})
				}
				nt++
				lastTime, lastTs = e.pos, running
			}
		}
	}
	if running > -1<<63 && (nt == 0 || lastTs != running) {
		// Keep the final maximum so a search above it skips the segment.
		if times != nil {
			*times = append(*times, timePoint{ts: running, index: s.last})
		}
		nt++
	}
	return ns, nt
}

// liveDense returns the dense index of the live entries of the active
// segment, or of a closed one not yet durable; nil for others.
func (s *segment) liveDense() []entryPos {
	d := s.dense
	if d == nil {
		d = s.closing
	}
	if n := s.last + 1 - s.first; !s.empty() && uint64(len(d)) > n {
		d = d[:n]
	}
	return d
}

// appendDense appends e to a dense index, doubling its capacity when full;
// an index's first array holds hint entries. append's own growth (1.25x
// for large slices) reallocated a busy active segment's index some twenty
// times, each time on memory the runtime had to fault in afresh: at 1 KiB
// entries that cost a fifth of the append time.
func appendDense(d []entryPos, e entryPos, hint int) []entryPos {
	if len(d) == cap(d) {
		n := 2 * cap(d)
		if cap(d) == 0 {
			n = hint
		}
		nd := make([]entryPos, len(d), max(n, 256))
		copy(nd, d)
		d = nd
	}
	return append(d, e)
}

// sparseStart returns the position to scan from to find entry index.
func (s *segment) sparseStart(index uint64) int64 {
	i := sort.Search(len(s.sparse), func(i int) bool { return s.sparse[i].index > index })
	if i == 0 {
		return 0
	}
	return s.sparse[i-1].pos
}

// sparseStartOffset returns the position to scan from to find offset.
func (s *segment) sparseStartOffset(offset int64) int64 {
	i := sort.Search(len(s.sparse), func(i int) bool { return s.sparse[i].offset > offset })
	if i == 0 {
		return 0
	}
	return s.sparse[i-1].pos
}

// addRecords widens the segment's offset and time summary by one entry.
func (s *segment) addRecords(m EntryMeta) {
	if m.Count == 0 {
		return
	}
	if !s.hasRecords {
		s.hasRecords = true
		s.firstOffset = m.BaseOffset
		s.maxTs = m.MaxTimestamp
	}
	s.nextOffset = m.NextOffset()
	if m.MaxTimestamp > s.maxTs {
		s.maxTs = m.MaxTimestamp
	}
}
