package raftlog

// Checkpoint and index file formats. Both are written whole to a temporary
// name, synced, and renamed into place (then the directory is synced), so a
// reader sees either the old file or the new one. Both end with a CRC32C of
// everything before it.
//
// checkpoint:
//
//	magic "SLUICECK" | version u16 | scanFrom u64 | nextGen u64 |
//	nClosed u32 | nClosed × closedSegment | nTerms u32 | nTerms × (index u64, term u64) |
//	crc u32
//
//	closedSegment: gen u64 | first u64 | last u64 | size u64 | hasRecords u8 |
//	               firstOffset i64 | nextOffset i64 | maxTs i64
//
// Segments listed as closed are sealed and were durable before the
// checkpoint was written; recovery trusts them and scans only segments of
// generation >= scanFrom. Term runs cover the closed segments' entries.
//
// <gen>.idx:
//
//	magic "SLUICEIX" | version u16 | gen u64 |
//	nSparse u32 | (index u64, offset i64, pos u64)* |
//	nTimes u32 | (ts i64, index u64)* |
//	nDead u32 | (start u64, end u64)* |
//	crc u32

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

const (
	checkpointMagic = "SLUICECK"
	indexMagic      = "SLUICEIX"
)

type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) i64(v int64)  { e.u64(uint64(v)) }
func (e *enc) finish() []byte {
	e.u32(crc32.Checksum(e.b, crcTable))
	return e.b
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) take(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.err = fmt.Errorf("%w: truncated", ErrCorrupt)
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) u8() uint8   { return d.take(1)[0] }
func (d *dec) u16() uint16 { return binary.LittleEndian.Uint16(d.take(2)) }
func (d *dec) u32() uint32 { return binary.LittleEndian.Uint32(d.take(4)) }
func (d *dec) u64() uint64 { return binary.LittleEndian.Uint64(d.take(8)) }
func (d *dec) i64() int64  { return int64(d.u64()) }

// count reads a length prefix and bounds it by the bytes left, so a corrupt
// count cannot make the decoder allocate without limit.
func (d *dec) count(elemSize int) int {
	n := int(d.u32())
	if d.err == nil && n*elemSize > len(d.b) {
		d.err = fmt.Errorf("%w: count %d exceeds data", ErrCorrupt, n)
		return 0
	}
	return n
}

// openChecked verifies magic, version and the trailing CRC.
func openChecked(b []byte, magic string) (*dec, error) {
	if len(b) < len(magic)+2+4 || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	d := &dec{b: body[len(magic):]}
	if v := d.u16(); v < minFormatVersion || v > formatVersion {
		return nil, fmt.Errorf("raftlog: unsupported format version %d (this build reads %d to %d)", v, minFormatVersion, formatVersion)
	}
	return d, nil
}

type checkpoint struct {
	scanFrom uint64
	nextGen  uint64
	closed   []closedInfo
	terms    []termRun
}

type closedInfo struct {
	gen, first, last uint64
	size             int64
	hasRecords       bool
	firstOffset      int64
	nextOffset       int64
	maxTs            int64
}

// encodeCheckpoint encodes c as format version v writes it (the layout is
// the same in versions 1 and 2).
func encodeCheckpoint(c checkpoint, v uint16) []byte {
	e := enc{b: make([]byte, 0, 64+len(c.closed)*57+len(c.terms)*16)}
	e.b = append(e.b, checkpointMagic...)
	e.u16(v)
	e.u64(c.scanFrom)
	e.u64(c.nextGen)
	e.u32(uint32(len(c.closed)))
	for _, s := range c.closed {
		e.u64(s.gen)
		e.u64(s.first)
		e.u64(s.last)
		e.u64(uint64(s.size))
		hr := uint8(0)
		if s.hasRecords {
			hr = 1
		}
		e.u8(hr)
		e.i64(s.firstOffset)
		e.i64(s.nextOffset)
		e.i64(s.maxTs)
	}
	e.u32(uint32(len(c.terms)))
	for _, t := range c.terms {
		e.u64(t.index)
		e.u64(t.term)
	}
	return e.finish()
}

func decodeCheckpoint(b []byte) (checkpoint, error) {
	d, err := openChecked(b, checkpointMagic)
	if err != nil {
		return checkpoint{}, err
	}
	var c checkpoint
	c.scanFrom = d.u64()
	c.nextGen = d.u64()
	n := d.count(57)
	for i := 0; i < n && d.err == nil; i++ {
		c.closed = append(c.closed, closedInfo{
			gen: d.u64(), first: d.u64(), last: d.u64(), size: int64(d.u64()),
			hasRecords: d.u8() == 1, firstOffset: d.i64(), nextOffset: d.i64(), maxTs: d.i64(),
		})
	}
	n = d.count(16)
	for i := 0; i < n && d.err == nil; i++ {
		c.terms = append(c.terms, termRun{index: d.u64(), term: d.u64()})
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return c, d.err
}

// indexBytes is the size of segment s's index file.
func indexBytes(s *segment) int {
	return len(indexMagic) + 2 + 8 + 4 + len(s.sparse)*24 + 4 + len(s.times)*16 + 4 + len(s.dead)*16 + 4
}

// encodeIndex encodes segment s's index file, as format version v writes
// it (the same in versions 1 and 2), into dst's memory when it is large
// enough.
func encodeIndex(dst []byte, s *segment, v uint16) []byte {
	n := indexBytes(s)
	if cap(dst) < n {
		dst = make([]byte, 0, n)
	}
	e := enc{b: dst[:0]}
	e.b = append(e.b, indexMagic...)
	e.u16(v)
	e.u64(s.gen)
	e.u32(uint32(len(s.sparse)))
	for _, p := range s.sparse {
		e.u64(p.index)
		e.i64(p.offset)
		e.u64(uint64(p.pos))
	}
	e.u32(uint32(len(s.times)))
	for _, t := range s.times {
		e.i64(t.ts)
		e.u64(t.index)
	}
	e.u32(uint32(len(s.dead)))
	for _, r := range s.dead {
		e.u64(uint64(r.start))
		e.u64(uint64(r.end))
	}
	return e.finish()
}

func decodeIndex(b []byte, s *segment) error {
	d, err := openChecked(b, indexMagic)
	if err != nil {
		return err
	}
	if g := d.u64(); g != s.gen {
		return fmt.Errorf("%w: index of generation %d in file of %d", ErrCorrupt, g, s.gen)
	}
	n := d.count(24)
	s.sparse = make([]sparsePoint, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		s.sparse = append(s.sparse, sparsePoint{index: d.u64(), offset: d.i64(), pos: int64(d.u64())})
	}
	n = d.count(16)
	s.times = make([]timePoint, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		s.times = append(s.times, timePoint{ts: d.i64(), index: d.u64()})
	}
	n = d.count(16)
	s.dead = make([]deadRange, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		s.dead = append(s.dead, deadRange{start: int64(d.u64()), end: int64(d.u64())})
	}
	return d.err
}
