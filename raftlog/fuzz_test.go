package raftlog

// Fuzz tests of every decoder: frames, recovery over arbitrary files,
// checkpoints and index files. None may panic or allocate beyond what its
// input can justify, and nothing may come out of a frame whose CRC did not
// match.
//
//	go test -fuzz=FuzzDecodeFrame -fuzztime=20s ./raftlog/
//	go test -fuzz=FuzzRecover -fuzztime=20s ./raftlog/
//	go test -fuzz=FuzzDecodeCheckpoint -fuzztime=20s ./raftlog/
//	go test -fuzz=FuzzDecodeIndex -fuzztime=20s ./raftlog/

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/golang/snappy"
	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

const fuzzDir = "p0"

// fuzzBase is a small valid log, built once: its files and what it holds.
type fuzzBase struct {
	files   map[string][]byte
	segs    []uint64 // generations, oldest first
	active  uint64
	entries map[uint64]*pb.Entry // by index, as recovered
}

var fuzzBaseOnce = sync.OnceValues(buildFuzzBase)

func buildFuzzBase() (*fuzzBase, error) {
	fs := vfs.NewMem(1)
	l, err := Open(fs, fuzzDir, Options{SegmentBytes: 2048, IndexIntervalBytes: 128})
	if err != nil {
		return nil, err
	}
	run := func(r *Round, err error) error {
		if err != nil || r == nil {
			return err
		}
		return l.Complete(r, r.Run(fs))
	}
	var off int64
	add := func(i, term uint64) error {
		data := bytes.Repeat([]byte{byte(i)}, int(i*13%200))
		if i%3 == 0 {
			data = incompressible(i, 300)
		}
		m := EntryMeta{BaseOffset: off, Count: uint32(i % 3), MaxTimestamp: int64(i * 7)}
		off = m.NextOffset()
		b := Batch{Entries: []*pb.Entry{ent(i, term, data)}, Metas: []EntryMeta{m},
			HardState: &pb.HardState{Term: new(term), Commit: new(min(i-1, 12))}}
		if i%5 == 0 {
			b.States = []State{{Kind: uint8(1 + i%2), Data: incompressible(i, 40)}}
		}
		return run(l.Append(b))
	}
	for i := uint64(1); i <= 22; i++ {
		if err := add(i, 1+i/10); err != nil {
			return nil, err
		}
		if i == 12 {
			if err := run(l.Compact(8, nil, []byte("snapshot data"))); err != nil {
				return nil, err
			}
		}
	}
	// A new leader overwrites 18.. (a conflicting append), then more.
	off = 100
	for i := uint64(18); i <= 24; i++ {
		if err := add(i, 5); err != nil {
			return nil, err
		}
	}
	base := &fuzzBase{files: map[string][]byte{}, entries: map[uint64]*pb.Entry{}}
	got, err := l.ReadEntries(l.OldestIndex(), l.last+1, math.MaxUint64)
	if err != nil {
		return nil, err
	}
	for _, e := range got {
		base.entries[e.GetIndex()] = e
	}
	base.active = l.active().gen
	l.Close()
	names, err := fs.List(fuzzDir)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		b, err := readFile(fs, vfs.Join(fuzzDir, n))
		if err != nil {
			return nil, err
		}
		base.files[n] = b
		if g, ok := parseGen(n, segmentExt); ok {
			base.segs = append(base.segs, g)
		}
	}
	if len(base.segs) < 3 {
		return nil, fmt.Errorf("base log has %d segments, want several", len(base.segs))
	}
	return base, nil
}

func incompressible(seed uint64, n int) []byte {
	b := make([]byte, n)
	x := seed*0x9e3779b97f4a7c15 | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func mustFuzzBase(f testing.TB) *fuzzBase {
	b, err := fuzzBaseOnce()
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// ----- frames -----

func FuzzDecodeFrame(f *testing.F) {
	base := mustFuzzBase(f)
	for _, g := range base.segs {
		seg := base.files[segmentName(g)]
		f.Add(seg, g)
		f.Add(seg[:len(seg)/2], g)
		f.Add(seg, g+1)
	}
	f.Add(appendFrame(nil, recEntry, false, 3, make([]byte, entryMetaSize), []byte("body")), uint64(3))
	f.Add(appendFrame(nil, recEntryV2, false, 3, appendEntryHeader(nil, entryHeader{index: 1 << 40, term: 3, etype: presIndex | presData,
		meta: EntryMeta{BaseOffset: -5, Count: math.MaxUint32, MaxTimestamp: math.MinInt64}}), []byte("body")), uint64(3))
	f.Add(appendFrame(nil, recSnapshot, true, 3, []byte{1, 2, 3}, nil), uint64(3))
	// A snappy body claiming 4 GiB decoded (TestSnappyClaimBounded).
	_, bombEntry := snappyBomb()
	f.Add(bombEntry, uint64(3))
	f.Add([]byte{}, uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, gen uint64) {
		if fr, err := decodeFrame(b, gen); err == nil {
			checkFrame(t, b, 0, gen, fr)
		} else if !errors.Is(err, errInvalidFrame) {
			t.Fatalf("decodeFrame: unexpected error %v", err)
		}
		// The scanner over the same bytes as a file.
		fs := vfs.NewMem(1)
		fl, err := fs.Create("seg")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fl.WriteAt(b, 0); err != nil {
			t.Fatal(err)
		}
		sc, err := newScanner(fl, gen, 0)
		if err != nil {
			t.Fatal(err)
		}
		sc.chunk = 64
		last := int64(-1)
		for {
			pos, fr, err := sc.next()
			if err != nil {
				if !errors.Is(err, errInvalidFrame) {
					t.Fatalf("scanner at %d: %v", pos, err)
				}
				break
			}
			if pos <= last || sc.pos != pos+fr.size() || sc.pos > int64(len(b)) {
				t.Fatalf("scanner went from %d to frame at %d, next %d, in %d bytes", last, pos, sc.pos, len(b))
			}
			last = pos
			checkFrame(t, b, pos, gen, fr)
		}
	})
}

// checkFrame re-encodes a decoded frame: it must be the bytes it came from,
// CRC included, and its payload must decode without panicking.
func checkFrame(t *testing.T, b []byte, pos int64, gen uint64, fr frame) {
	t.Helper()
	re := appendFrame(nil, fr.typ, fr.snappy, gen, fr.payload, nil)
	if !bytes.Equal(re, b[pos:pos+fr.size()]) {
		t.Fatalf("frame at %d re-encodes differently", pos)
	}
	if binary.LittleEndian.Uint32(re) != crc32.Checksum(re[4:], crcTable) {
		t.Fatalf("frame at %d: CRC mismatch", pos)
	}
	switch fr.typ {
	case recEntry, recEntryV2:
		if e, h, err := decodeEntry(fr); err == nil && e.GetIndex() != h.index && e.Index != nil {
			t.Fatalf("entry index %d, header %d", e.GetIndex(), h.index)
		}
	case recSnapshot:
		decodeSnapshot(fr)
	}
}

// snappyBomb is a snappy body claiming 4 GiB decoded (a one-byte literal,
// then nothing), and an entry frame of generation 3 holding it.
func snappyBomb() (body, entry []byte) {
	body = append(binary.AppendUvarint(nil, math.MaxUint32), 0, 'x')
	hdr := appendEntryHeader(nil, entryHeader{index: 7, term: 2, etype: presIndex | presData})
	return body, appendFrame(nil, recEntryV2, true, 3, hdr, body)
}

// TestSnappyClaimBounded: a frame whose CRC matches but whose snappy body
// claims 4 GiB decoded (only a crafted file holds one: the log never
// writes a body that decodes past maxFramePayload) is corruption, refused
// before anything that size is allocated. Before unsnappy, the entry and
// snapshot decoders each allocated the claimed 4 GiB first.
func TestSnappyClaimBounded(t *testing.T) {
	bomb, bombEntry := snappyBomb()
	ent, err := decodeFrame(bombEntry, 3)
	if err != nil {
		t.Fatal(err)
	}
	// A snapshot record: metadata index, term, 0 conf state bytes, then data.
	meta := binary.LittleEndian.AppendUint64(nil, 9)
	meta = binary.LittleEndian.AppendUint64(meta, 2)
	meta = append(meta, 0, 0, 0, 0, 0)
	snap, err := decodeFrame(appendFrame(nil, recSnapshot, true, 3, meta, bomb), 3)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, _, err := decodeEntry(ent); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "claims 4294967295 bytes") {
		t.Errorf("entry with a 4 GiB snappy claim: %v, want ErrCorrupt naming the claim", err)
	}
	if _, _, err := decodeSnapshot(snap); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "claims 4294967295 bytes") {
		t.Errorf("snapshot with a 4 GiB snappy claim: %v, want ErrCorrupt naming the claim", err)
	}
	if _, err := unsnappy(bomb); err == nil {
		t.Error("unsnappy decoded a 4 GiB claim")
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<30 {
		t.Errorf("decoding allocated %d bytes for a 9-byte body", n)
	}
	// Within the bound, a body decodes as ever.
	if d, err := unsnappy(snappy.Encode(nil, []byte("sluice"))); err != nil || string(d) != "sluice" {
		t.Errorf("unsnappy of a valid body: %q, %v", d, err)
	}
}

// ----- recovery -----

// Modes of FuzzRecover: where the fuzzed bytes go.
const (
	fuzzAppendActive  = iota // appended to the active segment
	fuzzNewSegment           // a segment after the active one
	fuzzReplaceActive        // the active segment's contents
	fuzzCheckpoint           // the checkpoint
	fuzzIndex                // a closed segment's index file
	fuzzAlone                // the only segment of an empty directory
	fuzzFramedActive         // framed (valid CRCs) and appended to the active segment
	fuzzFramedAlone          // framed, after a valid header, as the only segment
	fuzzFramedClosed         // framed, after a valid header, as a closed segment without index
	fuzzModes
)

func FuzzRecover(f *testing.F) {
	base := mustFuzzBase(f)
	act := base.files[segmentName(base.active)]
	for m := range uint8(fuzzModes) {
		f.Add(m, []byte{})
		f.Add(m, act)
		f.Add(m, act[:len(act)/3])
		f.Add(m, base.files[checkpointFn])
		f.Add(m, base.files[indexName(base.segs[0])])
		f.Add(m, base.files[segmentName(base.segs[0])])
	}
	// Framed records: type, length, payload.
	rec := func(typ recordType, p []byte) []byte {
		return append(binary.LittleEndian.AppendUint16([]byte{byte(typ)}, uint16(len(p))), p...)
	}
	hdr := make([]byte, entryMetaSize)
	putEntryHeader(hdr, entryHeader{index: 25, term: 6, etype: presIndex | presTerm | presData})
	hs := encodeHardState(&pb.HardState{Term: new(uint64(7)), Commit: new(uint64(3))})
	mark := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, base.active), 1<<20)
	hdr2 := appendEntryHeader(nil, entryHeader{index: 26, term: 6, etype: presIndex | presTerm | presData, meta: EntryMeta{BaseOffset: 100, Count: 3, MaxTimestamp: 1 << 41}})
	seed := slices.Concat(rec(recEntry, append(hdr, "body"...)), rec(recEntryV2, append(hdr2, "body"...)), rec(recHardState, hs), rec(recSyncMark, mark),
		rec(recSeal, []byte{1, 0, 0, 0, 0, 0, 0, 0}), rec(recSnapshot, encodeSnapshot(&pb.Snapshot{
			Metadata: &pb.SnapshotMetadata{Index: new(uint64(30)), Term: new(uint64(6)), ConfState: &pb.ConfState{Voters: []uint64{1}}}}, true).header))
	f.Add(uint8(fuzzFramedActive), seed)
	f.Add(uint8(fuzzFramedAlone), seed)
	// A snapshot at the end of the index space.
	f.Add(uint8(fuzzFramedAlone), rec(recSnapshot, encodeSnapshot(&pb.Snapshot{
		Metadata: &pb.SnapshotMetadata{Index: new(uint64(math.MaxUint64)), Term: new(uint64(6))}}, true).header))
	// A closed segment whose frames go back below the first one: rebuilding
	// its index must not trust their order.
	var closed []byte
	for _, i := range []uint64{3, 4, 5, 6, 7, 8, 1, 2} {
		putEntryHeader(hdr, entryHeader{index: i, term: 1, etype: presIndex | presTerm})
		closed = append(closed, rec(recEntry, hdr)...)
	}
	f.Add(uint8(fuzzFramedClosed), closed)
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		mode %= fuzzModes
		fs := vfs.NewMem(1)
		files := map[string][]byte{}
		if mode != fuzzAlone && mode != fuzzFramedAlone {
			for n, b := range base.files {
				files[n] = b
			}
		}
		actName := segmentName(base.active)
		gen := base.active // the generation fuzzed frames count as valid in
		switch mode {
		case fuzzAppendActive:
			files[actName] = slices.Concat(files[actName], data)
		case fuzzNewSegment:
			gen = base.active + 1
			files[segmentName(gen)] = data
		case fuzzReplaceActive:
			files[actName] = data
		case fuzzCheckpoint:
			files[checkpointFn] = data
		case fuzzIndex:
			files[indexName(base.segs[0])] = data
		case fuzzAlone:
			gen = 1
			files[segmentName(gen)] = data
		case fuzzFramedActive:
			files[actName] = framed(files[actName], gen, data)
		case fuzzFramedAlone:
			gen = 1
			files[segmentName(gen)] = framed(segmentHeader(gen, 1), gen, data)
		case fuzzFramedClosed:
			gen = base.segs[0]
			files[segmentName(gen)] = framed(segmentHeader(gen, 1), gen, data)
			delete(files, indexName(gen))
		}
		writeFiles(t, fs, fuzzDir, files)
		l, err := Open(fs, fuzzDir, Options{SegmentBytes: 2048, IndexIntervalBytes: 128})
		if err != nil {
			return
		}
		defer l.Close()
		checkRecovered(t, l, base, mode, gen, data)
	})
}

func segmentHeader(gen, next uint64) []byte {
	var h []byte
	h = append(h, segmentMagic...)
	h = binary.LittleEndian.AppendUint16(h, formatVersion)
	h = binary.LittleEndian.AppendUint64(h, gen)
	h = binary.LittleEndian.AppendUint64(h, next)
	return appendFrame(nil, recSegmentHeader, false, gen, h, nil)
}

// framed turns fuzz bytes into frames with valid CRCs — records of type u8,
// length u16, payload — so recovery sees arbitrary frame contents.
func framed(dst []byte, gen uint64, data []byte) []byte {
	for len(data) >= 3 {
		typ := recordType(data[0] % uint8(recMax+1))
		if typ == 0 {
			typ = recEntry
		}
		n := min(int(binary.LittleEndian.Uint16(data[1:])), len(data)-3)
		p := data[3 : 3+n]
		data = data[3+n:]
		dst = appendFrame(dst, typ, oddLast(p), gen, p, nil)
	}
	return dst
}

// oddLast flags a payload as compressed when its last byte is odd, so the
// fuzzer reaches snappy's decoder too.
func oddLast(p []byte) bool { return len(p) > 0 && p[len(p)-1]&1 == 1 }

func writeFiles(t testing.TB, fs *vfs.Mem, dir string, files map[string][]byte) {
	t.Helper()
	if err := fs.MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range slices.Sorted(maps.Keys(files)) {
		fl, err := fs.Create(vfs.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fl.WriteAt(files[n], 0); err != nil {
			t.Fatal(err)
		}
		if err := fl.Sync(); err != nil {
			t.Fatal(err)
		}
		fl.Close()
	}
	if err := fs.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
}

// checkRecovered reads everything a recovered log holds: every read must
// succeed, and every entry must be one of the base log's or come from a
// frame with a valid CRC in the fuzzed bytes.
func checkRecovered(t *testing.T, l *Log, base *fuzzBase, mode uint8, gen uint64, data []byte) {
	first, _ := l.FirstIndex()
	last, _ := l.LastIndex()
	oldest := l.OldestIndex()
	if oldest > first || first > last+1 {
		t.Fatalf("recovered oldest %d, first %d, last %d", oldest, first, last)
	}
	// Bounded: a forged snapshot may put the log anywhere, up to the end of
	// the index space.
	for i, n := first-1, 0; n < 1<<12 && i <= last; i, n = i+1, n+1 {
		if _, err := l.Term(i); err != nil {
			t.Fatalf("term(%d) in [%d,%d]: %v", i, first-1, last, err)
		}
		if i == math.MaxUint64 {
			break
		}
	}
	if oldest <= last {
		got, err := l.ReadEntries(oldest, last+1, math.MaxUint64)
		if err != nil && mode >= fuzzFramedActive && errors.Is(err, ErrCorrupt) {
			// A forged frame's CRC is valid but its body may not be:
			// recovery reads headers only, so reading the body finds it.
			return
		}
		if err != nil {
			t.Fatalf("recovered log unreadable: %v", err)
		}
		if uint64(len(got)) != last+1-oldest {
			t.Fatalf("read %d entries of [%d,%d]", len(got), oldest, last)
		}
		var valid map[string]bool
		for k, e := range got {
			if e.GetIndex() != oldest+uint64(k) && e.Index != nil {
				t.Fatalf("entry %d has index %d", oldest+uint64(k), e.GetIndex())
			}
			if w, ok := base.entries[oldest+uint64(k)]; ok && bytes.Equal(w.GetData(), e.GetData()) && w.GetTerm() == e.GetTerm() {
				continue
			}
			if mode >= fuzzFramedActive {
				continue // every frame there has a valid CRC
			}
			if valid == nil {
				valid = validEntries(data, gen)
			}
			if !valid[entryKey(oldest+uint64(k), e)] {
				t.Fatalf("recovered entry %d (term %d, %dB) is neither the base log's nor in a valid frame", oldest+uint64(k), e.GetTerm(), len(e.GetData()))
			}
		}
	}
	if _, _, err := l.FindOffset(3); err != nil {
		t.Fatalf("FindOffset: %v", err)
	}
	if _, _, err := l.FindTimestamp(50); err != nil {
		t.Fatalf("FindTimestamp: %v", err)
	}
	if _, _, err := l.InitialState(); err != nil {
		t.Fatal(err)
	}
}

func entryKey(i uint64, e *pb.Entry) string {
	return fmt.Sprintf("%d/%d/%x", i, e.GetTerm(), e.GetData())
}

// validEntries decodes a valid entry frame of generation gen at every
// offset of data, as a recovery could have found them.
func validEntries(data []byte, gen uint64) map[string]bool {
	out := map[string]bool{}
	for off := range data {
		fr, err := decodeFrame(data[off:], gen)
		if err != nil || !isEntry(fr.typ) {
			continue
		}
		if e, h, err := decodeEntry(fr); err == nil {
			out[entryKey(h.index, e)] = true
		}
	}
	return out
}

// ----- checkpoint and index files -----

// withCRC appends the CRC a checkpoint or index file ends with, so the
// fuzzer reaches the decoding behind it.
func withCRC(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(slices.Clip(b), crc32.Checksum(b, crcTable))
}

func FuzzDecodeCheckpoint(f *testing.F) {
	base := mustFuzzBase(f)
	ck := base.files[checkpointFn]
	f.Add(ck)
	f.Add(ck[:len(ck)-4])
	f.Add(encodeCheckpoint(checkpoint{}, formatVersion)[:12])
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, withCRC(b)} {
			c, err := decodeCheckpoint(in)
			if err != nil {
				continue
			}
			// Each element came from bytes of the input.
			if len(c.closed)*57+len(c.terms)*16 > len(in) {
				t.Fatalf("%d closed segments and %d terms from %d bytes", len(c.closed), len(c.terms), len(in))
			}
			c2, err := decodeCheckpoint(encodeCheckpoint(c, formatVersion))
			if err != nil || fmt.Sprint(c2) != fmt.Sprint(c) {
				t.Fatalf("checkpoint does not round-trip: %v %v", c2, err)
			}
		}
	})
}

func FuzzDecodeIndex(f *testing.F) {
	base := mustFuzzBase(f)
	for _, g := range base.segs {
		if b, ok := base.files[indexName(g)]; ok {
			f.Add(b, g)
			f.Add(b[:len(b)-4], g)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, gen uint64) {
		for _, in := range [][]byte{b, withCRC(b)} {
			s := &segment{gen: gen}
			if err := decodeIndex(in, s); err != nil {
				continue
			}
			if len(s.sparse)*24+len(s.times)*16+len(s.dead)*16 > len(in) {
				t.Fatalf("%d+%d+%d index points from %d bytes", len(s.sparse), len(s.times), len(s.dead), len(in))
			}
			enc := encodeIndex(nil, s, formatVersion)
			if len(enc) != indexBytes(s) {
				t.Fatalf("index encodes to %d bytes, indexBytes says %d", len(enc), indexBytes(s))
			}
			s2 := &segment{gen: gen}
			if err := decodeIndex(enc, s2); err != nil ||
				fmt.Sprint(s2.sparse, s2.times, s2.dead) != fmt.Sprint(s.sparse, s.times, s.dead) {
				t.Fatalf("index does not round-trip: %v", err)
			}
		}
	})
}
