package raftlog

// Fault tests: storage errors stop the log (fail-stop: no retry after a
// failed fsync) and it reopens consistent; read errors stop it with a clear
// error; damage below the durable watermark is reported, never silently
// truncated, while a torn tail above it is.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"syscall"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

const faultDir = "p0"

// faultLog is a log on an injecting FS over a crashable Mem, and what was
// written to it.
type faultLog struct {
	t    *testing.T
	mem  *vfs.Mem
	fs   *vfs.InjectFS
	opts Options
	l    *Log

	written map[uint64][]byte // entry data by index (no conflicts here)
	next    uint64            // next index to append
	done    uint64            // last index of a completed round
	ops     int               // operations the FS saw
}

func newFaultLog(t *testing.T, opts Options) *faultLog { return newFaultLogSeed(t, opts, 7) }

func newFaultLogSeed(t *testing.T, opts Options, seed uint64) *faultLog {
	f := &faultLog{t: t, mem: vfs.NewMem(seed), opts: opts, written: map[uint64][]byte{}, next: 1}
	f.fs = vfs.Inject(f.mem, nil)
	f.setRule(nil)
	f.open()
	return f
}

// setRule installs rule behind a counter of every operation.
func (f *faultLog) setRule(rule vfs.Rule) {
	f.fs.SetRule(vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
		f.ops++
		if rule == nil {
			return vfs.Injection{}
		}
		return rule.Inject(op)
	}))
}

func (f *faultLog) open() {
	f.t.Helper()
	l, err := Open(f.fs, faultDir, f.opts)
	if err != nil {
		f.t.Fatalf("open: %v", err)
	}
	f.l = l
	f.next = l.last + 1
}

// append prepares a round of n entries of incompressible data.
func (f *faultLog) append(n int) (*Round, error) {
	var ents []*pb.Entry
	for range n {
		d := incompressible(f.next, 300)
		f.written[f.next] = d
		ents = append(ents, ent(f.next, 1, d))
		f.next++
	}
	return f.l.Append(Batch{Entries: ents, HardState: &pb.HardState{Term: new(uint64(1)), Commit: new(f.done)}})
}

// commit appends n entries in one round and completes it.
func (f *faultLog) commit(n int) {
	f.t.Helper()
	r, err := f.append(n)
	if err != nil {
		f.t.Fatalf("append: %v", err)
	}
	if err := f.l.Complete(r, r.Run(f.fs)); err != nil {
		f.t.Fatalf("round: %v", err)
	}
	f.done = f.next - 1
}

// reopen closes the log, clears the fault, optionally loses power, opens
// the log again and checks it holds every completed entry and nothing that
// was not written.
func (f *faultLog) reopen(crash bool) {
	f.t.Helper()
	f.l.Close()
	f.setRule(nil)
	if crash {
		f.mem.Crash()
	}
	f.open()
	f.checkConsistent()
}

func (f *faultLog) checkConsistent() {
	f.t.Helper()
	l := f.l
	if l.last < f.done {
		f.t.Fatalf("reopened log ends at %d, before completed entry %d", l.last, f.done)
	}
	got, err := l.Entries(l.firstIndex(), l.last+1, math.MaxUint64)
	if err != nil && l.last >= l.firstIndex() {
		f.t.Fatalf("reopened log unreadable: %v", err)
	}
	for _, e := range got {
		if w, ok := f.written[e.GetIndex()]; !ok || !bytes.Equal(w, e.GetData()) {
			f.t.Fatalf("reopened log: entry %d was not written so", e.GetIndex())
		}
	}
	// The reopened log works.
	f.commit(2)
}

// work runs rounds until one fails — appends, and now and then a
// compaction and retention, so rolls (directory syncs, index files,
// checkpoints) and removals happen — and returns the first error.
func (f *faultLog) work(rounds int) error {
	for k := range rounds {
		r, err := f.append(3)
		if err != nil {
			return err
		}
		if err := f.l.Complete(r, r.Run(f.fs)); err != nil {
			return err
		}
		f.done = f.next - 1
		if k%4 == 3 {
			if r, err = f.l.Compact(f.done-2, nil, []byte("state")); err != nil {
				return err
			}
			if err := f.l.Complete(r, r.Run(f.fs)); err != nil {
				return err
			}
			if r, err = f.l.DeleteBefore(f.done - 2); err != nil {
				return err
			}
			if r != nil {
				if err := f.l.Complete(r, r.Run(f.fs)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// requireStopped checks that the log is stopped with err, and that no call
// does any I/O any more (nothing retries).
func (f *faultLog) requireStopped(err error, want error) {
	f.t.Helper()
	if err == nil || !errors.Is(err, want) {
		f.t.Fatalf("round error %v, want %v", err, want)
	}
	if f.l.Err() == nil || !errors.Is(f.l.Err(), want) {
		f.t.Fatalf("log not stopped with %v: %v", want, f.l.Err())
	}
	ops := f.ops
	if _, err := f.append(1); err == nil {
		f.t.Fatal("append on a stopped log succeeded")
	}
	f.next--
	if _, err := f.l.Compact(1, nil, nil); err == nil {
		f.t.Fatal("compact on a stopped log succeeded")
	}
	if _, err := f.l.DeleteBefore(f.next); err == nil {
		f.t.Fatal("delete on a stopped log succeeded")
	}
	if _, err := f.l.Entries(1, 2, math.MaxUint64); err == nil {
		f.t.Fatal("entries on a stopped log succeeded")
	}
	if f.ops != ops {
		f.t.Fatalf("a stopped log did %d more operations", f.ops-ops)
	}
}

func isSegment(op vfs.Op) bool { return strings.HasSuffix(op.Path, segmentExt) }

// TestFaultWriteSync: EIO or ENOSPC on a segment write or sync, or on the
// directory and file operations that finish a round, fails the round and
// stops the log; it reopens consistent, with or without a power loss.
func TestFaultWriteSync(t *testing.T) {
	eio := vfs.Injection{Err: vfs.ErrEIO}
	nospc := vfs.Injection{Err: vfs.ErrENOSPC}
	onSegment := func(kind vfs.OpKind, inj vfs.Injection) func() vfs.Rule {
		return func() vfs.Rule {
			return vfs.Once(vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
				if op.Kind == kind && isSegment(op) {
					return inj
				}
				return vfs.Injection{}
			}))
		}
	}
	on := func(kind vfs.OpKind, prefix string, inj vfs.Injection) func() vfs.Rule {
		return func() vfs.Rule { return vfs.Once(vfs.On(kind, prefix, inj)) }
	}
	cases := []struct {
		name string
		rule func() vfs.Rule // rules count: a fresh one per run
		want error
	}{
		{"write EIO", onSegment(vfs.OpWrite, eio), syscall.EIO},
		{"sync EIO", onSegment(vfs.OpSync, eio), syscall.EIO},
		{"write ENOSPC", onSegment(vfs.OpWrite, nospc), syscall.ENOSPC},
		{"syncdir EIO", on(vfs.OpSyncDir, "", eio), syscall.EIO},
		{"index sync EIO", on(vfs.OpSync, faultDir+"/0", eio), syscall.EIO},
		{"checkpoint rename EIO", on(vfs.OpRename, faultDir+"/"+checkpointFn, eio), syscall.EIO},
		{"checkpoint sync EIO", on(vfs.OpSync, faultDir+"/"+checkpointFn, eio), syscall.EIO},
		{"remove EIO", on(vfs.OpRemove, faultDir+"/", eio), syscall.EIO},
	}
	for _, tc := range cases {
		for _, crash := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/crash=%v", tc.name, crash), func(t *testing.T) {
				f := newFaultLog(t, Options{SegmentBytes: 4 << 10})
				f.commit(3)
				f.setRule(tc.rule())
				f.requireStopped(f.work(20), tc.want)
				f.reopen(crash)
			})
		}
	}
}

// TestFaultAllocate: creating a segment fails; the log stops at once.
func TestFaultAllocate(t *testing.T) {
	f := newFaultLog(t, Options{SegmentBytes: 2 << 10})
	f.commit(1)
	f.setRule(vfs.On(vfs.OpCreate, faultDir+"/0", vfs.Injection{Err: vfs.ErrENOSPC}))
	var err error
	for range 20 {
		var r *Round
		if r, err = f.append(2); err != nil {
			break
		}
		if err = f.l.Complete(r, r.Run(f.fs)); err != nil {
			break
		}
		f.done = f.next - 1
	}
	f.requireStopped(err, syscall.ENOSPC)
	f.reopen(true)
}

// TestFaultNoSpace fills a Mem with a capacity: the round fails with
// ENOSPC, opening fails cleanly while the disk is full, and the log
// reopens once space returns.
func TestFaultNoSpace(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			f := newFaultLog(t, Options{SegmentBytes: 8 << 10})
			f.commit(2)
			f.mem.SetCapacity(f.mem.UsedBytes() + 20<<10)
			var err error
			for range 200 {
				var r *Round
				if r, err = f.append(2); err != nil {
					break
				}
				if err = f.l.Complete(r, r.Run(f.fs)); err != nil {
					break
				}
				f.done = f.next - 1
			}
			f.requireStopped(err, syscall.ENOSPC)
			f.l.Close()
			if crash {
				f.mem.Crash()
			}
			f.mem.SetCapacity(f.mem.UsedBytes() + 10)
			if _, err := Open(f.fs, faultDir, f.opts); err == nil || !vfs.IsNoSpace(err) {
				t.Fatalf("open on a full disk: %v", err)
			}
			f.mem.SetCapacity(0)
			f.open()
			f.checkConsistent()
		})
	}
}

// TestFaultStopsInFlight: rounds in flight behind a failed one complete
// with the log's error and change nothing.
func TestFaultStopsInFlight(t *testing.T) {
	f := newFaultLog(t, Options{})
	f.commit(2)
	r1, err := f.append(2)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := f.append(2)
	if err != nil {
		t.Fatal(err)
	}
	stable := f.l.StableIndex()
	f.setRule(vfs.On(vfs.OpSync, faultDir+"/", vfs.Injection{Err: vfs.ErrEIO}))
	err = f.l.Complete(r1, r1.Run(f.fs))
	f.requireStopped(err, syscall.EIO)
	if err := f.l.Complete(r2, nil); err == nil || !errors.Is(err, syscall.EIO) {
		t.Fatalf("round behind a failed one: %v", err)
	}
	if f.l.StableIndex() != stable {
		t.Fatalf("stable index moved from %d to %d after a failure", stable, f.l.StableIndex())
	}
	f.reopen(true)
}

// TestFaultReadEIO: a read error stops the log with an error naming the
// segment and position — etcd raft panics on any Entries error but
// ErrCompacted, so the partition dies cleanly — never a panic here.
func TestFaultReadEIO(t *testing.T) {
	for _, flip := range []bool{false, true} {
		t.Run(fmt.Sprintf("flip=%v", flip), func(t *testing.T) {
			f := newFaultLog(t, Options{SegmentBytes: 4 << 10, TailCacheBytes: 1})
			for range 10 {
				f.commit(3)
			}
			inj := vfs.Injection{Err: vfs.ErrEIO}
			want := error(syscall.EIO)
			if flip {
				inj = vfs.Injection{Flip: true, FlipBit: 8*frameHeaderSize + 3}
				want = ErrCorrupt
			}
			f.setRule(vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
				if op.Kind == vfs.OpRead && isSegment(op) {
					return inj
				}
				return vfs.Injection{}
			}))
			_, err := f.l.Entries(2, 5, math.MaxUint64)
			if err == nil || !errors.Is(err, want) {
				t.Fatalf("entries with a failing read: %v, want %v", err, want)
			}
			if !strings.Contains(err.Error(), segmentName(1)) && !strings.Contains(err.Error(), "segment 1 ") {
				t.Fatalf("read error does not name the segment: %v", err)
			}
			if !strings.Contains(err.Error(), " at ") && !strings.Contains(err.Error(), "offset") {
				t.Fatalf("read error does not name the position: %v", err)
			}
			f.requireStopped(err, want)
			if _, _, err := f.l.FindOffset(0); err == nil {
				t.Fatal("FindOffset on a stopped log succeeded")
			}
			f.reopen(false)
		})
	}
}

// TestFaultOpenReadEIO: a read error while recovering fails Open.
func TestFaultOpenReadEIO(t *testing.T) {
	f := newFaultLog(t, Options{SegmentBytes: 4 << 10})
	for range 5 {
		f.commit(3)
	}
	f.l.Close()
	for _, kind := range []vfs.OpKind{vfs.OpRead, vfs.OpList, vfs.OpOpen, vfs.OpStat} {
		f.setRule(vfs.On(kind, faultDir, vfs.Injection{Err: vfs.ErrEIO}))
		if _, err := Open(f.fs, faultDir, f.opts); err == nil || !errors.Is(err, syscall.EIO) {
			t.Fatalf("open with %v failing: %v", kind, err)
		}
	}
	f.setRule(nil)
	f.open()
	f.checkConsistent()
}

// corrupt flips one byte of a file, durably.
func corrupt(t *testing.T, mem *vfs.Mem, path string, off int64) {
	t.Helper()
	fl, err := mem.OpenReadWrite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	b := make([]byte, 1)
	if _, err := fl.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := fl.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := fl.Sync(); err != nil {
		t.Fatal(err)
	}
}

// entryPosIn returns the position of entry i's frame in the active segment.
func entryPosIn(t *testing.T, l *Log, i uint64) (*segment, int64) {
	t.Helper()
	s := l.segmentFor(i)
	if s == nil || s.dense == nil {
		t.Fatalf("entry %d is not in the active segment", i)
	}
	return s, s.dense[i-s.first].pos
}

// TestCorruptBelowWatermark: a bit flip in a frame that a later sync mark
// proves durable is corruption: Open fails naming segment and offset,
// wrapping ErrCorrupt, instead of truncating acknowledged entries.
func TestCorruptBelowWatermark(t *testing.T) {
	for _, what := range []string{"active", "sealed unchecked"} {
		t.Run(what, func(t *testing.T) {
			f := newFaultLog(t, Options{})
			for range 4 {
				f.commit(2) // each round after the first begins with a sync mark
			}
			s, pos := entryPosIn(t, f.l, 3)
			if what == "sealed unchecked" {
				// Seal the segment in a round whose checkpoint never lands:
				// recovery must scan the sealed segment.
				f.opts.SegmentBytes = s.size + 100
				f.l.opts.SegmentBytes = f.opts.SegmentBytes
				r, err := f.append(1)
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Files) == 0 {
					t.Fatal("the round did not roll")
				}
				r.Files = nil
				r.Removes = nil
				if err := f.l.Complete(r, r.Run(f.fs)); err != nil {
					t.Fatal(err)
				}
				if !s.sealed {
					t.Fatal("segment not sealed")
				}
			}
			f.l.Close()
			corrupt(t, f.mem, s.path, pos+frameHeaderSize+entryMetaSize+10)
			_, err := Open(f.fs, faultDir, f.opts)
			if err == nil || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open over a flipped durable byte: %v", err)
			}
			if want := fmt.Sprintf("segment %d offset %d", s.gen, pos); !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not name %q", err, want)
			}
		})
	}
}

// TestCorruptClosedSegment: closed segments are trusted through the
// checkpoint and not scanned by Open; damage in one is found by the read
// that meets it (or by Open when the index must be rebuilt), never served.
func TestCorruptClosedSegment(t *testing.T) {
	for _, dropIndex := range []bool{false, true} {
		t.Run(fmt.Sprintf("dropIndex=%v", dropIndex), func(t *testing.T) {
			f := newFaultLog(t, Options{SegmentBytes: 4 << 10, TailCacheBytes: 1})
			for range 12 {
				f.commit(2)
			}
			s := f.l.segs[0]
			if !s.sealed || len(f.l.segs) < 3 {
				t.Fatal("want closed segments")
			}
			f.l.Close()
			// The third entry of the segment: find its frame by scanning.
			fl, err := f.mem.Open(s.path)
			if err != nil {
				t.Fatal(err)
			}
			sc, _ := newScanner(fl, s.gen, 0)
			var pos int64 = -1
			for pos < 0 {
				p, fr, err := sc.next()
				if err != nil {
					t.Fatal(err)
				}
				if h, _, _ := getEntryHeader(fr); isEntry(fr.typ) && h.index == s.first+2 {
					pos = p
				}
			}
			fl.Close()
			corrupt(t, f.mem, s.path, pos+frameHeaderSize+entryMetaSize+5)
			want := fmt.Sprintf("segment %d offset %d", s.gen, pos)
			if dropIndex {
				if err := f.mem.Remove(vfs.Join(faultDir, indexName(s.gen))); err != nil {
					t.Fatal(err)
				}
				_, err := Open(f.fs, faultDir, f.opts)
				if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
					t.Fatalf("open with a damaged closed segment and no index: %v (want %q)", err, want)
				}
				return
			}
			f.open()
			_, err = f.l.Entries(s.first, s.last+1, math.MaxUint64)
			if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
				t.Fatalf("reading a damaged closed segment: %v (want %q)", err, want)
			}
			if f.l.Err() == nil {
				t.Fatal("the log was not stopped")
			}
		})
	}
}

// TestTornTailAboveWatermark: a round written but never synced, then torn
// by a power loss (or garbage past the end of the log), is cut off
// silently: the log keeps every completed round.
func TestTornTailAboveWatermark(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			f := newFaultLogSeed(t, Options{SegmentBytes: 16 << 10}, seed)
			for range 3 {
				f.commit(3)
			}
			r, err := f.append(6)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.WriteAll(); err != nil {
				t.Fatal(err)
			}
			f.mem.Crash()
			f.open()
			f.checkConsistent()
		})
	}
	t.Run("garbage", func(t *testing.T) {
		f := newFaultLog(t, Options{})
		for range 3 {
			f.commit(3)
		}
		s := f.l.active()
		f.l.Close()
		fl, err := f.mem.OpenReadWrite(s.path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fl.WriteAt(incompressible(9, 5000), s.size); err != nil {
			t.Fatal(err)
		}
		fl.Sync()
		fl.Close()
		f.open()
		f.checkConsistent()
	})
}

// TestTransientReadErrorAtRecoveryKeepsTail: a bit flipped on one read of
// the last frame during recovery (a flaky bus, not the disk) must not be
// taken for a torn tail: recovery reads it again and keeps every record.
func TestTransientReadErrorAtRecoveryKeepsTail(t *testing.T) {
	f := newFaultLog(t, Options{})
	for range 5 {
		f.commit(3)
	}
	last := f.l.last
	hs, _, err := f.l.InitialState()
	if err != nil {
		t.Fatal(err)
	}
	commit := hs.GetCommit()
	f.l.Close()
	var seg string
	var size int64
	names, err := f.mem.List(faultDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".seg") {
			seg = n // the newest segment sorts last
		}
	}
	if size, err = f.mem.Stat(faultDir + "/" + seg); err != nil {
		t.Fatal(err)
	}
	target := size - 5 // inside the last frame
	flipped := false
	f.setRule(vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
		if flipped || op.Kind != vfs.OpRead || !strings.HasSuffix(op.Path, seg) ||
			target < op.Off || target >= op.Off+int64(op.Len) {
			return vfs.Injection{}
		}
		flipped = true
		return vfs.Injection{Flip: true, FlipBit: uint64(8*(target-op.Off) + 3)}
	}))
	f.open()
	if !flipped {
		t.Fatal("no read of the last frame was injected")
	}
	if f.l.last != last {
		t.Fatalf("recovered up to entry %d, want %d: a transient read error cut the tail", f.l.last, last)
	}
	if hs, _, err := f.l.InitialState(); err != nil || hs.GetCommit() != commit {
		t.Fatalf("recovered hard state commit %d (%v), want %d: a transient read error cut the tail", hs.GetCommit(), err, commit)
	}
	f.setRule(nil)
	f.checkConsistent()
}
