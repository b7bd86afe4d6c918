package raftlog

import (
	"bytes"
	"math/rand/v2"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"sluice/raftlog/vfs"
)

// Large raw bodies are written from the entries' own memory, beside the
// round's buffer, and WriteAll joins them into vectored writes. Entries of
// every kind (small, large and random, large and compressible), across
// segment rolls, must read back the same from the tail, from the files and
// after reopening; and the entries' memory must never be reused as a write
// buffer.
func TestLargeBodiesRoundTrip(t *testing.T) {
	for _, name := range []string{"mem", "os"} {
		t.Run(name, func(t *testing.T) {
			var fs vfs.FS = vfs.NewMem(1)
			dir := "p0"
			if name == "os" {
				fs = vfs.OS()
				dir = t.TempDir() + "/p0"
			}
			opts := Options{SegmentBytes: 256 << 10, TailCacheBytes: 64 << 10}
			l, err := Open(fs, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(9, 9))
			var want []*pb.Entry
			var copies [][]byte
			idx := uint64(1)
			for round := 0; round < 60; round++ {
				var ents []*pb.Entry
				for k := rng.IntN(8) + 1; k > 0; k-- {
					var data []byte
					switch rng.IntN(4) {
					case 0:
						data = make([]byte, rng.IntN(zeroCopyBytes))
					case 1:
						data = make([]byte, zeroCopyBytes+rng.IntN(40<<10))
					case 2:
						data = bytes.Repeat([]byte("sluice"), (zeroCopyBytes+rng.IntN(40<<10))/6)
					case 3:
						data = nil
					}
					if len(data) > 0 && data[0] == 0 {
						for i := range data {
							data[i] = byte(rng.Uint32())
						}
					}
					e := ent(idx, 1, data)
					idx++
					ents = append(ents, e)
					want = append(want, e)
					copies = append(copies, bytes.Clone(data))
				}
				r, err := l.Append(Batch{Entries: ents, HardState: &pb.HardState{Term: new(uint64(1)), Commit: new(idx - 1)}})
				mustRun(t, l, r, err)
			}
			for i, e := range want {
				if !bytes.Equal(e.Data, copies[i]) {
					t.Fatalf("entry %d: its data changed after being written", e.GetIndex())
				}
			}
			check := func(l *Log) {
				t.Helper()
				for lo := uint64(1); lo < idx; {
					got, err := l.Entries(lo, idx, 1<<30)
					if err != nil {
						t.Fatal(err)
					}
					for _, g := range got {
						if w := want[g.GetIndex()-1]; !proto.Equal(g, w) {
							t.Fatalf("entry %d: got %d bytes, want %d", g.GetIndex(), len(g.Data), len(w.Data))
						}
					}
					lo += uint64(len(got))
				}
			}
			check(l)
			if len(l.segs) < 3 {
				t.Fatalf("only %d segments: the test should roll", len(l.segs))
			}
			l.Close()
			l, err = Open(fs, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			check(l)
		})
	}
}
