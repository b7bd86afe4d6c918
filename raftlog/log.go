package raftlog

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// Options configures a Log. Zero values take the defaults.
type Options struct {
	// SegmentBytes is the size at which the active segment is sealed and a
	// new one started. Default 64 MiB.
	SegmentBytes int64
	// TailCacheBytes bounds the recent entries kept in memory beyond those not
	// yet durable (which are always kept). Default 4 MiB.
	TailCacheBytes int64
	// IndexIntervalBytes is the spacing of sparse index points in closed
	// segments. Default 4 KiB.
	IndexIntervalBytes int64
	// Allocator creates segment files; default creates them with FS.Create.
	// A broker passes a pool of preallocated, zeroed files (raftlog/writer).
	Allocator Allocator

	// writeVersion is the format version the log writes: formatVersion,
	// unless a test makes a log of an older version to read.
	writeVersion uint16
}

// Allocator provides the file for a new segment. It may hand out a
// preallocated, zero-filled file renamed to path; syncDirs lists directories
// (besides path's own) whose entries changed and must be synced before the
// segment's first round completes.
type Allocator interface {
	Allocate(fs vfs.FS, path string, sizeBytes int64) (f vfs.File, syncDirs []string, err error)
}

type createAllocator struct{}

func (createAllocator) Allocate(fs vfs.FS, path string, _ int64) (vfs.File, []string, error) {
	f, err := fs.Create(path)
	return f, nil, err
}

func (o Options) withDefaults() Options {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.TailCacheBytes <= 0 {
		o.TailCacheBytes = 4 << 20
	}
	if o.IndexIntervalBytes <= 0 {
		o.IndexIntervalBytes = 4 << 10
	}
	if o.Allocator == nil {
		o.Allocator = createAllocator{}
	}
	if o.writeVersion == 0 {
		o.writeVersion = formatVersion
	}
	return o
}

type termRun struct{ index, term uint64 }

// State is a partition state record: the log stores the latest Data per
// Kind and hands it back on open. Kinds are the caller's (1-255).
type State struct {
	Kind uint8
	Data []byte
}

// Log is one partition's raft log and state on disk. It implements
// raft.Storage. A Log is owned by one goroutine (the partition's event loop);
// the file writes it prepares are carried out by whoever runs its Rounds.
type Log struct {
	fs   vfs.FS
	dir  string
	opts Options

	segs    []*segment // oldest first; the last one is active
	nextGen uint64

	hs *pb.HardState
	cs *pb.ConfState
	// csExplicit is set once a ConfState record was written (since the last
	// reset); until then the conf state follows the snapshots. Compaction
	// never rolls an explicitly written conf state back to an older one.
	csExplicit bool
	snap       *pb.Snapshot // the latest snapshot; FirstIndex is its index + 1
	states     []State      // sorted by kind

	last  uint64 // index of the last entry (the snapshot index when none)
	terms []termRun

	tail      []*pb.Entry // recent entries, tailFirst...last
	tailArr   []*pb.Entry // the array tail lies in (pushTail)
	tailFirst uint64
	tailBytes int64
	stable    uint64 // entries up to here are written by completed rounds
	synced    uint64 // entries up to here are durable (synced)
	// Relaxed rounds (Batch.Relaxed) made since the last round that syncs:
	// the entries they appended, and whether they wrote anything.
	unsyncedEntries uint64
	unsyncedData    bool

	inflight  []*Round
	ckptDirty bool
	dead      []*segment // removed with the next checkpoint

	readBuf []byte // reused by reads of closed segments
	compBuf []byte // snappy scratch
	hdrBuf  []byte // an entry record's fields, scratch (appendEntry)
	// Adaptive compression (compress): consecutive entries snappy did not
	// shrink, entries stored raw without trying since the last try, the
	// entries to skip between tries, and tries in all (for tests).
	compFailures, compSkipped, compInterval int
	compTries                               int64
	freeBufs                                [][]byte // write buffers of completed rounds
	// spareDense is the dense index array of the last closed segment, once
	// no reader needs it: the next segment's index reuses it (recycleDense).
	spareDense []entryPos

	err error
	// ioFailed is set by whoever runs a round of this log when its I/O
	// fails (Round.Fail): from then on no round of the log touches the
	// disk. Rounds made before the owner saw the failure reach the runner
	// later, in another group-commit cycle; run, one of them could seal a
	// segment over the failed round's hole and checkpoint it as good, or
	// sync a file again after a failed fsync. Atomic: runners are other
	// goroutines.
	ioFailed atomic.Bool
}

// Open opens (creating if needed) the log in dir and recovers it: closed
// segments come from the checkpoint, later ones are scanned. Open performs
// its I/O synchronously; it seals a torn or unfinished segment and starts a
// new one, durably, before returning.
func Open(fs vfs.FS, dir string, opts Options) (*Log, error) {
	l := &Log{fs: fs, dir: dir, opts: opts.withDefaults(), nextGen: 1}
	l.snap = &pb.Snapshot{Metadata: &pb.SnapshotMetadata{ConfState: &pb.ConfState{}}}
	l.hs = &pb.HardState{}
	l.cs = &pb.ConfState{}
	if err := fs.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("raftlog: %s: %w", dir, err)
	}
	// The directory's own name (and its parents') must be durable before any
	// file in it is.
	for d := dir; ; {
		parent := parentDir(d)
		if err := fs.SyncDir(parent); err != nil {
			return nil, fmt.Errorf("raftlog: sync dir %s: %w", parent, err)
		}
		if parent == "." || parent == "/" || parent == d {
			break
		}
		d = parent
	}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, err
	}
	return l, nil
}

// Err returns the error that stopped the log, if any. A stopped log accepts
// no more writes; reopen it from disk.
func (l *Log) Err() error { return l.err }

// SetSegmentBytes changes the size at which the active segment is sealed
// (a topic's segment.bytes, altered); it applies from the next append on.
// Values ≤ 0 are ignored.
func (l *Log) SetSegmentBytes(n int64) {
	if n > 0 {
		l.opts.SegmentBytes = n
	}
}

// Dir is the log's directory.
func (l *Log) Dir() string { return l.dir }

func (l *Log) fail(err error) error {
	if l.err == nil {
		l.err = fmt.Errorf("raftlog: %s: log stopped: %w", l.dir, err)
	}
	return l.err
}

// Close releases the log's files. Rounds still in flight must have completed.
func (l *Log) Close() error {
	l.closeFiles()
	if l.err == nil {
		l.err = errors.New("raftlog: log closed")
	}
	return nil
}

func (l *Log) closeFiles() {
	for _, s := range l.segs {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
	}
	for _, s := range l.dead {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
	}
}

func (l *Log) path(name string) string { return vfs.Join(l.dir, name) }

func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

func (l *Log) firstIndex() uint64 { return l.snap.GetMetadata().GetIndex() + 1 }

// termAt returns the term of entry i from the term runs; ok is false when i
// is outside them.
func (l *Log) termAt(i uint64) (uint64, bool) {
	if i == l.snap.GetMetadata().GetIndex() {
		return l.snap.GetMetadata().GetTerm(), true
	}
	if i > l.last {
		return 0, false
	}
	k := sort.Search(len(l.terms), func(k int) bool { return l.terms[k].index > i })
	if k == 0 {
		return 0, false
	}
	return l.terms[k-1].term, true
}

func (l *Log) pushTerm(index, term uint64) {
	if n := len(l.terms); n > 0 && l.terms[n-1].term == term {
		return
	}
	l.terms = append(l.terms, termRun{index: index, term: term})
}

func (l *Log) setState(s State) {
	i := sort.Search(len(l.states), func(i int) bool { return l.states[i].Kind >= s.Kind })
	if i < len(l.states) && l.states[i].Kind == s.Kind {
		l.states[i].Data = s.Data
		return
	}
	l.states = append(l.states, State{})
	copy(l.states[i+1:], l.states[i:])
	l.states[i] = s
}

// scanner reads frames sequentially from a segment file.
type scanner struct {
	f      vfs.File
	gen    uint64
	pos    int64 // position of the next frame
	limit  int64 // file size
	buf    []byte
	bufOff int64
	chunk  int // bytes to read ahead; scanChunk when zero
}

const scanChunk = 256 << 10

// fill makes buf hold [off, off+n); it returns errInvalidFrame if the file
// ends first.
func (s *scanner) fill(off int64, n int) error {
	if off >= s.bufOff && off+int64(n) <= s.bufOff+int64(len(s.buf)) {
		return nil
	}
	if off+int64(n) > s.limit {
		return errInvalidFrame
	}
	chunk := s.chunk
	if chunk == 0 {
		chunk = scanChunk
	}
	want := max(n, chunk)
	if rest := s.limit - off; int64(want) > rest {
		want = int(rest)
	}
	if cap(s.buf) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	m, err := s.f.ReadAt(s.buf, off)
	if err != nil && !(errors.Is(err, io.EOF) && m >= n) {
		if errors.Is(err, io.EOF) {
			return errInvalidFrame
		}
		return fmt.Errorf("raftlog: read %s at %d: %w", s.f.Name(), off, err)
	}
	s.buf = s.buf[:m]
	s.bufOff = off
	return nil
}

// next decodes the frame at s.pos. It returns errInvalidFrame when the bytes
// there are not a valid frame, or an I/O error.
func (s *scanner) next() (int64, frame, error) {
	pos := s.pos
	if err := s.fill(pos, frameHeaderSize); err != nil {
		return pos, frame{}, err
	}
	h := s.buf[pos-s.bufOff:]
	n := frameLength(h)
	if n < 0 {
		return pos, frame{}, errInvalidFrame
	}
	if err := s.fill(pos, frameHeaderSize+n); err != nil {
		return pos, frame{}, err
	}
	fr, err := decodeFrame(s.buf[pos-s.bufOff:], s.gen)
	if err != nil {
		return pos, frame{}, err
	}
	s.pos = pos + fr.size()
	return pos, fr, nil
}

// nextEntry returns the next entry frame, skipping other records; an
// invalid frame within the segment's bytes is corruption.
func (s *scanner) nextEntry(path string) (int64, frame, error) {
	for {
		pos, fr, err := s.next()
		if err != nil {
			if errors.Is(err, errInvalidFrame) {
				return pos, fr, fmt.Errorf("%w: corrupt record at segment %d offset %d (%s)", ErrCorrupt, s.gen, pos, path)
			}
			return pos, fr, err
		}
		if isEntry(fr.typ) {
			return pos, fr, nil
		}
	}
}

func newScanner(f vfs.File, gen uint64, from int64) (*scanner, error) {
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("raftlog: size of %s: %w", f.Name(), err)
	}
	return &scanner{f: f, gen: gen, pos: from, limit: size}, nil
}

func parentDir(p string) string {
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	i := strings.LastIndexByte(p, '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return p[:i]
}
