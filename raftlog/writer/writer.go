package writer

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
)

// Options configures a Writer. Zero values take the defaults.
type Options struct {
	// SyncWorkers is the number of files synced at once. Default 32: syncing
	// many files in parallel lets the device merge flushes.
	SyncWorkers int
	// QueueLen bounds rounds waiting for a cycle; Submit blocks when full.
	// Default 4096.
	QueueLen int
	// MaxCycleRounds bounds the rounds one cycle takes. Default 4096.
	MaxCycleRounds int
	// WholeSync, when set, syncs a cycle that touches at least
	// WholeSyncMinFiles files with one whole-file-system sync (syncfs)
	// instead of one fdatasync per file: one device flush for the cycle
	// where n fdatasyncs cost n, so many partitions' rounds commit in about
	// the time of one. Its error fails every round of the cycle (which file
	// failed is unknown). Every file the writer syncs must lie on its file
	// system. The Writer does not close it.
	WholeSync vfs.WholeSync
	// WholeSyncMinFiles: below this many files a cycle syncs them one by
	// one, which is cheaper for one file. Default 3 (about where the two
	// cost the same on the development VM's ext4; see the note of issue 11).
	WholeSyncMinFiles int
}

func (o Options) withDefaults() Options {
	if o.SyncWorkers <= 0 {
		o.SyncWorkers = 32
	}
	if o.QueueLen <= 0 {
		o.QueueLen = 4096
	}
	if o.MaxCycleRounds <= 0 {
		o.MaxCycleRounds = 4096
	}
	if o.WholeSyncMinFiles <= 0 {
		o.WholeSyncMinFiles = 3
	}
	return o
}

// Done is called once per submitted round, from the writer's goroutine, with
// the round's outcome. It must not block for long; the usual body posts the
// result to the partition's event loop, which calls Log.Complete.
type Done func(r *raftlog.Round, err error)

type job struct {
	rs   []*raftlog.Round
	done Done
}

// item is one round of a cycle with its callback.
type item struct {
	r    *raftlog.Round
	done Done
}

// CycleStats describes one group-commit cycle.
type CycleStats struct {
	Rounds, Files int
	Bytes         int64
	Nanos         int64 // wall time of the cycle
	WholeSync     bool  // the files were synced by one WholeSync
}

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("writer: closed")

// Writer runs Rounds with group commit. Safe for concurrent use.
type Writer struct {
	fs   vfs.FS
	opts Options

	// mu guards closed. SubmitAll holds it for reading across its send,
	// so Close (which takes it for writing) never closes quit while a
	// round is being queued: a round accepted is a round run.
	mu     sync.RWMutex
	closed bool
	in     chan job
	quit   chan struct{}
	wg     sync.WaitGroup

	syncs chan syncReq

	// OnCycle, if set before the first Submit, is called after each cycle.
	OnCycle func(CycleStats)
}

type syncReq struct {
	sync func() error
	err  *error
	wg   *sync.WaitGroup
}

// New starts a Writer on fs.
func New(fs vfs.FS, opts Options) *Writer {
	opts = opts.withDefaults()
	w := &Writer{
		fs:    fs,
		opts:  opts,
		in:    make(chan job, opts.QueueLen),
		quit:  make(chan struct{}),
		syncs: make(chan syncReq),
	}
	for i := 0; i < opts.SyncWorkers; i++ {
		w.wg.Add(1)
		go w.syncWorker()
	}
	w.wg.Add(1)
	go w.loop()
	return w
}

// Submit queues r; done is called when it has run. Rounds of one log must be
// submitted in the order the log made them. Submit blocks while the queue is
// full (back-pressure), and returns ErrClosed after Close.
func (w *Writer) Submit(r *raftlog.Round, done Done) error {
	return w.SubmitAll([]*raftlog.Round{r}, done)
}

// SubmitAll queues rounds (of any logs, each log's in order) so that they
// enter the same group-commit cycle: an event loop hands over everything
// one pass over its partitions produced. done is called once per round.
func (w *Writer) SubmitAll(rounds []*raftlog.Round, done Done) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	select {
	case w.in <- job{rs: rounds, done: done}:
		return nil
	case <-w.quit:
		return ErrClosed
	}
}

// Close stops the writer after running the rounds already queued.
func (w *Writer) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	close(w.quit)
	w.wg.Wait()
}

func (w *Writer) syncWorker() {
	defer w.wg.Done()
	for {
		select {
		case req, ok := <-w.syncs:
			if !ok {
				return
			}
			*req.err = req.sync()
			req.wg.Done()
		case <-w.quit:
			return
		}
	}
}

func (w *Writer) loop() {
	defer w.wg.Done()
	batch := make([]item, 0, 64)
	add := func(j job) {
		for _, r := range j.rs {
			batch = append(batch, item{r: r, done: j.done})
		}
	}
	for {
		select {
		case j := <-w.in:
			batch = batch[:0]
			add(j)
		case <-w.quit:
			w.drain()
			return
		}
	more:
		for len(batch) < w.opts.MaxCycleRounds {
			select {
			case j := <-w.in:
				add(j)
			default:
				break more
			}
		}
		w.cycle(batch)
		clear(batch)
	}
}

// drain runs what was queued before Close, without the sync workers (which
// have stopped): sequentially.
func (w *Writer) drain() {
	for {
		select {
		case j := <-w.in:
			for _, r := range j.rs {
				j.done(r, r.Run(w.fs))
			}
		default:
			return
		}
	}
}

// cycle runs one group commit over batch.
func (w *Writer) cycle(batch []item) {
	start := time.Now()
	failed := make(map[*raftlog.Log]error)
	errs := make([]error, len(batch))
	var stats CycleStats
	stats.Rounds = len(batch)

	// 1. Writes, in submission order.
	for i, j := range batch {
		if err, ok := failed[j.r.Log()]; ok {
			errs[i] = fmt.Errorf("writer: an earlier round of this log failed: %w", err)
			continue
		}
		if err := j.r.WriteAll(); err != nil {
			errs[i], failed[j.r.Log()] = err, err
		}
		stats.Bytes += j.r.Bytes()
	}

	// 2. One sync per touched file, in parallel. A log whose round failed
	// in an earlier cycle has its later rounds refused by WriteAll above
	// (Round.Fail), one that failed in this cycle by failed: a file is
	// never synced again after a failed fsync.
	fileIdx := make(map[vfs.File]int)
	var files []vfs.File
	for i, j := range batch {
		if errs[i] != nil {
			continue
		}
		for _, f := range j.r.Syncs {
			if _, ok := fileIdx[f]; !ok {
				fileIdx[f] = len(files)
				files = append(files, f)
			}
		}
	}
	stats.Files = len(files)
	var fileErrs []error
	if w.opts.WholeSync != nil && len(files) >= w.opts.WholeSyncMinFiles {
		stats.WholeSync = true
		fileErrs = make([]error, len(files))
		if err := w.opts.WholeSync.Sync(); err != nil {
			err = fmt.Errorf("whole-file-system sync: %w", err)
			for k := range fileErrs {
				fileErrs[k] = err
			}
		}
	} else {
		fileErrs = w.parallel(len(files), func(k int) error { return files[k].Sync() })
	}

	// 3. Directory syncs, deduplicated, in parallel.
	dirIdx := make(map[string]int)
	var dirs []string
	for i, j := range batch {
		if errs[i] != nil {
			continue
		}
		for _, f := range j.r.Syncs {
			if err := fileErrs[fileIdx[f]]; err != nil {
				errs[i] = fmt.Errorf("writer: sync %s: %w", f.Name(), err)
				failed[j.r.Log()] = errs[i]
				j.r.Fail()
				break
			}
		}
		if errs[i] != nil {
			continue
		}
		for _, d := range j.r.SyncDirs {
			if _, ok := dirIdx[d]; !ok {
				dirIdx[d] = len(dirs)
				dirs = append(dirs, d)
			}
		}
	}
	dirErrs := w.parallel(len(dirs), func(k int) error { return w.fs.SyncDir(dirs[k]) })

	// 4. What follows the syncs, then report, in submission order.
	for i, j := range batch {
		if errs[i] == nil {
			if err, ok := failed[j.r.Log()]; ok {
				errs[i] = fmt.Errorf("writer: an earlier round of this log failed: %w", err)
			}
		}
		if errs[i] == nil {
			for _, d := range j.r.SyncDirs {
				if err := dirErrs[dirIdx[d]]; err != nil {
					errs[i] = fmt.Errorf("writer: sync dir %s: %w", d, err)
					j.r.Fail()
					break
				}
			}
		}
		if errs[i] == nil {
			errs[i] = j.r.ReplaceFiles(w.fs)
		}
		if errs[i] != nil {
			failed[j.r.Log()] = errs[i]
		}
		j.done(j.r, errs[i])
	}
	if w.OnCycle != nil {
		stats.Nanos = time.Since(start).Nanoseconds()
		w.OnCycle(stats)
	}
}

// parallel runs f(0..n-1) on the sync workers and returns their errors.
func (w *Writer) parallel(n int, f func(int) error) []error {
	errs := make([]error, n)
	if n == 1 {
		errs[0] = f(0)
		return errs
	}
	var wg sync.WaitGroup
	wg.Add(n)
	for k := 0; k < n; k++ {
		k := k
		select {
		case w.syncs <- syncReq{sync: func() error { return f(k) }, err: &errs[k], wg: &wg}:
		case <-w.quit:
			errs[k] = f(k)
			wg.Done()
		}
	}
	wg.Wait()
	return errs
}
