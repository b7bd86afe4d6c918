package raftlog

import (
	"bytes"
	"fmt"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

func ent(i, t uint64, data []byte) *pb.Entry {
	return &pb.Entry{Index: new(i), Term: new(t), Type: new(pb.EntryNormal), Data: data}
}

func mustRun(t testing.TB, l *Log, r *Round, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if r == nil {
		return
	}
	if err := l.Complete(r, r.Run(l.fs)); err != nil {
		t.Fatal(err)
	}
}

func TestSmoke(t *testing.T) {
	for _, name := range []string{"mem", "os"} {
		t.Run(name, func(t *testing.T) {
			var fs vfs.FS = vfs.NewMem(1)
			dir := "p0"
			if name == "os" {
				fs = vfs.OS()
				dir = t.TempDir() + "/p0"
			}
			opts := Options{SegmentBytes: 4096, TailCacheBytes: 1024}
			l, err := Open(fs, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			var want []*pb.Entry
			for i := uint64(1); i <= 200; i++ {
				e := ent(i, 1+i/50, bytes.Repeat([]byte(fmt.Sprint(i)), int(i%40)))
				want = append(want, e)
				r, err := l.Append(Batch{Entries: []*pb.Entry{e}, Metas: []EntryMeta{{BaseOffset: int64(i-1) * 2, Count: 2, MaxTimestamp: int64(i * 10)}},
					HardState: &pb.HardState{Term: new(1 + i/50), Commit: new(i - 1)}})
				mustRun(t, l, r, err)
			}
			check := func(l *Log) {
				t.Helper()
				got, err := l.Entries(1, 201, 1<<30)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 200 {
					t.Fatalf("got %d entries", len(got))
				}
				for i := range got {
					if got[i].GetIndex() != want[i].GetIndex() || !bytes.Equal(got[i].GetData(), want[i].GetData()) || got[i].GetTerm() != want[i].GetTerm() {
						t.Fatalf("entry %d: got %v want %v", i, got[i], want[i])
					}
				}
				for i := uint64(1); i <= 200; i++ {
					g, err := l.Entries(i, i+1, 0)
					if err != nil || len(g) != 1 || g[0].GetIndex() != i {
						t.Fatalf("Entries(%d): %v %v", i, g, err)
					}
					tm, err := l.Term(i)
					if err != nil || tm != 1+i/50 {
						t.Fatalf("Term(%d) = %d, %v", i, tm, err)
					}
				}
				idx, ok, err := l.FindOffset(101)
				if err != nil || !ok || idx != 51 {
					t.Fatalf("FindOffset(101) = %d %v %v", idx, ok, err)
				}
				idx, ok, err = l.FindTimestamp(1234)
				if err != nil || !ok || idx != 124 {
					t.Fatalf("FindTimestamp(1234) = %d %v %v", idx, ok, err)
				}
			}
			check(l)
			if len(l.segs) < 3 {
				t.Fatalf("expected rolls, have %d segments", len(l.segs))
			}
			l.Close()
			l, err = Open(fs, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			check(l)
			hs, _, _ := l.InitialState()
			if hs.GetCommit() != 199 {
				t.Fatalf("hs %v", hs)
			}
			// conflicting append
			r, err := l.Append(Batch{Entries: []*pb.Entry{ent(150, 9, []byte("x")), ent(151, 9, []byte("y"))}})
			mustRun(t, l, r, err)
			if li, _ := l.LastIndex(); li != 151 {
				t.Fatalf("last %d", li)
			}
			mustRun(t, l, nil, nil)
			r, err = l.Compact(120, nil, []byte("state"))
			mustRun(t, l, r, err)
			r, err = l.DeleteBefore(120)
			mustRun(t, l, r, err)
			l.Close()
			l, err = Open(fs, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			if fi, _ := l.FirstIndex(); fi != 121 {
				t.Fatalf("first %d", fi)
			}
			got, err := l.Entries(121, 152, 1<<30)
			if err != nil || len(got) != 31 || string(got[29].GetData()) != "x" || got[30].GetTerm() != 9 {
				t.Fatalf("after reopen: %d %v %q %d", len(got), err, got[29].GetData(), got[30].GetTerm())
			}
			if o := l.OldestIndex(); o > 121 || o < 2 {
				t.Fatalf("oldest %d", o)
			}
			l.Close()
		})
	}
}
