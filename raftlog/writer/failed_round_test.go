package writer

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
)

func noiseBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// Found by review (fixed: Round.Fail marks the log, and no later round of
// it touches the disk): a round's write fails (say ENOSPC for a moment). The partition's event
// loop had already made and submitted its next round, which lands in the
// writer's next cycle before the loop sees the failure: the writer's
// `failed` map lives for one cycle only, so that round runs. It rolls the
// segment: it writes the seal after the hole the failed round left, syncs,
// and renames in a checkpoint listing the segment as closed and good, with
// the failed round's entries in its range. The log on disk now claims
// entries that were never written; recovery trusts closed segments, so it
// opens with them, and every read of them fails: the partition is broken
// for good by a transient error ("a failed write is never retried and
// stops the log").
func TestRoundAfterFailedRoundInLaterCycleTouchesNoDisk(t *testing.T) {
	mem := vfs.NewMem(3)
	var failWrites atomic.Bool
	fs := vfs.Inject(mem, vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
		if op.Kind == vfs.OpWrite && failWrites.Load() {
			return vfs.Injection{Err: vfs.ErrENOSPC}
		}
		return vfs.Injection{}
	}))
	opts := raftlog.Options{SegmentBytes: 16 << 10}
	l, err := raftlog.Open(fs, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	w := New(fs, Options{SyncWorkers: 2})
	defer w.Close()
	type res struct {
		r   *raftlog.Round
		err error
	}
	results := make(chan res, 4)
	done := func(r *raftlog.Round, err error) { results <- res{r, err} }
	wait := func() res {
		select {
		case x := <-results:
			return x
		case <-time.After(10 * time.Second):
			t.Fatal("writer did not report")
		}
		return res{}
	}

	// R0: entries 1-2, durable.
	r0, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{ent(1, 1, noiseBytes(3000, 1)), ent(2, 1, noiseBytes(3000, 2))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Submit(r0, done); err != nil {
		t.Fatal(err)
	}
	x := wait()
	if err := l.Complete(x.r, x.err); err != nil {
		t.Fatal(err)
	}
	segsBefore := l.SegmentCount()

	// R1: entries 3-4 in the same segment; R2: entry 5, which rolls it.
	r1, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{ent(3, 1, noiseBytes(3000, 3)), ent(4, 1, noiseBytes(3000, 4))}})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{ent(5, 1, noiseBytes(9000, 5))}})
	if err != nil {
		t.Fatal(err)
	}
	if l.SegmentCount() != segsBefore+1 {
		t.Fatalf("R2 did not roll: %d segments", l.SegmentCount())
	}
	// R1 fails in its cycle.
	failWrites.Store(true)
	if err := w.Submit(r1, done); err != nil {
		t.Fatal(err)
	}
	x1 := wait()
	failWrites.Store(false)
	if x1.err == nil {
		t.Fatal("R1 did not fail")
	}
	// R2 was submitted before the loop saw R1's result.
	if err := w.Submit(r2, done); err != nil {
		t.Fatal(err)
	}
	x2 := wait()
	l.Complete(x1.r, x1.err)
	l.Complete(x2.r, x2.err)
	if !errors.Is(l.Err(), vfs.ErrENOSPC) {
		t.Fatalf("log not stopped by R1's failure: %v", l.Err())
	}
	l.Close()
	mem.Crash()

	// The partition reopens the log from disk.
	re, err := raftlog.Open(fs, "p", opts)
	if err != nil {
		t.Fatalf("reopen: %v (R2 ran after R1 failed: %v)", err, x2.err)
	}
	defer re.Close()
	last, _ := re.LastIndex()
	if _, err := re.Entries(1, last+1, 1<<30); err != nil {
		t.Fatalf("reopened log claims entries up to %d but cannot read them: %v (R2 ran after R1 failed: err %v)", last, err, x2.err)
	}
	if last > 2 {
		t.Fatalf("reopened log has entries up to %d; R1 (3-4) never reached the disk", last)
	}
}
