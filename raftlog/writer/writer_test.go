package writer

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
)

func ent(i, t uint64, data []byte) *pb.Entry {
	return &pb.Entry{Index: new(i), Term: new(t), Data: data}
}

type result struct {
	r   *raftlog.Round
	err error
}

// loop plays the partition event loop: it owns the logs, submits rounds, and
// completes them from the results the writer posts back.
type loop struct {
	t       *testing.T
	w       *Writer
	results chan result
	pending int
}

func newLoop(t *testing.T, w *Writer) *loop {
	return &loop{t: t, w: w, results: make(chan result, 1024)}
}

func (lp *loop) submit(r *raftlog.Round) {
	lp.t.Helper()
	lp.pending++
	if err := lp.w.Submit(r, func(r *raftlog.Round, err error) { lp.results <- result{r, err} }); err != nil {
		lp.t.Fatal(err)
	}
}

// completeAll waits for every submitted round and completes it, returning
// the errors by log.
func (lp *loop) completeAll() map[*raftlog.Log]error {
	errs := map[*raftlog.Log]error{}
	for ; lp.pending > 0; lp.pending-- {
		res := <-lp.results
		if err := res.r.Log().Complete(res.r, res.err); err != nil && errs[res.r.Log()] == nil {
			errs[res.r.Log()] = err
		}
	}
	return errs
}

func TestGroupCommitManyLogs(t *testing.T) {
	mem := vfs.NewMem(7)
	w := New(mem, Options{SyncWorkers: 4})
	defer w.Close()
	var cycles []CycleStats
	var mu sync.Mutex
	w.OnCycle = func(s CycleStats) { mu.Lock(); cycles = append(cycles, s); mu.Unlock() }
	lp := newLoop(t, w)

	const logs, perLog = 8, 50
	ls := openLogs(t, mem, logs)
	for i := uint64(1); i <= perLog; i++ {
		for p, l := range ls {
			r, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{ent(i, 1, bytes.Repeat([]byte{byte(p)}, 300))}})
			if err != nil {
				t.Fatal(err)
			}
			lp.submit(r)
		}
	}
	if errs := lp.completeAll(); len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, l := range ls {
		if l.StableIndex() != perLog {
			t.Fatalf("%s: stable %d", l.Dir(), l.StableIndex())
		}
	}
	mu.Lock()
	rounds := 0
	for _, c := range cycles {
		rounds += c.Rounds
	}
	mu.Unlock()
	if rounds != logs*perLog {
		t.Fatalf("cycles ran %d rounds, want %d", rounds, logs*perLog)
	}
	// Power loss keeps everything the writer reported done.
	mem.Crash()
	for p := 0; p < logs; p++ {
		l := openLog(t, mem, p)
		got, err := l.Entries(1, perLog+1, 1<<30)
		if err != nil || len(got) != perLog {
			t.Fatalf("p%d after crash: %d entries, %v", p, len(got), err)
		}
		for _, e := range got {
			if !bytes.Equal(e.GetData(), bytes.Repeat([]byte{byte(p)}, 300)) {
				t.Fatalf("p%d entry %d corrupted", p, e.GetIndex())
			}
		}
		l.Close()
	}
}

func TestFailedSyncStopsOnlyThatLog(t *testing.T) {
	mem := vfs.NewMem(3)
	inj := vfs.Inject(mem, nil)
	w := New(inj, Options{})
	defer w.Close()
	lp := newLoop(t, w)
	a, err := raftlog.Open(inj, "data/a", raftlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := raftlog.Open(inj, "data/b", raftlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inj.SetRule(vfs.On(vfs.OpSync, "data/a/", vfs.Injection{Err: vfs.ErrEIO}))
	for i := uint64(1); i <= 3; i++ {
		for _, l := range []*raftlog.Log{a, b} {
			r, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{ent(i, 1, []byte("x"))}})
			if err != nil {
				break // a stopped after its first failure was completed
			}
			lp.submit(r)
		}
	}
	errs := lp.completeAll()
	if errs[a] == nil || !vfs.IsIOError(errs[a]) {
		t.Fatalf("log a: want EIO, got %v", errs[a])
	}
	if errs[b] != nil {
		t.Fatalf("log b failed: %v", errs[b])
	}
	if _, err := a.Append(raftlog.Batch{Entries: []*pb.Entry{ent(4, 1, nil)}}); err == nil {
		t.Fatal("a stopped log accepted an append")
	}
	if b.StableIndex() != 3 {
		t.Fatalf("b stable %d", b.StableIndex())
	}
	// Once the disk is healthy, a reopens from what is on disk.
	inj.SetRule(nil)
	a.Close()
	a, err = raftlog.Open(inj, "data/a", raftlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := a.LastIndex(); last > 3 {
		t.Fatalf("a recovered last %d", last)
	}
}

func TestPoolHandsOutZeroedFiles(t *testing.T) {
	mem := vfs.NewMem(1)
	const seg = 64 << 10
	p, err := NewPool(mem, "spare", seg, 3*seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(3); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Ready != 3 {
		t.Fatalf("ready %d, want 3 (bounded by maxBytes)", st.Ready)
	}
	l, err := raftlog.Open(mem, "data/p0", raftlog.Options{SegmentBytes: seg, Allocator: p})
	if err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Hits != 1 {
		t.Fatalf("stats %+v: the first segment should come from the pool", st)
	}
	w := New(mem, Options{})
	lp := newLoop(t, w)
	for i := uint64(1); i <= 300; i++ {
		r, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{ent(i, 1, bytes.Repeat([]byte{byte(i)}, 700))}})
		if err != nil {
			t.Fatal(err)
		}
		lp.submit(r)
		if i%50 == 0 {
			if errs := lp.completeAll(); len(errs) > 0 {
				t.Fatal(errs)
			}
		}
	}
	if errs := lp.completeAll(); len(errs) > 0 {
		t.Fatal(errs)
	}
	w.Close()
	p.Close()
	l.Close()
	mem.Crash()
	// A new pool on the same directory hands out none of the old files
	// (a crash may have left a live segment under a ready name).
	p2, err := NewPool(mem, "spare", seg, 3*seg)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if err := p2.WaitReady(3); err != nil {
		t.Fatal(err)
	}
	for _, path := range p2.ready {
		f, err := mem.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, seg)
		if n, _ := f.ReadAt(b, 0); n != seg || !bytes.Equal(b, make([]byte, seg)) {
			t.Fatalf("%s: %d bytes, not all zero", path, n)
		}
		f.Close()
	}
	l, err = raftlog.Open(mem, "data/p0", raftlog.Options{SegmentBytes: seg, Allocator: p2})
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Entries(1, 301, 1<<30)
	if err != nil || len(got) != 300 {
		t.Fatalf("after crash: %d entries, %v", len(got), err)
	}
}

func TestSubmitAfterClose(t *testing.T) {
	mem := vfs.NewMem(1)
	w := New(mem, Options{})
	w.Close()
	l, err := raftlog.Open(mem, "d", raftlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{ent(1, 1, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Submit(r, func(*raftlog.Round, error) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

// TestPoolWaitReadyNoLostWakeup: WaitReady returns however its check and
// the fill interleave. It once read the state, and then asked for the next
// fill's channel: a fill that landed in between, filling the pool, closed
// no channel and stopped, and WaitReady waited for ever (a CI hang in
// TestPoolHandsOutZeroedFiles). Small files make fills land in that
// window: the old WaitReady hung within the 20,000 pools in each of three
// runs (at pools 16,552, 3,643 and 850); this takes about 0.4 s.
func TestPoolWaitReadyNoLostWakeup(t *testing.T) {
	const seg = 4 << 10
	for i := range 20000 {
		p, err := NewPool(vfs.NewMem(uint64(i)), "spare", seg, int64(1+i%3)*seg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- p.WaitReady(1 + i%3) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("pool %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("pool %d: WaitReady(%d) still waiting after 10 s with %d files ready", i, 1+i%3, p.Stats().Ready)
		}
		p.Close()
	}
}
