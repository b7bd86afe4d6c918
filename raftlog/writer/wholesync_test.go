package writer

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
)

// opCounter is an injection rule that injects nothing and counts syncs.
type opCounter struct {
	mu          sync.Mutex
	fileSyncs   int // File.Sync of a segment under data/
	wholeSyncs  int
	failWhole   bool
	failedWhole int
}

func (c *opCounter) Inject(op vfs.Op) vfs.Injection {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch op.Kind {
	case vfs.OpSync:
		if strings.HasSuffix(op.Path, ".seg") {
			c.fileSyncs++
		}
	case vfs.OpSyncFS:
		c.wholeSyncs++
		if c.failWhole {
			c.failedWhole++
			return vfs.Injection{Err: vfs.ErrEIO}
		}
	}
	return vfs.Injection{}
}

func (c *opCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fileSyncs, c.wholeSyncs, c.failedWhole = 0, 0, 0
}

// newWholeSyncWriter returns a Writer syncing with a WholeSync of an
// injecting FS over Mem, and the rule counting its syncs.
func newWholeSyncWriter(t *testing.T, seed uint64) (*vfs.Mem, *opCounter, *vfs.InjectFS, *Writer) {
	t.Helper()
	mem := vfs.NewMem(seed)
	c := &opCounter{}
	inj := vfs.Inject(mem, c)
	if err := inj.MkdirAll("data"); err != nil {
		t.Fatal(err)
	}
	ws, err := inj.OpenWholeSync("data")
	if err != nil {
		t.Fatal(err)
	}
	return mem, c, inj, New(inj, Options{WholeSync: ws})
}

// openLogs opens n logs under data/ on fs.
func openLogs(t *testing.T, fs vfs.FS, n int) []*raftlog.Log {
	t.Helper()
	var ls []*raftlog.Log
	for p := 0; p < n; p++ {
		ls = append(ls, openLog(t, fs, p))
	}
	return ls
}

// openLog opens (or reopens) log p under data/ on fs.
func openLog(t *testing.T, fs vfs.FS, p int) *raftlog.Log {
	t.Helper()
	l, err := raftlog.Open(fs, fmt.Sprintf("data/p%d", p), raftlog.Options{SegmentBytes: 8 << 10})
	if err != nil {
		t.Fatalf("open data/p%d: %v", p, err)
	}
	return l
}

// submitRound appends entry i to every log and submits the rounds together,
// as an event loop hands over one pass.
func submitRound(t *testing.T, lp *loop, ls []*raftlog.Log, i uint64) {
	t.Helper()
	var rounds []*raftlog.Round
	for p, l := range ls {
		r, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{ent(i, 1, bytes.Repeat([]byte{byte(p)}, 300))}})
		if err != nil {
			t.Fatal(err)
		}
		rounds = append(rounds, r)
	}
	lp.pending += len(rounds)
	if err := lp.w.SubmitAll(rounds, func(r *raftlog.Round, err error) { lp.results <- result{r, err} }); err != nil {
		t.Fatal(err)
	}
}

// TestWholeSyncGroupCommit: cycles touching several files sync them with
// one whole sync and no fdatasync each, and power loss keeps every round
// reported done; a cycle below WholeSyncMinFiles syncs file by file.
func TestWholeSyncGroupCommit(t *testing.T) {
	for seed := range uint64(5) {
		mem, c, inj, w := newWholeSyncWriter(t, seed)
		var cycles []CycleStats
		var mu sync.Mutex
		w.OnCycle = func(s CycleStats) { mu.Lock(); cycles = append(cycles, s); mu.Unlock() }
		lp := newLoop(t, w)
		ls := openLogs(t, inj, 6)
		c.reset() // opening syncs the first segments itself
		const perLog = 40
		for i := uint64(1); i <= perLog; i++ {
			submitRound(t, lp, ls, i)
			if errs := lp.completeAll(); len(errs) > 0 {
				t.Fatal(errs)
			}
		}
		// One log alone: below the threshold, fdatasync.
		c.mu.Lock()
		before := c.fileSyncs
		c.mu.Unlock()
		submitRound(t, lp, ls[:1], perLog+1)
		if errs := lp.completeAll(); len(errs) > 0 {
			t.Fatal(errs)
		}
		w.Close()
		mu.Lock()
		whole := 0
		for _, s := range cycles {
			if s.WholeSync {
				whole++
				if s.Files < 3 {
					t.Fatalf("a cycle of %d files used the whole sync", s.Files)
				}
			}
		}
		last := cycles[len(cycles)-1]
		mu.Unlock()
		c.mu.Lock()
		if whole < perLog || c.wholeSyncs != whole {
			t.Fatalf("seed %d: %d whole-sync cycles, %d whole syncs; want %d of each", seed, whole, c.wholeSyncs, perLog)
		}
		if before != 0 {
			t.Fatalf("seed %d: %d segment fdatasyncs in whole-sync cycles", seed, before)
		}
		if last.WholeSync || c.fileSyncs != 1 {
			t.Fatalf("seed %d: a one-file cycle: whole sync %v, %d fdatasyncs", seed, last.WholeSync, c.fileSyncs)
		}
		c.mu.Unlock()
		mem.Crash()
		for p := range ls {
			want := uint64(perLog)
			if p == 0 {
				want++
			}
			l := openLog(t, mem, p)
			got, err := l.Entries(1, want+1, 1<<30)
			if err != nil || uint64(len(got)) != want {
				t.Fatalf("seed %d: p%d after power loss: %d entries, %v; want %d", seed, p, len(got), err, want)
			}
			l.Close()
		}
	}
}

// TestFailedWholeSyncFailsEveryRoundOfTheCycle: which file's write-back
// failed is unknown, so every log of the cycle stops, none counts the
// round durable, and each reopens from disk once the disk is healthy.
func TestFailedWholeSyncFailsEveryRoundOfTheCycle(t *testing.T) {
	_, c, inj, w := newWholeSyncWriter(t, 11)
	defer w.Close()
	lp := newLoop(t, w)
	ls := openLogs(t, inj, 4)
	submitRound(t, lp, ls, 1)
	if errs := lp.completeAll(); len(errs) > 0 {
		t.Fatal(errs)
	}
	c.reset()
	c.mu.Lock()
	c.failWhole = true
	c.mu.Unlock()
	submitRound(t, lp, ls, 2)
	errs := lp.completeAll()
	for p, l := range ls {
		if !vfs.IsIOError(errs[l]) {
			t.Fatalf("p%d: want EIO from the failed whole sync, got %v", p, errs[l])
		}
		if l.StableIndex() != 1 {
			t.Fatalf("p%d: stable %d after the failed round, want 1", p, l.StableIndex())
		}
		if _, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{ent(3, 1, nil)}}); err == nil {
			t.Fatalf("p%d: a stopped log accepted an append", p)
		}
		l.Close()
	}
	c.mu.Lock()
	if c.failedWhole != 1 || c.fileSyncs != 0 {
		t.Fatalf("%d failed whole syncs, %d fdatasyncs: the failure was retried or synced another way", c.failedWhole, c.fileSyncs)
	}
	c.failWhole = false
	c.mu.Unlock()
	for p := range ls {
		l := openLog(t, inj, p)
		if got, _ := l.Entries(1, 2, 1<<30); len(got) != 1 {
			t.Fatalf("p%d lost its durable entry", p)
		}
		l.Close()
	}
}
