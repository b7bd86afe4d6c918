package raftlog

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"sluice/raftlog/vfs"
)

// The append path reuses its large arrays instead of allocating them afresh
// at every roll: on this project's VM each fresh page costs ~14 µs to fault
// in, and a new dense index per segment (2.5 MB at 64 MiB of 1 KiB entries)
// cost as much as the roll's syncs (recycleDense, pushTail).
// memLog opens a log on a fresh vfs.Mem, closed with the test.
func memLog(t *testing.T, mem *vfs.Mem, opts Options) *Log {
	t.Helper()
	l, err := Open(mem, "p0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// randomBytes returns n bytes snappy cannot shrink (stored raw).
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestAppendReusesIndexAndTailArrays(t *testing.T) {
	l := memLog(t, vfs.NewMem(3), Options{SegmentBytes: 256 << 10, TailCacheBytes: 32 << 10})
	data := randomBytes(rand.New(rand.NewPCG(3, 4)), 1<<10)
	dense := map[*entryPos]uint64{} // array (its last element) -> first segment using it
	tails := map[**pb.Entry]bool{}
	segs := map[uint64]bool{}
	idx := uint64(1)
	for len(segs) < 12 {
		var ents []*pb.Entry
		for range 16 {
			ents = append(ents, ent(idx, 1, data))
			idx++
		}
		r, err := l.Append(Batch{Entries: ents})
		mustRun(t, l, r, err)
		s := l.active()
		segs[s.gen] = true
		if c := cap(s.dense); c > 0 {
			if last := &s.dense[:c][c-1]; dense[last] == 0 {
				dense[last] = s.gen
			}
		}
		ct, ca := cap(l.tail), cap(l.tailArr)
		if ct == 0 || ca == 0 || &l.tail[:ct][ct-1] != &l.tailArr[:ca][ca-1] {
			t.Fatalf("entry %d: the tail cache is not in its array", idx-1)
		}
		tails[&l.tailArr[:ca][ca-1]] = true
	}
	// The first two segments allocate (the first's array is still being
	// sealed when the second starts); later ones take their turn with
	// those, or with a larger one when an index outgrew its array.
	if len(dense) > 3 {
		t.Errorf("%d segments used %d dense index arrays (first used by segments %v); want at most 3", len(segs), len(dense), dense)
	}
	// The cache holds about 32 entries and slides through its array: it
	// moves back to the array's start instead of into a new one.
	if len(tails) > 2 {
		t.Errorf("%d entries went through %d tail cache arrays; want at most 2", idx-1, len(tails))
	}
}

// A closed segment's index file is renamed into place unsynced (FileWrite
// Cache): a power loss may leave it empty, and the log then rebuilds the
// index from the segment, answering as before.
func TestUnsyncedIndexLostAtPowerLoss(t *testing.T) {
	mem := vfs.NewMem(5)
	opts := Options{SegmentBytes: 16 << 10}
	l := memLog(t, mem, opts)
	data := randomBytes(rand.New(rand.NewPCG(5, 6)), 700)
	cached := 0
	for i := uint64(1); i <= 120; i++ {
		r, err := l.Append(Batch{Entries: []*pb.Entry{ent(i, 1, data)}, Metas: []EntryMeta{{BaseOffset: int64(i-1) * 5, Count: 5, MaxTimestamp: int64(i) * 10}}})
		for _, fw := range r.Files {
			if fw.Cache != strings.HasSuffix(fw.Path, indexExt) {
				t.Fatalf("%s: Cache %v", fw.Path, fw.Cache)
			}
			if fw.Cache {
				cached++
			}
		}
		mustRun(t, l, r, err)
	}
	if cached < 3 {
		t.Fatalf("%d index files written; want a few rolls", cached)
	}
	type answers struct {
		ents          []*pb.Entry
		offIdx, tsIdx []uint64
		closed        []string // each closed segment's range and indexes
	}
	ask := func(l *Log) answers {
		var a answers
		var err error
		if a.ents, err = l.Entries(1, 121, math.MaxUint64); err != nil {
			t.Fatal(err)
		}
		for o := int64(0); o < 600; o += 37 {
			i, _, err := l.FindOffset(o)
			if err != nil {
				t.Fatal(err)
			}
			j, _, err := l.FindTimestamp(o * 2)
			if err != nil {
				t.Fatal(err)
			}
			a.offIdx, a.tsIdx = append(a.offIdx, i), append(a.tsIdx, j)
		}
		for _, s := range l.segs[:len(l.segs)-1] {
			a.closed = append(a.closed, fmt.Sprint(s.gen, s.first, s.last, s.sparse, s.times))
		}
		return a
	}
	before := ask(l)
	l.Close()
	mem.CrashClean() // keeps exactly what was synced: no index contents
	names, err := mem.List("p0")
	if err != nil {
		t.Fatal(err)
	}
	empty := 0
	for _, n := range names {
		if strings.HasSuffix(n, indexExt) {
			if b, err := readFile(mem, "p0/"+n); err == nil && len(b) == 0 {
				empty++
			}
		}
	}
	if empty == 0 {
		t.Fatalf("no index file came back empty from the power loss (files %v): the test does not test", names)
	}
	l, err = Open(mem, "p0", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	after := ask(l)
	if fmt.Sprint(after.offIdx, after.tsIdx) != fmt.Sprint(before.offIdx, before.tsIdx) {
		t.Errorf("FindOffset/FindTimestamp after the power loss %v %v, before %v %v", after.offIdx, after.tsIdx, before.offIdx, before.tsIdx)
	}
	// Recovery also closes the segment that was active.
	if len(after.closed) < len(before.closed) || fmt.Sprint(after.closed[:len(before.closed)]) != fmt.Sprint(before.closed) {
		t.Errorf("closed segments' indexes differ after the rebuild:\n%v\nwant\n%v", after.closed, before.closed)
	}
	if len(after.ents) != len(before.ents) {
		t.Fatalf("%d entries after, %d before", len(after.ents), len(before.ents))
	}
	for i := range after.ents {
		if !proto.Equal(after.ents[i], before.ents[i]) {
			t.Fatalf("entry %d differs after the power loss", i+1)
		}
	}
}

// The tail cache keeps every entry from tailFirst to the last while its
// length wavers with the entries' sizes: moving back to the start of its
// array or into a larger one loses none.
func TestTailCacheKeepsEveryRecentEntry(t *testing.T) {
	l := memLog(t, vfs.NewMem(6), Options{SegmentBytes: 1 << 20, TailCacheBytes: 32 << 10})
	rng := rand.New(rand.NewPCG(7, 8))
	var appended []*pb.Entry
	idx := uint64(1)
	for round := 0; round < 2000; round++ {
		var ents []*pb.Entry
		for range 1 + rng.IntN(8) {
			ents = append(ents, ent(idx, 1, randomBytes(rng, 1+rng.IntN(3000))))
			idx++
		}
		appended = append(appended, ents...)
		r, err := l.Append(Batch{Entries: ents})
		mustRun(t, l, r, err)
		if got, want := uint64(len(l.tail)), l.last+1-l.tailFirst; got != want {
			t.Fatalf("round %d: tail cache holds %d entries, [%d,%d] is %d", round, got, l.tailFirst, l.last, want)
		}
		var bytes int64
		for i, e := range l.tail {
			if e != appended[l.tailFirst+uint64(i)-1] {
				t.Fatalf("round %d: tail cache entry %d is not the one appended", round, l.tailFirst+uint64(i))
			}
			bytes += int64(entrySize(e))
		}
		if bytes != l.tailBytes {
			t.Fatalf("round %d: tail cache counts %d bytes, holds %d", round, l.tailBytes, bytes)
		}
		// Entries leave the cache only while it is over its budget.
		if f := l.tailFirst; f > 1 && bytes+int64(entrySize(appended[f-2])) <= l.opts.TailCacheBytes {
			t.Fatalf("round %d: tail cache dropped entry %d with %d bytes held, budget %d", round, f-1, bytes, l.opts.TailCacheBytes)
		}
	}
}
