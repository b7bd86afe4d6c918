package raftlog

import (
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// ReadPlan is a read of retained entries that are no longer in the tail
// cache: byte ranges of durable, immutable segment bytes, with what is
// needed to decode them. The log's owner makes it (PlanRead) and anyone may
// run it (Execute), so cold reads, snappy decompression included, happen off
// the event loop. A plan whose segment retention deleted meanwhile fails
// with an error; the reader plans again.
type ReadPlan struct {
	maxSize uint64
	parts   []planPart
}

type planPart struct {
	f      vfs.File
	gen    uint64
	path   string
	from   int64 // where to start scanning
	limit  int64 // segment bytes
	lo, hi uint64
	// positions of entries lo..hi-1 in an active segment (exact); nil for
	// a closed segment, which is scanned with its dead ranges.
	positions []int64
	dead      []deadRange
}

// maxPlanEntries bounds the positions one plan copies from the active
// segment's index.
const maxPlanEntries = 4096

// PlanRead plans reading entries [lo, hi) up to maxSize bytes from below
// the tail cache. It returns nil when lo is in the tail cache (read it with
// ReadEntries, at once). The plan covers only the cold part of the range.
func (l *Log) PlanRead(lo, hi, maxSize uint64) (*ReadPlan, error) {
	if err := l.checkRetained(lo, hi); err != nil {
		return nil, err
	}
	hi = min(hi, l.tailFirst)
	if lo >= hi {
		return nil, nil
	}
	plan := &ReadPlan{maxSize: maxSize}
	for idx := lo; idx < hi; {
		s := l.segmentFor(idx)
		if s == nil {
			return nil, l.fail(fmt.Errorf("%w: no segment holds entry %d", ErrCorrupt, idx))
		}
		end := min(hi, s.last+1)
		part := planPart{f: s.f, gen: s.gen, path: s.path, limit: s.written, lo: idx, hi: end}
		if d := s.liveDense(); d != nil {
			end = min(end, idx+maxPlanEntries)
			part.hi = end
			part.positions = make([]int64, 0, end-idx)
			for i := idx; i < end; i++ {
				part.positions = append(part.positions, d[i-s.first].pos)
			}
			part.from = part.positions[0]
		} else {
			part.from = s.sparseStart(idx)
			part.dead = append([]deadRange(nil), s.dead...)
		}
		plan.parts = append(plan.parts, part)
		idx = end
		if len(plan.parts) >= 4 || (s.dense != nil && end < min(hi, s.last+1)) {
			break // bounded: the reader asks again for the rest
		}
	}
	return plan, nil
}

// Execute runs the plan: the entries in order, at least one, up to the
// plan's maxSize. Safe to call from any goroutine.
func (p *ReadPlan) Execute() ([]*pb.Entry, error) {
	var out []*pb.Entry
	var size uint64
	for _, part := range p.parts {
		sc := &scanner{f: part.f, gen: part.gen, pos: part.from, limit: part.limit, chunk: readChunkBytes, bufOff: -1}
		next := part.lo
		for next < part.hi {
			pos, fr, err := sc.nextEntry(part.path)
			if err != nil {
				return nil, err
			}
			if part.positions != nil {
				if part.positions[next-part.lo] != pos {
					continue // superseded in this segment
				}
			} else if isDead(part.dead, pos) {
				continue
			}
			e, h, err := decodeEntry(fr)
			if err != nil {
				return nil, fmt.Errorf("segment %d offset %d: %w", part.gen, pos, err)
			}
			if h.index < next {
				continue
			}
			if h.index != next {
				return nil, fmt.Errorf("%w: segment %d offset %d holds entry %d, want %d", ErrCorrupt, part.gen, pos, h.index, next)
			}
			n := uint64(entrySize(e))
			if len(out) > 0 && size+n > p.maxSize {
				return out, nil
			}
			out, size = append(out, e), size+n
			next++
		}
	}
	return out, nil
}

func isDead(dead []deadRange, pos int64) bool {
	for _, d := range dead {
		if pos >= d.start && pos < d.end {
			return true
		}
	}
	return false
}
