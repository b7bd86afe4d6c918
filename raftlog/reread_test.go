package raftlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// Bits flipped on the way from the disk, the stored bytes intact, must not
// pass for damage while recovery scans: it reads an invalid frame again,
// up to rereadTries more times, before it believes it. Believed, a flip in
// the last round reads as a torn tail, and recovery cuts off synced
// entries (in the simulator, a reopened partition lost its only copy of the
// hard state so); a flip below the durable watermark fails the open as
// corruption. Here the same spot reads wrong twice in a row, which one
// re-read did not survive; damage that stays is still found.
func TestFlakyReadsAreNotDamage(t *testing.T) {
	for _, c := range []struct {
		where string
		flips int // reads of the spot that come back flipped
		ok    bool
	}{
		{"last round", 2, true},
		{"earlier round", 2, true},
		{"last round", 1 + rereadTries + 1, false},    // every read: a torn tail, cut
		{"earlier round", 1 + rereadTries + 1, false}, // every read: corruption
	} {
		t.Run(fmt.Sprintf("%s/%d-flipped-reads", c.where, c.flips), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(4, 4))
			mem := vfs.NewMem(1)
			l, err := Open(mem, "p0", Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want []*pb.Entry
			index := uint64(1)
			for range 10 {
				var ents []*pb.Entry
				for range 3 {
					ents = append(ents, ent(index, 1, randomBytes(rng, 500)))
					index++
				}
				r, err := l.Append(Batch{Entries: ents})
				mustRun(t, l, r, err)
				want = append(want, ents...)
			}
			seg := l.active().path
			l.Close()
			size, err := mem.Stat(seg)
			if err != nil {
				t.Fatal(err)
			}
			target := size - 300 // inside the last entry
			if c.where == "earlier round" {
				target = size / 3
			}
			flipped := 0
			fs := vfs.Inject(mem, vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
				if op.Kind == vfs.OpRead && strings.HasSuffix(op.Path, segmentExt) && flipped < c.flips &&
					op.Off <= target && target < op.Off+int64(op.Len) {
					flipped++
					return vfs.Injection{Flip: true, FlipBit: uint64(target-op.Off) * 8}
				}
				return vfs.Injection{}
			}))
			re, err := Open(fs, "p0", Options{})
			if !c.ok {
				switch {
				case c.where == "earlier round" && !errors.Is(err, ErrCorrupt):
					t.Fatalf("a spot that reads wrong every time below the watermark: %v, want ErrCorrupt", err)
				case c.where == "last round" && err != nil:
					t.Fatalf("a spot that reads wrong every time in the last round: %v, want a torn tail", err)
				case c.where == "last round":
					defer re.Close()
					if last, _ := re.LastIndex(); last != index-2 {
						t.Fatalf("recovered up to %d, want the torn last entry cut: %d", last, index-2)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("reopening after %d flipped reads: %v", c.flips, err)
			}
			defer re.Close()
			if flipped != c.flips {
				t.Fatalf("the test flipped %d reads, want %d", flipped, c.flips)
			}
			got, err := re.ReadEntries(1, index, 1<<30)
			if err != nil || len(got) != len(want) {
				t.Fatalf("read back %d entries of %d, %v", len(got), len(want), err)
			}
			for i := range want {
				if !bytes.Equal(got[i].Data, want[i].Data) {
					t.Fatalf("entry %d reads back different", want[i].GetIndex())
				}
			}
		})
	}
}
