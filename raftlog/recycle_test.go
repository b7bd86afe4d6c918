package raftlog

import (
	"math/rand/v2"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// The append path reuses its large arrays instead of allocating them afresh
// at every roll: on this project's VM each fresh page costs ~14 µs to fault
// in, and a new dense index per segment (2.5 MB at 64 MiB of 1 KiB entries)
// cost as much as the roll's syncs (recycleDense, pushTail).
func TestAppendReusesIndexAndTailArrays(t *testing.T) {
	l, err := Open(vfs.NewMem(3), "p0", Options{SegmentBytes: 256 << 10, TailCacheBytes: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 1<<10)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
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
