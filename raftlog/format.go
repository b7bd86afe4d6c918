package raftlog

// The on-disk format of a partition log. Frozen: changing any constant or
// layout below needs a new formatVersion and a migration.
//
// A log directory holds:
//
//	<gen>.seg    segment files, gen = 20-digit decimal generation, increasing
//	<gen>.idx    sparse offset/time index of a closed (sealed) segment, a cache:
//	             written unsynced, rebuilt from the segment when missing or damaged
//	checkpoint   which segments are closed and known good (replaced by rename)
//
// A segment is a sequence of frames, starting at file offset 0:
//
//	 0        4        8    9             17
//	 +--------+--------+----+-------------+--------------------------+
//	 | CRC32C | length |type| generation  | payload (length bytes)   |
//	 +--------+--------+----+-------------+--------------------------+
//	  uint32   uint32   u8    uint64         all integers little-endian
//
// CRC32C (Castagnoli) covers bytes [4, 17+length): length, type, generation
// and payload. A frame is valid only if its CRC matches, its length is at
// most maxFramePayload, its type is known and its generation equals the
// segment's (from the file name). Zeroed, preallocated or recycled space can
// therefore never be read as a live frame: zeros fail the CRC, and frames
// left by an earlier use of the file carry another generation.
//
// The top bit of type (flagSnappy) marks a snappy-compressed body; it is set
// only when compression shrinks the body (client batches often arrive
// compressed already). The low 7 bits are the record type:
//
//	1 segment header  magic "SLUICESG" | version u16 | gen u64 | next index u64
//	2 entry (v1)      index u64 | term u64 | entry type u8 |
//	                  base offset i64 | record count u32 | max timestamp i64 |
//	                  body (raft entry data; snappy if flagged)
//	3 hard state      term u64 | vote u64 | commit u64
//	4 conf state      protobuf raftpb.ConfState
//	5 snapshot        index u64 | term u64 | reset u8 | conf state length u32 |
//	                  protobuf raftpb.ConfState | data (snappy if flagged)
//	6 sync mark       gen u64 | position u64: every byte of segment gen below
//	                  position was durable when this frame was written
//	7 seal            next index u64: the segment ends here; the log goes on
//	                  in the next generation
//	8 state           kind u8 | data (snappy if flagged): partition state owned
//	                  by the caller (applied index, offsets, producer state,
//	                  epoch cache...), latest frame per kind wins
//	9 entry           index uvarint | term uvarint | entry type u8 |
//	                  base offset varint | record count uvarint |
//	                  max timestamp varint | body (as in 2)
//	10-127            reserved
//
// Format versions. Version 1 wrote entries as record type 2, whose 37 bytes
// of fixed-width fields came to 3.6% of a 1 KiB entry (with the frame
// header, 5%); version 2 writes them as type 9, the same fields as
// varints (Go's encoding/binary: uvarint, and zigzag for the signed),
// which take 8 bytes for an entry without records at index below 2^21 and
// about 20 for a Kafka batch. A version 2 reader reads both types, and
// version 1 checkpoints and index files, whose layouts did not change: a
// version 1 log opens as it is and its new segments are version 2.
//
// Recovery replays frames in order: an entry whose index is at most the last
// index truncates the suffix from that index (a conflicting append), a reset
// snapshot drops every entry, a compaction snapshot moves the first index.
// Every segment begins with the header followed by a copy of the current
// hard state, conf state, snapshot and states, so a log whose older
// segments were deleted by retention still recovers from what is left.
//
// Torn tails. Each append round begins with a sync mark recording how far the
// segment was durable when the round began (the end of the last completed
// round): the watermark costs no extra sync. On recovery an invalid frame
// below the highest watermark found is corruption, and opening fails naming
// segment and position; at or above it, it is a torn tail: the log ends
// there. The marks that prove a damaged frame durable lie after it, where
// the frame-by-frame scan cannot reach, so recovery searches the bytes past
// an invalid frame, offset by offset, for this segment's sync marks, up to
// the first zero-filled page (the unwritten rest of a preallocated segment).
// Damage inside the last completed round cannot be told from a tear: no
// later mark exists yet. A segment is sealed before the next one starts; an unsealed segment
// followed by others means the crash hit the roll, and the later segments
// are dropped unless a sync mark in them proves they were durable (then it
// is corruption). After a torn tail, recovery seals the segment durably and
// appends to a new one, so frames left beyond the tear are never read again.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"reflect"
	"unsafe"

	"github.com/golang/snappy"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
)

const (
	frameHeaderSize = 17
	// maxFramePayload bounds one frame; larger payloads are refused.
	maxFramePayload = 64 << 20
	formatVersion   = 2
	// minFormatVersion is the oldest version this code reads.
	minFormatVersion = 1

	// entryMetaSize is the size of a version 1 entry's fields (type 2);
	// entryMetaMax bounds a version 2 entry's (type 9).
	entryMetaSize = 8 + 8 + 1 + 8 + 4 + 8
	entryMetaMax  = 2*binary.MaxVarintLen64 + 1 + binary.MaxVarintLen64 + binary.MaxVarintLen32 + binary.MaxVarintLen64

	segmentMagic = "SLUICESG"
	segmentExt   = ".seg"
	indexExt     = ".idx"
	checkpointFn = "checkpoint"
	tmpSuffix    = ".tmp"
)

type recordType uint8

const (
	recSegmentHeader recordType = 1
	recEntry         recordType = 2
	recHardState     recordType = 3
	recConfState     recordType = 4
	recSnapshot      recordType = 5
	recSyncMark      recordType = 6
	recSeal          recordType = 7
	recState         recordType = 8
	recEntryV2       recordType = 9
	recMax           recordType = 9

	flagSnappy = 0x80
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errInvalidFrame means the bytes at a position are not a valid frame: the
// end of the log, a torn write, or corruption — the caller decides which.
var errInvalidFrame = errors.New("raftlog: invalid frame")

// ErrCorrupt is wrapped by every error that reports damaged data below the
// durable watermark.
var ErrCorrupt = errors.New("raftlog: corrupt log")

// frame is one decoded frame. payload aliases the buffer it was decoded from.
type frame struct {
	typ     recordType
	snappy  bool
	payload []byte
}

// size of the encoded frame.
func (f frame) size() int64 { return int64(frameHeaderSize + len(f.payload)) }

// appendFrame appends one frame made of header and body to dst.
func appendFrame(dst []byte, typ recordType, compressed bool, gen uint64, header, body []byte) []byte {
	return append(appendFrameHead(dst, typ, compressed, gen, header, body, KnownCRC{}), body...)
}

// appendFrameHead appends the frame of header and body to dst without body,
// which the caller writes right after it: the CRC still covers body, whose
// last tail.Len bytes have the CRC tail.CRC (see KnownCRC).
func appendFrameHead(dst []byte, typ recordType, compressed bool, gen uint64, header, body []byte, tail KnownCRC) []byte {
	n := len(header) + len(body)
	if n > maxFramePayload {
		panic(fmt.Sprintf("raftlog: frame payload %d exceeds %d", n, maxFramePayload))
	}
	start := len(dst)
	t := uint8(typ)
	if compressed {
		t |= flagSnappy
	}
	var h [frameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[4:], uint32(n))
	h[8] = t
	binary.LittleEndian.PutUint64(h[9:], gen)
	dst = append(dst, h[:]...)
	dst = append(dst, header...)
	binary.LittleEndian.PutUint32(dst[start:], frameCRC(dst[start+4:], body, tail))
	return dst
}

// frameLength reads the payload length from a frame header, or -1 if the
// header cannot start a valid frame.
func frameLength(h []byte) int {
	n := binary.LittleEndian.Uint32(h[4:])
	if n > maxFramePayload {
		return -1
	}
	t := recordType(h[8] &^ flagSnappy)
	if t == 0 || t > recMax {
		return -1
	}
	return int(n)
}

// decodeFrame decodes the frame at the start of b, which must hold the
// whole frame. It returns errInvalidFrame for anything that is not a frame
// of generation gen.
func decodeFrame(b []byte, gen uint64) (frame, error) {
	if len(b) < frameHeaderSize {
		return frame{}, errInvalidFrame
	}
	n := frameLength(b)
	if n < 0 || len(b) < frameHeaderSize+n {
		return frame{}, errInvalidFrame
	}
	if binary.LittleEndian.Uint64(b[9:]) != gen {
		return frame{}, errInvalidFrame
	}
	want := binary.LittleEndian.Uint32(b)
	if crc32.Checksum(b[4:frameHeaderSize+n], crcTable) != want {
		return frame{}, errInvalidFrame
	}
	return frame{
		typ:     recordType(b[8] &^ flagSnappy),
		snappy:  b[8]&flagSnappy != 0,
		payload: b[frameHeaderSize : frameHeaderSize+n],
	}, nil
}

// unsnappy decodes a frame's snappy body. A body written here decodes to
// at most maxFramePayload bytes, so a longer claimed length is corruption,
// refused before snappy allocates it (a crafted header claims up to 4 GiB,
// and the frame's CRC only proves the bytes are the ones written).
func unsnappy(b []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(b)
	if err != nil {
		return nil, err
	}
	if n > maxFramePayload {
		return nil, fmt.Errorf("snappy body claims %d bytes decoded, more than a frame holds (%d)", n, maxFramePayload)
	}
	return snappy.Decode(nil, b)
}

// EntryMeta is the Kafka view of one raft entry, stored beside it so offsets
// and timestamps map to raft indexes without decompressing the entry.
// Entries that carry no records (conf changes, no-ops) have Count 0.
type EntryMeta struct {
	BaseOffset   int64  // offset of the first record
	Count        uint32 // records in the entry (lastOffsetDelta+1)
	MaxTimestamp int64  // largest record timestamp, ms
}

// NextOffset is the offset after the entry's last record.
func (m EntryMeta) NextOffset() int64 { return m.BaseOffset + int64(m.Count) }

type entryHeader struct {
	index, term uint64
	etype       uint8
	meta        EntryMeta
}

// isEntry reports whether typ is an entry record, of either version.
func isEntry(typ recordType) bool { return typ == recEntry || typ == recEntryV2 }

// appendEntryHeader appends the fields of a version 2 entry record (type
// recEntryV2) to dst.
func appendEntryHeader(dst []byte, h entryHeader) []byte {
	dst = binary.AppendUvarint(dst, h.index)
	dst = binary.AppendUvarint(dst, h.term)
	dst = append(dst, h.etype)
	dst = binary.AppendVarint(dst, h.meta.BaseOffset)
	dst = binary.AppendUvarint(dst, uint64(h.meta.Count))
	return binary.AppendVarint(dst, h.meta.MaxTimestamp)
}

// putEntryHeader writes the fields of a version 1 entry record (type
// recEntry) into b[:entryMetaSize]. Only tests write version 1 records.
func putEntryHeader(b []byte, h entryHeader) {
	binary.LittleEndian.PutUint64(b[0:], h.index)
	binary.LittleEndian.PutUint64(b[8:], h.term)
	b[16] = h.etype
	binary.LittleEndian.PutUint64(b[17:], uint64(h.meta.BaseOffset))
	binary.LittleEndian.PutUint32(b[25:], h.meta.Count)
	binary.LittleEndian.PutUint64(b[29:], uint64(h.meta.MaxTimestamp))
}

// getEntryHeader decodes the fields of entry record fr (either version)
// and returns them with their length: the entry's body follows.
func getEntryHeader(fr frame) (entryHeader, int, error) {
	b := fr.payload
	if fr.typ == recEntryV2 {
		return getEntryHeaderV2(b)
	}
	if len(b) < entryMetaSize {
		return entryHeader{}, 0, fmt.Errorf("%w: entry record of %d bytes", ErrCorrupt, len(b))
	}
	return entryHeader{
		index: binary.LittleEndian.Uint64(b[0:]),
		term:  binary.LittleEndian.Uint64(b[8:]),
		etype: b[16],
		meta: EntryMeta{
			BaseOffset:   int64(binary.LittleEndian.Uint64(b[17:])),
			Count:        binary.LittleEndian.Uint32(b[25:]),
			MaxTimestamp: int64(binary.LittleEndian.Uint64(b[29:])),
		},
	}, entryMetaSize, nil
}

func getEntryHeaderV2(b []byte) (entryHeader, int, error) {
	var h entryHeader
	off := 0
	bad := func(what string) (entryHeader, int, error) {
		return entryHeader{}, 0, fmt.Errorf("%w: entry record of %d bytes: bad %s", ErrCorrupt, len(b), what)
	}
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b[off:])
		off += max(n, 0)
		return v, n > 0
	}
	var ok bool
	if h.index, ok = uv(); !ok {
		return bad("index")
	}
	if h.term, ok = uv(); !ok {
		return bad("term")
	}
	if off >= len(b) {
		return bad("entry type")
	}
	h.etype = b[off]
	off++
	v, n := binary.Varint(b[off:])
	if n <= 0 {
		return bad("base offset")
	}
	h.meta.BaseOffset, off = v, off+n
	c, ok := uv()
	if !ok || c > math.MaxUint32 {
		return bad("record count")
	}
	h.meta.Count = uint32(c)
	if v, n = binary.Varint(b[off:]); n <= 0 {
		return bad("max timestamp")
	}
	h.meta.MaxTimestamp, off = v, off+n
	return h, off, nil
}

// entrySize is proto.Size(e) for a raft entry, computed from its four
// fields without the generic size walk proto.Size goes through (a tenth of
// the log's append time at 1 KiB entries went there). Unknown fields,
// which raft never sets, are counted too.
func entrySize(e *pb.Entry) int {
	n := 0
	if e.Type != nil {
		n += 1 + protowire.SizeVarint(uint64(*e.Type))
	}
	if e.Term != nil {
		n += 1 + protowire.SizeVarint(*e.Term)
	}
	if e.Index != nil {
		n += 1 + protowire.SizeVarint(*e.Index)
	}
	if e.Data != nil {
		n += 1 + protowire.SizeBytes(len(e.Data))
	}
	return n + unknownLen(e)
}

// unknownFieldsOffset is where a pb.Entry keeps its unknown fields: the
// generated struct's unknownFields, a []byte (protoimpl.UnknownFields),
// found once by reflection. Reading them through ProtoReflect stores the
// message's reflection state on first use, an atomic store per entry that
// made up a third of entrySize's time on 1 KiB entries. It is -1 if the
// generated code keeps them otherwise; unknownLen then asks ProtoReflect.
var unknownFieldsOffset = func() uintptr {
	f, ok := reflect.TypeFor[pb.Entry]().FieldByName("unknownFields")
	if !ok || f.Type != reflect.TypeFor[[]byte]() {
		return ^uintptr(0)
	}
	return f.Offset
}()

// unknownLen is len(e.ProtoReflect().GetUnknown()).
func unknownLen(e *pb.Entry) int {
	if unknownFieldsOffset == ^uintptr(0) {
		return len(e.ProtoReflect().GetUnknown())
	}
	return len(*(*[]byte)(unsafe.Add(unsafe.Pointer(e), unknownFieldsOffset)))
}
