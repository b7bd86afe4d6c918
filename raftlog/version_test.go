package raftlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"pgregory.net/rapid"

	"sluice/raftlog/vfs"
)

// versionEntry is entry i of TestReadsFormatVersion1's log: records from
// offset 10*i, a hard state commit after every batch.
func versionEntry(i uint64) (*pb.Entry, EntryMeta) {
	data := noise(200+int(i%7)*100, i)
	if i%5 == 0 {
		data = bytes.Repeat([]byte("compressible "), 40) // snappy-flagged
	}
	return ent(i, 1+i/40, data), EntryMeta{BaseOffset: int64(10 * i), Count: 10, MaxTimestamp: 1_700_000_000_000 + int64(i)}
}

func appendVersionEntries(t *testing.T, l *Log, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i += 4 {
		var b Batch
		for k := i; k < i+4 && k <= to; k++ {
			e, m := versionEntry(k)
			b.Entries, b.Metas = append(b.Entries, e), append(b.Metas, m)
		}
		last := b.Entries[len(b.Entries)-1]
		b.HardState = &pb.HardState{Term: new(last.GetTerm()), Commit: new(last.GetIndex())}
		r, err := l.Append(b)
		mustRun(t, l, r, err)
	}
}

// checkVersionEntries reads entries [1, to] back, data and metadata.
func checkVersionEntries(t *testing.T, l *Log, to uint64) {
	t.Helper()
	got, err := l.Entries(1, to+1, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(got)) != to {
		t.Fatalf("read %d entries, want %d", len(got), to)
	}
	for i, e := range got {
		want, wm := versionEntry(uint64(i) + 1)
		if e.GetIndex() != want.GetIndex() || e.GetTerm() != want.GetTerm() || e.GetType() != want.GetType() || !bytes.Equal(e.Data, want.Data) {
			t.Fatalf("entry %d: got index %d term %d, %d bytes", i+1, e.GetIndex(), e.GetTerm(), len(e.Data))
		}
		m, err := l.Meta(want.GetIndex())
		if err != nil || m != wm {
			t.Fatalf("entry %d: meta %+v %v, want %+v", i+1, m, err, wm)
		}
	}
	if idx, ok, err := l.FindOffset(10*int64(to/2) + 3); err != nil || !ok || idx != to/2 {
		t.Fatalf("FindOffset: %d %v %v, want %d", idx, ok, err, to/2)
	}
}

// segmentVersions returns each segment's format version and the entry
// record types it holds.
func segmentVersions(t *testing.T, fs vfs.FS, dir string) map[uint64]string {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]string{}
	for _, n := range names {
		gen, ok := parseGen(n, segmentExt)
		if !ok {
			continue
		}
		f, err := fs.Open(vfs.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		sc, err := newScanner(f, gen, 0)
		if err != nil {
			t.Fatal(err)
		}
		types := map[recordType]bool{}
		var v uint16
		for {
			_, fr, err := sc.next()
			if err != nil {
				break // the end of the written frames
			}
			if fr.typ == recSegmentHeader {
				v = binary.LittleEndian.Uint16(fr.payload[len(segmentMagic):])
			}
			if isEntry(fr.typ) {
				types[fr.typ] = true
			}
		}
		f.Close()
		out[gen] = fmt.Sprintf("v%d entries:%v,%v", v, types[recEntry], types[recEntryV2])
	}
	return out
}

// TestReadsFormatVersion1: a log written in format version 1 (entries as
// record type 2, fixed-width fields) opens, reads (entries, metadata,
// offsets through the closed segments' index files and the checkpoint) and
// appends under version 2, which writes only new segments, each version 2,
// so that no version 1 segment ever holds a record version 1 does not know.
func TestReadsFormatVersion1(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{SegmentBytes: 8 << 10, IndexIntervalBytes: 512, writeVersion: 1}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	appendVersionEntries(t, l, 1, 120)
	l.Close()
	v1 := segmentVersions(t, fs, "p")
	if len(v1) < 4 {
		t.Fatalf("want several segments, have %v", v1)
	}
	for g, v := range v1 {
		if v != "v1 entries:true,false" && v != "v1 entries:false,false" {
			t.Fatalf("version 1 log: segment %d is %s", g, v)
		}
	}
	ck, err := readFile(fs, vfs.Join("p", checkpointFn))
	if err != nil || binary.LittleEndian.Uint16(ck[len(checkpointMagic):]) != 1 {
		t.Fatalf("version 1 checkpoint: %v", err)
	}

	opts.writeVersion = 0
	for round := 0; round < 2; round++ {
		l, err = Open(fs, "p", opts)
		if err != nil {
			t.Fatal(err)
		}
		last := uint64(120 + 60*round)
		checkVersionEntries(t, l, last)
		appendVersionEntries(t, l, last+1, last+60)
		checkVersionEntries(t, l, last+60)
		l.Close()
	}
	for g, v := range segmentVersions(t, fs, "p") {
		if old, ok := v1[g]; ok {
			if v != old {
				t.Fatalf("version 1 segment %d became %s", g, v)
			}
			continue
		}
		if v != "v2 entries:false,true" && v != "v2 entries:false,false" {
			t.Fatalf("version 2 segment %d is %s", g, v)
		}
	}
}

// TestRefusesNewerFormat: a segment or checkpoint of a version this build
// does not know fails Open with an error naming the version.
func TestRefusesNewerFormat(t *testing.T) {
	for _, what := range []string{"segment", "checkpoint"} {
		t.Run(what, func(t *testing.T) {
			fs := vfs.NewMem(1)
			l, err := Open(fs, "p", Options{SegmentBytes: 4 << 10})
			if err != nil {
				t.Fatal(err)
			}
			appendVersionEntries(t, l, 1, 40)
			gen := l.active().gen
			l.Close()
			path, at := vfs.Join("p", segmentName(gen)), int64(frameHeaderSize+len(segmentMagic))
			if what == "checkpoint" {
				path, at = vfs.Join("p", checkpointFn), int64(len(checkpointMagic))
			}
			b, err := readFile(fs, path)
			if err != nil {
				t.Fatal(err)
			}
			binary.LittleEndian.PutUint16(b[at:], formatVersion+1)
			if what == "segment" { // re-checksum the header frame
				n := binary.LittleEndian.Uint32(b[4:])
				binary.LittleEndian.PutUint32(b, crc32.Checksum(b[4:frameHeaderSize+n], crcTable))
			} else {
				binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crcTable))
			}
			f, err := fs.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(b, 0); err != nil {
				t.Fatal(err)
			}
			f.Sync()
			f.Close()
			_, err = Open(fs, "p", Options{SegmentBytes: 4 << 10})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unsupported format version %d", formatVersion+1)) {
				t.Fatalf("open with a version %d %s: %v", formatVersion+1, what, err)
			}
		})
	}
}

// TestEntryHeaderV2RoundTrip: version 2's varint fields decode to what was
// encoded, at their encoded length, for any values; cut short, they fail
// as corruption rather than read past the record.
func TestEntryHeaderV2RoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := entryHeader{
			index: rapid.Uint64().Draw(t, "index"),
			term:  rapid.Uint64().Draw(t, "term"),
			etype: rapid.Uint8().Draw(t, "etype"),
			meta: EntryMeta{
				BaseOffset:   rapid.Int64().Draw(t, "base"),
				Count:        rapid.Uint32().Draw(t, "count"),
				MaxTimestamp: rapid.Int64().Draw(t, "ts"),
			},
		}
		b := appendEntryHeader(nil, h)
		if len(b) > entryMetaMax {
			t.Fatalf("%d bytes, more than entryMetaMax %d", len(b), entryMetaMax)
		}
		body := []byte("body")
		got, n, err := getEntryHeader(frame{typ: recEntryV2, payload: append(b, body...)})
		if err != nil || got != h || n != len(b) {
			t.Fatalf("decoded %+v, %d bytes, %v; want %+v, %d bytes", got, n, err, h, len(b))
		}
		cut := rapid.IntRange(0, len(b)-1).Draw(t, "cut")
		if _, _, err := getEntryHeader(frame{typ: recEntryV2, payload: b[:cut]}); err == nil {
			t.Fatalf("fields cut to %d of %d bytes decoded", cut, len(b))
		}
	})
}
