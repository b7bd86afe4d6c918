package raftlog

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"pgregory.net/rapid"

	"sluice/raftlog/vfs"
)

func TestCRCCombine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Lengths around the powers of two the combination walks, and
		// knownCRCMinBytes, are the likeliest to go wrong.
		n := rapid.OneOf(rapid.IntRange(0, 70), rapid.IntRange(4000, 70000), rapid.SampledFrom([]int{1, 2, 3, 4, 8, 16, 1 << 14, 1<<14 - 1, 1<<14 + 1, 1 << 16})).Draw(t, "lenB")
		a := rapid.SliceOfN(rapid.Byte(), 0, 100).Draw(t, "a")
		b := make([]byte, n)
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		want := crc32.Checksum(append(append([]byte(nil), a...), b...), crcTable)
		if got := crcCombine(crc32.Checksum(a, crcTable), crc32.Checksum(b, crcTable), len(b)); got != want {
			t.Fatalf("combine over %d+%d bytes: %08x, want %08x", len(a), len(b), got, want)
		}
		if got := frameCRC(a, b, KnownCRC{Len: len(b), CRC: crc32.Checksum(b, crcTable)}); got != want {
			t.Fatalf("frameCRC with the whole body known: %08x, want %08x", got, want)
		}
		k := rapid.IntRange(0, len(b)).Draw(t, "known")
		if got := frameCRC(a, b, KnownCRC{Len: k, CRC: crc32.Checksum(b[len(b)-k:], crcTable)}); got != want {
			t.Fatalf("frameCRC with the last %d bytes known: %08x, want %08x", k, got, want)
		}
	})
}

// TestFrameCRCTrustsKnown shows the known CRC is what the frame's CRC is
// made of from knownCRCMinBytes on, and ignored below.
func TestFrameCRCTrustsKnown(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	head := randomBytes(rng, 50)
	for _, n := range []int{knownCRCMinBytes - 1, knownCRCMinBytes, 64 << 10} {
		body := randomBytes(rng, n+10)
		right := crc32.Checksum(body[10:], crcTable)
		want := crc32.Update(crc32.Checksum(head, crcTable), crcTable, body)
		if got := frameCRC(head, body, KnownCRC{Len: n, CRC: right}); got != want {
			t.Fatalf("%d bytes known: %08x, want %08x", n, got, want)
		}
		got := frameCRC(head, body, KnownCRC{Len: n, CRC: right ^ 1})
		if used := n >= knownCRCMinBytes; (got != want) != used {
			t.Fatalf("%d bytes known with a wrong CRC: frame CRC %08x, computed %08x (used: %v)", n, got, want, used)
		}
	}
}

// knownBatches makes rounds of entries of mixed sizes and kinds (small,
// zero-copy, incompressible and compressible), with the CRC of a random
// tail of each as its caller would know it.
func knownBatches(rng *rand.Rand, rounds int) [][]*pb.Entry {
	var out [][]*pb.Entry
	index := uint64(1)
	for range rounds {
		var ents []*pb.Entry
		for range 1 + rng.IntN(6) {
			var data []byte
			switch rng.IntN(4) {
			case 0:
				data = randomBytes(rng, rng.IntN(3000))
			case 1:
				data = randomBytes(rng, knownCRCMinBytes+rng.IntN(100<<10))
			case 2:
				data = bytes.Repeat([]byte("sluice"), 5000+rng.IntN(10000))
			case 3:
				data = randomBytes(rng, 4<<10+rng.IntN(knownCRCMinBytes))
			}
			ents = append(ents, ent(index, 1, data))
			index++
		}
		out = append(out, ents)
	}
	return out
}

func knownOf(rng *rand.Rand, ents []*pb.Entry) []KnownCRC {
	ks := make([]KnownCRC, len(ents))
	for i, e := range ents {
		n := len(e.Data) - rng.IntN(64)
		if n < 0 {
			n = 0
		}
		ks[i] = KnownCRC{Len: n, CRC: crc32.Checksum(e.Data[len(e.Data)-n:], crcTable)}
	}
	return ks
}

// TestKnownCRCWritesTheSameBytes appends the same rounds to two logs, one
// given the entries' known CRCs: every file must be byte for byte the same,
// and the log given them reopens (recovery checks every frame) with the
// same entries.
func TestKnownCRCWritesTheSameBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	batches := knownBatches(rng, 60)
	opts := Options{SegmentBytes: 1 << 20}
	plain, known := vfs.NewMem(1), vfs.NewMem(1)
	lp, lk := memLog(t, plain, opts), memLog(t, known, opts)
	for _, ents := range batches {
		r, err := lp.Append(Batch{Entries: ents})
		mustRun(t, lp, r, err)
		r, err = lk.Append(Batch{Entries: ents, Known: knownOf(rng, ents)})
		mustRun(t, lk, r, err)
	}
	names, err := plain.List("p0")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 4 {
		t.Fatalf("the test wants several segments, got files %v", names)
	}
	for _, n := range names {
		a, err := readFile(plain, "p0/"+n)
		if err != nil {
			t.Fatal(err)
		}
		b, err := readFile(known, "p0/"+n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs between the log that computed its CRCs and the one given them", n)
		}
	}
	lk.Close()
	re, err := Open(known, "p0", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	last := batches[len(batches)-1]
	got, err := re.ReadEntries(1, last[len(last)-1].GetIndex()+1, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, ents := range batches {
		for _, e := range ents {
			if !bytes.Equal(got[i].Data, e.Data) {
				t.Fatalf("entry %d reads back different", e.GetIndex())
			}
			i++
		}
	}
}

// TestWrongKnownCRCIsCorruption: a known CRC that does not match the bytes
// makes a frame that fails its check, so the damage is reported when the
// entry is read, never served.
func TestWrongKnownCRCIsCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	mem := vfs.NewMem(1)
	opts := Options{TailCacheBytes: 1} // reads come from the disk
	l := memLog(t, mem, opts)
	data := randomBytes(rng, 64<<10)
	r, err := l.Append(Batch{Entries: []*pb.Entry{ent(1, 1, data)}, Known: []KnownCRC{{Len: len(data), CRC: crc32.Checksum(data, crcTable) ^ 0x80}}})
	mustRun(t, l, r, err)
	r, err = l.Append(Batch{Entries: []*pb.Entry{ent(2, 1, []byte("next"))}})
	mustRun(t, l, r, err)
	if _, err := l.ReadEntries(1, 2, 1<<30); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading the entry stored under a wrong known CRC: %v, want ErrCorrupt", err)
	}
	l.Close()
	if _, err := Open(mem, "p0", opts); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reopening: %v, want ErrCorrupt (the bad frame lies below the next round's sync mark)", err)
	}
}

func TestKnownCRCMustFitTheData(t *testing.T) {
	l := memLog(t, vfs.NewMem(1), Options{})
	if _, err := l.Append(Batch{Entries: []*pb.Entry{ent(1, 1, []byte("abc"))}, Known: []KnownCRC{{Len: 4}}}); err == nil {
		t.Fatal("a known CRC longer than the data was accepted")
	}
	l = memLog(t, vfs.NewMem(1), Options{})
	if _, err := l.Append(Batch{Entries: []*pb.Entry{ent(1, 1, []byte("abc"))}, Known: []KnownCRC{{}, {}}}); err == nil {
		t.Fatal("two known CRCs for one entry were accepted")
	}
}

func BenchmarkCRCCombine(b *testing.B) {
	for _, n := range []int{1 << 10, 16 << 10, 64 << 10, 1 << 20} {
		data := randomBytes(rand.New(rand.NewPCG(1, 1)), n)
		crc := crc32.Checksum(data, crcTable)
		b.Run("combine/"+sizeName(n), func(b *testing.B) {
			for b.Loop() {
				crcCombine(0x12345678, crc, n)
			}
		})
		b.Run("checksum/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				crc32.Update(0x12345678, crcTable, data)
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return strconv.Itoa(n>>20) + "MiB"
	}
	return strconv.Itoa(n>>10) + "KiB"
}
