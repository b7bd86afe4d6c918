package writer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"sluice/raftlog/vfs"
)

// Pool hands out preallocated, zero-filled segment files. It keeps at most
// MaxBytes of them ready in one spare directory per broker (not per
// partition) and refills in the background. It implements raftlog.Allocator.
//
// Ready files are named ready-N and were synced whole before being renamed
// into that name; a file still being filled is named filling-N. Only files
// zeroed by this Pool are handed out.
type Pool struct {
	fs       vfs.FS
	dir      string
	segBytes int64
	maxFiles int

	mu      sync.Mutex
	ready   []string
	nextID  uint64
	err     error // last fill error, reported by Stats
	hits    uint64
	misses  uint64
	closed  bool
	noFill  bool
	wake    chan struct{}
	notify  chan struct{}
	stopped chan struct{}
}

// PoolStats reports how the pool is doing.
type PoolStats struct {
	Ready        int
	Hits, Misses uint64 // allocations served ready / created on the spot
	FillErr      error
}

const zeroChunk = 1 << 20

var zeros = make([]byte, zeroChunk)

// NewPool opens (creating if needed) the spare directory dir, keeping up to
// maxBytes of ready segments of segBytes each.
func NewPool(fs vfs.FS, dir string, segBytes, maxBytes int64) (*Pool, error) {
	if segBytes <= 0 || maxBytes < segBytes {
		return nil, fmt.Errorf("writer: pool of %d bytes cannot hold a %d-byte segment", maxBytes, segBytes)
	}
	if err := fs.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("writer: pool dir %s: %w", dir, err)
	}
	p := &Pool{
		fs: fs, dir: dir, segBytes: segBytes, maxFiles: int(maxBytes / segBytes),
		wake: make(chan struct{}, 1), stopped: make(chan struct{}),
	}
	names, err := fs.List(dir)
	if err != nil {
		return nil, fmt.Errorf("writer: list %s: %w", dir, err)
	}
	// Files left by an earlier run are never reused: a crash between handing
	// a file out and syncing its new directory can leave it under its old
	// name too, holding a live segment's frames. They are removed and the
	// pool refills in the background.
	for _, n := range names {
		if id, ok := parseID(n); ok && id >= p.nextID {
			p.nextID = id + 1
		}
		path := vfs.Join(dir, n)
		if err := fs.Remove(path); err != nil && !errors.Is(err, vfs.ErrNotExist) {
			return nil, fmt.Errorf("writer: remove %s: %w", path, err)
		}
	}
	go p.fill()
	p.kick()
	return p, nil
}

func parseID(name string) (uint64, bool) {
	for _, prefix := range []string{"ready-", "filling-"} {
		if s, ok := strings.CutPrefix(name, prefix); ok {
			id, err := strconv.ParseUint(s, 10, 64)
			return id, err == nil
		}
	}
	return 0, false
}

// Allocate implements raftlog.Allocator: it renames a ready file to path,
// or creates path when none is ready (or the size differs).
func (p *Pool) Allocate(fs vfs.FS, path string, sizeBytes int64) (vfs.File, []string, error) {
	p.mu.Lock()
	var src string
	if sizeBytes == p.segBytes && len(p.ready) > 0 {
		src = p.ready[len(p.ready)-1]
		p.ready = p.ready[:len(p.ready)-1]
		p.hits++
	} else {
		p.misses++
	}
	p.mu.Unlock()
	p.kick()
	if src == "" {
		f, err := fs.Create(path)
		return f, nil, err
	}
	if err := fs.Rename(src, path); err != nil {
		return nil, nil, fmt.Errorf("writer: take %s: %w", src, err)
	}
	f, err := fs.OpenReadWrite(path)
	if err != nil {
		return nil, nil, err
	}
	return f, []string{p.dir}, nil
}

// StopFilling stops refilling: files already ready are still handed out.
// Benchmarks use it to keep preallocation out of the timed path.
func (p *Pool) StopFilling() {
	p.mu.Lock()
	p.noFill = true
	p.signal() // a WaitReady returns now rather than wait for no fill
	p.mu.Unlock()
}

// Stats reports the pool's state.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Ready: len(p.ready), Hits: p.hits, Misses: p.misses, FillErr: p.err}
}

// WaitReady blocks until n files are ready (or the pool is closed, filling
// stopped or a fill failed); benchmarks use it to keep preallocation out
// of the timing. It takes the channel the next fill closes in the same
// critical section as it reads the state: a fill landing between the two
// would otherwise signal no one and stop (the pool full), leaving WaitReady
// on a channel nothing closes (a CI run hung 10 minutes so).
func (p *Pool) WaitReady(n int) error {
	for {
		p.mu.Lock()
		ready, err, closed, noFill := len(p.ready), p.err, p.closed, p.noFill
		if ready >= n || ready >= p.maxFiles || err != nil || closed || noFill {
			p.mu.Unlock()
			switch {
			case ready >= n || ready >= p.maxFiles:
				return nil
			case err != nil:
				return err
			case closed:
				return errors.New("writer: pool closed")
			}
			return fmt.Errorf("writer: pool stopped filling with %d of %d files ready", ready, n)
		}
		if p.notify == nil {
			p.notify = make(chan struct{})
		}
		next := p.notify
		p.mu.Unlock()
		<-next
	}
}

// Close stops the background fill.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.kick()
	<-p.stopped
}

func (p *Pool) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Pool) fill() {
	defer close(p.stopped)
	for range p.wake {
		for {
			p.mu.Lock()
			if p.closed {
				p.signal()
				p.mu.Unlock()
				return
			}
			if len(p.ready) >= p.maxFiles || p.noFill {
				p.mu.Unlock()
				break
			}
			id := p.nextID
			p.nextID++
			p.mu.Unlock()

			path, err := p.make(id)
			p.mu.Lock()
			if err != nil {
				p.err = err
				p.signal()
				p.mu.Unlock()
				break // retried on the next kick (the next allocation)
			}
			p.err = nil
			p.ready = append(p.ready, path)
			p.signal()
			p.mu.Unlock()
		}
	}
}

// signal wakes WaitReady callers; p.mu must be held.
func (p *Pool) signal() {
	if p.notify != nil {
		close(p.notify)
		p.notify = nil
	}
}

// make writes one zero-filled file and renames it ready.
func (p *Pool) make(id uint64) (string, error) {
	tmp := vfs.Join(p.dir, "filling-"+strconv.FormatUint(id, 10))
	ready := vfs.Join(p.dir, "ready-"+strconv.FormatUint(id, 10))
	f, err := p.fs.Create(tmp)
	if err != nil {
		return "", fmt.Errorf("writer: pool create %s: %w", tmp, err)
	}
	err = p.zero(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = p.fs.Rename(tmp, ready)
	}
	if err != nil {
		p.fs.Remove(tmp)
		return "", fmt.Errorf("writer: pool fill %s: %w", tmp, err)
	}
	return ready, nil
}

// zero fills f with zeros and syncs it. It does not fallocate first: on
// ext4 a fallocated 64 MiB file landed off any 1 MiB boundary of the
// (virtual) device, and every later write+fdatasync into it ran about 10%
// slower than into a file the zero writes themselves allocated, which the
// allocator aligns. The zero writes reserve the blocks all the same.
func (p *Pool) zero(f vfs.File) error {
	for off := int64(0); off < p.segBytes; off += zeroChunk {
		n := min(int64(zeroChunk), p.segBytes-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	return f.Sync()
}
