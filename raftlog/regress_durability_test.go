package raftlog

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// Found by review (fixed in durableBeyond, which now looks for zeroed pages
// only past the damaged frame): a durable entry stored raw whose body holds a zero-filled 4 KiB page (an
// entry snappy was not even tried on: the adaptive compression skips after
// eight incompressible entries) takes one flipped bit. Later completed
// rounds' sync marks prove it durable, but durableBeyond stops searching
// after the first 64 KiB chunk holding a zero page, which lies inside the
// damaged entry itself, before the next round's mark: the damage is taken
// for a torn tail and every later acknowledged entry silently disappears.
func TestZeroPageInsideDurableFrameIsCorruption(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	// Eight incompressible entries make compress stop trying.
	for i := uint64(1); i <= 8; i++ {
		r, err := l.Append(Batch{Entries: []*pb.Entry{ent(i, 1, noise(1024, i))}})
		mustRun(t, l, r, err)
	}
	// Entry 9: 80 KiB, 8 KiB of it zero; stored raw (not tried). The next
	// round's sync mark lies beyond the first 64 KiB searched.
	body := noise(80<<10, 99)
	clear(body[4<<10 : 12<<10])
	r, err := l.Append(Batch{Entries: []*pb.Entry{ent(9, 1, body)}})
	mustRun(t, l, r, err)
	s, pos := entryPosIn(t, l, 9)
	// More completed rounds: each begins with a sync mark proving entry 9.
	commitNoise(t, l, 10, 20)
	if l.SyncedIndex() != 20 {
		t.Fatalf("synced %d", l.SyncedIndex())
	}
	l.Close()
	corrupt(t, fs, s.path, pos+frameHeaderSize+entryMetaSize+10)
	fs.CrashClean()

	l, err = Open(fs, "p", opts)
	if err == nil {
		li, _ := l.LastIndex()
		t.Fatalf("opened over damage below the durable watermark: last index %d, want 20 or ErrCorrupt", li)
	}
	t.Logf("open: %v", err)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("segment %d offset %d", s.gen, pos)) {
		t.Fatalf("open: %v", err)
	}
}

// Same with a misdirected write (vfs.Mem.Misdirect) inside one large
// durable entry: the range it should have covered reads as zeros.
func TestMisdirectedWriteInsideDurableFrameIsCorruption(t *testing.T) {
	fs := vfs.NewMem(1)
	opts := Options{}
	l, err := Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Append(Batch{Entries: []*pb.Entry{ent(1, 1, noise(64<<10, 1))}})
	mustRun(t, l, r, err)
	s, pos := entryPosIn(t, l, 1)
	commitNoise(t, l, 2, 10)
	l.Close()
	if err := fs.Misdirect(s.path, pos+8<<10, pos+40<<10, 8<<10); err != nil {
		t.Fatal(err)
	}
	l, err = Open(fs, "p", opts)
	if err == nil {
		li, _ := l.LastIndex()
		t.Fatalf("opened over a misdirected write below the durable watermark: last index %d, want 10 or ErrCorrupt", li)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open: %v", err)
	}
}

// Found by review (fixed: reread, used by every strict scan, and the
// checkpoint read again): one bit flipped on the way from the disk (the stored bytes intact) while
// Open reads the checkpoint, or while it rebuilds a closed segment's
// missing index, fails the open with ErrCorrupt: neither read is retried,
// unlike the scan of the segments (rereadTries). A transient read error is
// reported as a corrupt log.
func TestFlakyReadOfCheckpointOrClosedSegmentIsReread(t *testing.T) {
	for _, what := range []string{"checkpoint", "rebuilt index"} {
		t.Run(what, func(t *testing.T) {
			mem := vfs.NewMem(1)
			opts := Options{SegmentBytes: 8 << 10}
			l, err := Open(mem, "p", opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := uint64(1); i <= 40; i++ { // several closed segments
				r, err := l.Append(Batch{Entries: []*pb.Entry{ent(i, 1, noise(500, i))}})
				mustRun(t, l, r, err)
			}
			if len(l.segs) < 3 {
				t.Fatalf("%d segments", len(l.segs))
			}
			first := l.segs[0]
			l.Close()
			target := checkpointFn
			if what == "rebuilt index" {
				if err := mem.Remove(vfs.Join("p", indexName(first.gen))); err != nil {
					t.Fatal(err)
				}
				target = segmentName(first.gen)
			}
			flipped := 0
			fs := vfs.Inject(mem, vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
				if op.Kind == vfs.OpRead && strings.HasSuffix(op.Path, target) && flipped == 0 && op.Len > 100 {
					flipped++
					return vfs.Injection{Flip: true, FlipBit: 8*60 + 3}
				}
				return vfs.Injection{}
			}))
			re, err := Open(fs, "p", opts)
			if flipped != 1 {
				t.Fatalf("flipped %d reads", flipped)
			}
			if err != nil {
				t.Fatalf("one flipped read of the %s fails the open: %v", what, err)
			}
			defer re.Close()
			got, err := re.Entries(1, 41, 1<<30)
			if err != nil || len(got) != 40 {
				t.Fatalf("entries: %d, %v", len(got), err)
			}
		})
	}
}

// commitNoise appends entries from..to of term 1, 1 KiB of incompressible
// data each, a round apiece with a hard state committing it: every round
// after the first begins with a sync mark proving the ones before durable.
// (appendN's are compressible.)
func commitNoise(t *testing.T, l *Log, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		r, err := l.Append(Batch{Entries: []*pb.Entry{ent(i, 1, noise(1024, i))},
			HardState: &pb.HardState{Term: new(uint64(1)), Commit: new(i)}})
		mustRun(t, l, r, err)
	}
}
