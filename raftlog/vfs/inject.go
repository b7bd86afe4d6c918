package vfs

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// OpKind names a kind of file system operation a Rule can match.
type OpKind uint8

// The operations InjectFS passes to its Rule. OpAny matches every kind in
// On; no operation has it. File.Close and File.Name are never injected.
const (
	OpAny         OpKind = iota
	OpRead               // File.ReadAt
	OpWrite              // File.WriteAt
	OpSync               // File.Sync
	OpCreate             // FS.Create
	OpOpen               // FS.Open and FS.OpenReadWrite
	OpRename             // FS.Rename
	OpRemove             // FS.Remove
	OpList               // FS.List
	OpSyncDir            // FS.SyncDir
	OpTruncate           // File.Truncate
	OpPreallocate        // File.Preallocate
	OpStat               // FS.Stat and File.Size
	OpMkdirAll           // FS.MkdirAll
	OpSyncFS             // WholeSync.Sync (Path: the directory it was opened on)
)

var opKindNames = [...]string{
	OpAny:         "any",
	OpRead:        "read",
	OpWrite:       "write",
	OpSync:        "sync",
	OpCreate:      "create",
	OpOpen:        "open",
	OpRename:      "rename",
	OpRemove:      "remove",
	OpList:        "list",
	OpSyncDir:     "syncdir",
	OpTruncate:    "truncate",
	OpPreallocate: "preallocate",
	OpStat:        "stat",
	OpMkdirAll:    "mkdirall",
	OpSyncFS:      "syncfs",
}

func (k OpKind) String() string {
	if int(k) < len(opKindNames) {
		return opKindNames[k]
	}
	return "op(" + strconv.Itoa(int(k)) + ")"
}

// Op describes one operation about to be performed.
type Op struct {
	Kind OpKind
	// Path is the file or directory operated on; for Rename, the old name.
	Path string
	// NewPath is Rename's new name; empty for every other kind.
	NewPath string
	// Off is the offset of a read, write or Preallocate, and the new size
	// of a Truncate.
	Off int64
	// Len is the length of a read, write or Preallocate.
	Len int
}

// Injection is what a Rule decides for one Op. The zero Injection performs
// the operation unchanged.
type Injection struct {
	// Err, when set, is returned (wrapped in an *InjectedError) instead of
	// performing the operation: a failed write writes nothing, a failed
	// Sync syncs nothing. ErrEIO and ErrENOSPC are the usual choices.
	Err error
	// LatencyNs is how long the operation should be taken to have lasted.
	// InjectFS never sleeps: it adds this to the total TakeLatencyNs
	// returns, so whoever drives time (the simulator) can charge it.
	LatencyNs int64
	// Flip, on a read that returns n > 0 bytes, flips bit FlipBit mod 8n of
	// the returned data (bit i is bit i%8 of byte i/8). The stored data is
	// unchanged, as with a flaky bus or a misdirected read. Ignored by
	// every other kind of operation.
	Flip    bool
	FlipBit uint64
}

// IsZero reports whether the injection leaves the operation unchanged.
// (Not i == Injection{}: that panics if Err's dynamic type is not
// comparable.)
func (i Injection) IsZero() bool { return i.Err == nil && i.LatencyNs == 0 && !i.Flip }

// Rule decides what to inject into each operation. InjectFS calls Inject
// with its own lock held, one operation at a time, so a stateful rule needs
// no lock; it must not call back into the InjectFS, and a stateful rule
// should not be shared between InjectFSs used concurrently.
type Rule interface {
	Inject(op Op) Injection
}

// RuleFunc adapts a function to a Rule.
type RuleFunc func(Op) Injection

// Inject calls f(op).
func (f RuleFunc) Inject(op Op) Injection { return f(op) }

// InjectedError is the error an operation returns when a Rule made it fail.
type InjectedError struct {
	Op  Op
	Err error // the Injection's Err
}

// Error reads like "vfs: injected EIO on sync of seg/0001.log".
func (e *InjectedError) Error() string {
	return "vfs: injected " + e.Err.Error() + " on " + e.Op.Kind.String() + " of " + e.Op.Path
}

// Unwrap returns the injected error, so errors.Is(err, syscall.EIO) holds
// for an injected ErrEIO.
func (e *InjectedError) Unwrap() error { return e.Err }

// errnoError is an errno with a short name for messages: InjectedError
// reads "injected EIO", not "injected input/output error".
type errnoError struct {
	errno syscall.Errno
	name  string
}

func (e errnoError) Error() string { return e.name }
func (e errnoError) Unwrap() error { return e.errno }

// Errors for Injection.Err. They wrap the errno, so IsIOError and IsNoSpace
// recognise them exactly as they recognise the OS's own.
var (
	ErrEIO    error = errnoError{syscall.EIO, "EIO"}
	ErrENOSPC error = errnoError{syscall.ENOSPC, "ENOSPC"}
)

// InjectFS wraps an FS and lets a Rule fail, delay or corrupt its
// operations. It is safe for concurrent use if the wrapped FS is.
type InjectFS struct {
	fs FS

	mu        sync.Mutex
	rule      Rule // nil injects nothing
	latencyNs int64
	onLatency func(op Op, latencyNs int64)
}

var _ FS = (*InjectFS)(nil)

// Inject wraps fs with rule; a nil rule injects nothing.
func Inject(fs FS, rule Rule) *InjectFS { return &InjectFS{fs: fs, rule: rule} }

// SetRule replaces the rule for all later operations, including those on
// files already open.
func (x *InjectFS) SetRule(rule Rule) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.rule = rule
}

// TakeLatencyNs returns the total injected latency of the operations since
// the last call, and resets it to zero.
func (x *InjectFS) TakeLatencyNs() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	ns := x.latencyNs
	x.latencyNs = 0
	return ns
}

// OnLatency sets a function called, after the rule and before the
// operation, for every operation given a non-zero latency; nil removes it.
// It runs without InjectFS's lock, so it may call back into the InjectFS;
// with concurrent operations it must be safe for concurrent use.
func (x *InjectFS) OnLatency(fn func(op Op, latencyNs int64)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.onLatency = fn
}

// check asks the rule about op and records its latency. A non-nil error
// means the operation must not be performed.
func (x *InjectFS) check(op Op) (Injection, error) {
	x.mu.Lock()
	var inj Injection
	if x.rule != nil {
		inj = x.rule.Inject(op)
	}
	x.latencyNs += inj.LatencyNs
	hook := x.onLatency
	x.mu.Unlock()
	if hook != nil && inj.LatencyNs != 0 {
		hook(op, inj.LatencyNs)
	}
	if inj.Err != nil {
		return inj, &InjectedError{Op: op, Err: inj.Err}
	}
	return inj, nil
}

func (x *InjectFS) Create(name string) (File, error) {
	if _, err := x.check(Op{Kind: OpCreate, Path: name}); err != nil {
		return nil, err
	}
	return x.wrap(x.fs.Create(name))
}

func (x *InjectFS) Open(name string) (File, error) {
	if _, err := x.check(Op{Kind: OpOpen, Path: name}); err != nil {
		return nil, err
	}
	return x.wrap(x.fs.Open(name))
}

func (x *InjectFS) OpenReadWrite(name string) (File, error) {
	if _, err := x.check(Op{Kind: OpOpen, Path: name}); err != nil {
		return nil, err
	}
	return x.wrap(x.fs.OpenReadWrite(name))
}

func (x *InjectFS) wrap(f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return &injectFile{f: f, x: x}, nil
}

func (x *InjectFS) Rename(oldname, newname string) error {
	if _, err := x.check(Op{Kind: OpRename, Path: oldname, NewPath: newname}); err != nil {
		return err
	}
	return x.fs.Rename(oldname, newname)
}

func (x *InjectFS) Remove(name string) error {
	if _, err := x.check(Op{Kind: OpRemove, Path: name}); err != nil {
		return err
	}
	return x.fs.Remove(name)
}

func (x *InjectFS) MkdirAll(dir string) error {
	if _, err := x.check(Op{Kind: OpMkdirAll, Path: dir}); err != nil {
		return err
	}
	return x.fs.MkdirAll(dir)
}

func (x *InjectFS) List(dir string) ([]string, error) {
	if _, err := x.check(Op{Kind: OpList, Path: dir}); err != nil {
		return nil, err
	}
	return x.fs.List(dir)
}

func (x *InjectFS) SyncDir(dir string) error {
	if _, err := x.check(Op{Kind: OpSyncDir, Path: dir}); err != nil {
		return err
	}
	return x.fs.SyncDir(dir)
}

func (x *InjectFS) Stat(name string) (int64, error) {
	if _, err := x.check(Op{Kind: OpStat, Path: name}); err != nil {
		return 0, err
	}
	return x.fs.Stat(name)
}

var _ WholeSyncer = (*InjectFS)(nil)

// OpenWholeSync opens the wrapped FS's WholeSync (ErrWholeSyncUnsupported
// if it has none); each Sync passes through the rule as OpSyncFS.
func (x *InjectFS) OpenWholeSync(dir string) (WholeSync, error) {
	ws, ok := x.fs.(WholeSyncer)
	if !ok {
		return nil, fmt.Errorf("%w: the wrapped file system has none", ErrWholeSyncUnsupported)
	}
	s, err := ws.OpenWholeSync(dir)
	if err != nil {
		return nil, err
	}
	return &injectWholeSync{s: s, x: x, dir: dir}, nil
}

type injectWholeSync struct {
	s   WholeSync
	x   *InjectFS
	dir string
}

func (s *injectWholeSync) Sync() error {
	if _, err := s.x.check(Op{Kind: OpSyncFS, Path: s.dir}); err != nil {
		return err
	}
	return s.s.Sync()
}

func (s *injectWholeSync) Close() error { return s.s.Close() }

// injectFile passes each operation of f through x's rule.
type injectFile struct {
	f File
	x *InjectFS
}

var _ File = (*injectFile)(nil)

func (f *injectFile) ReadAt(p []byte, off int64) (int, error) {
	inj, err := f.x.check(Op{Kind: OpRead, Path: f.f.Name(), Off: off, Len: len(p)})
	if err != nil {
		return 0, err
	}
	n, err := f.f.ReadAt(p, off)
	if inj.Flip && n > 0 {
		bit := inj.FlipBit % uint64(8*n)
		p[bit/8] ^= 1 << (bit % 8)
	}
	return n, err
}

func (f *injectFile) WriteAt(p []byte, off int64) (int, error) {
	if _, err := f.x.check(Op{Kind: OpWrite, Path: f.f.Name(), Off: off, Len: len(p)}); err != nil {
		return 0, err
	}
	return f.f.WriteAt(p, off)
}

func (f *injectFile) Close() error { return f.f.Close() }

func (f *injectFile) Sync() error {
	if _, err := f.x.check(Op{Kind: OpSync, Path: f.f.Name()}); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *injectFile) Truncate(size int64) error {
	if _, err := f.x.check(Op{Kind: OpTruncate, Path: f.f.Name(), Off: size}); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

func (f *injectFile) Preallocate(off, length int64) error {
	op := Op{Kind: OpPreallocate, Path: f.f.Name(), Off: off, Len: int(length)}
	if _, err := f.x.check(op); err != nil {
		return err
	}
	return f.f.Preallocate(off, length)
}

func (f *injectFile) Size() (int64, error) {
	if _, err := f.x.check(Op{Kind: OpStat, Path: f.f.Name()}); err != nil {
		return 0, err
	}
	return f.f.Size()
}

func (f *injectFile) Name() string { return f.f.Name() }

// ----- Rules -----
//
// Rules are small values that compose: On picks operations, Times, After
// and Probability thin them out, Merge combines several. For example, fail
// the third sync of any segment with EIO:
//
//	Times(1, After(2, On(OpSync, "seg/", Injection{Err: ErrEIO})))

// On injects inj into every operation of the given kind (OpAny: every kind)
// whose Path, or NewPath for Rename, starts with pathPrefix.
func On(kind OpKind, pathPrefix string, inj Injection) Rule {
	return onRule{kind: kind, prefix: pathPrefix, inj: inj}
}

type onRule struct {
	kind   OpKind
	prefix string
	inj    Injection
}

func (r onRule) Inject(op Op) Injection {
	kindOK := r.kind == OpAny || r.kind == op.Kind
	pathOK := strings.HasPrefix(op.Path, r.prefix) ||
		(op.NewPath != "" && strings.HasPrefix(op.NewPath, r.prefix))
	if kindOK && pathOK {
		return r.inj
	}
	return Injection{}
}

// Times lets r inject at most n times; after that it injects nothing.
func Times(n int, r Rule) Rule { return &timesRule{left: n, r: r} }

// Once lets r inject only the first time it would.
func Once(r Rule) Rule { return Times(1, r) }

type timesRule struct {
	left int
	r    Rule
}

func (t *timesRule) Inject(op Op) Injection {
	if t.left <= 0 {
		return Injection{}
	}
	inj := t.r.Inject(op)
	if !inj.IsZero() {
		t.left--
	}
	return inj
}

// After suppresses the first n injections r makes, then lets r's through:
// After(2, r) first injects into the third operation r picks.
func After(n int, r Rule) Rule { return &afterRule{skip: n, r: r} }

type afterRule struct {
	skip int
	r    Rule
}

func (a *afterRule) Inject(op Op) Injection {
	inj := a.r.Inject(op)
	if inj.IsZero() || a.skip <= 0 {
		return inj
	}
	a.skip--
	return Injection{}
}

// Probability lets each injection r makes through with probability p,
// drawing from its own generator seeded by seed: the same seed and the same
// operations inject into the same ones.
func Probability(seed uint64, p float64, r Rule) Rule {
	return &probRule{rng: rand.New(rand.NewPCG(seed, ^seed)), p: p, r: r}
}

type probRule struct {
	rng *rand.Rand
	p   float64
	r   Rule
}

func (pr *probRule) Inject(op Op) Injection {
	inj := pr.r.Inject(op)
	if inj.IsZero() || pr.rng.Float64() >= pr.p {
		return Injection{}
	}
	return inj
}

// RandomFlipBit replaces FlipBit, in every injection of r that sets Flip,
// with a bit drawn from a generator seeded by seed.
func RandomFlipBit(seed uint64, r Rule) Rule {
	return &flipRule{rng: rand.New(rand.NewPCG(seed, ^seed)), r: r}
}

type flipRule struct {
	rng *rand.Rand
	r   Rule
}

func (f *flipRule) Inject(op Op) Injection {
	inj := f.r.Inject(op)
	if inj.Flip {
		inj.FlipBit = f.rng.Uint64()
	}
	return inj
}

// Merge asks every rule about every operation (so each one's counters and
// generators advance the same way whatever the others decide) and combines
// the answers: the first error and the first bit flip win, latencies add.
func Merge(rules ...Rule) Rule {
	return RuleFunc(func(op Op) Injection {
		var out Injection
		for _, r := range rules {
			inj := r.Inject(op)
			if out.Err == nil {
				out.Err = inj.Err
			}
			if !out.Flip && inj.Flip {
				out.Flip, out.FlipBit = true, inj.FlipBit
			}
			out.LatencyNs += inj.LatencyNs
		}
		return out
	})
}
