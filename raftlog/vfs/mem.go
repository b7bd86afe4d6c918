package vfs

import (
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// memPageSize is the unit in which Crash keeps or drops unsynced writes:
// the page cache writes back whole pages, in no particular order.
const memPageSize = 4096

// Mem is an in-memory FS with crash semantics, modelled on Pebble's
// crashable MemFS. It is safe for concurrent use: one mutex guards
// everything, so a writer and a reader may share it.
//
// Each file has current contents (what reads see) and durable contents
// (what survives power loss): File.Sync makes the current contents and size
// durable. Each directory has a current and a durable name map: SyncDir
// makes the current one durable. Paths are slash-separated and cleaned; "a",
// "/a" and "./a" name the same file, and the root always exists.
//
// Open and Create of a directory fail with EISDIR (unlike os.Open).
type Mem struct {
	mu   sync.Mutex
	rng  *rand.Rand // only Crash draws from it
	root *memNode
	// gen counts crashes. A handle opened in an earlier generation is dead:
	// its process, or the machine, went away.
	gen uint64
	// capacityBytes bounds the total size of the files reachable by name;
	// zero or less means unbounded.
	capacityBytes int64
}

var _ FS = (*Mem)(nil)

// memNode is an inode: a directory or a regular file.
type memNode struct {
	dir bool

	// Directories.
	children        map[string]*memNode // current entries
	durableChildren map[string]*memNode // entries as of the last SyncDir

	// Files.
	data    []byte // current contents
	durable []byte // contents as of the last Sync (or crash)
	// dirty holds, by page index, the span of bytes written in that page
	// since the last Sync; Crash chooses among these pages.
	dirty map[int64]span
	// truncated records a size change by Truncate or Create since the last
	// Sync; Sync then copies the whole file instead of the dirty pages.
	truncated bool
}

// span is the half-open byte range [lo, hi) of a file.
type span struct{ lo, hi int64 }

// NewMem returns an empty in-memory FS. seed drives every random choice
// Crash makes: the same seed and the same operations give the same bytes.
func NewMem(seed uint64) *Mem {
	return &Mem{
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		root: newMemDir(),
	}
}

func newMemDir() *memNode {
	return &memNode{
		dir:             true,
		children:        map[string]*memNode{},
		durableChildren: map[string]*memNode{},
	}
}

// SetCapacity bounds the total size of all files reachable by name. A write,
// Truncate or Preallocate that would go beyond it fails with an error
// wrapping syscall.ENOSPC and changes nothing. Zero or less removes the
// bound.
func (m *Mem) SetCapacity(bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capacityBytes = bytes
}

// UsedBytes returns the total size of all files reachable by name.
func (m *Mem) UsedBytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usedBytes()
}

// ----- Crashes -----

// Crash simulates power loss. Every open File becomes unusable (ErrClosed).
// Every directory reverts to its durable entries. Every file reverts to its
// durable contents plus a seeded-random subset of the 4 KiB pages written
// since its last Sync: each dirty page is kept or dropped independently,
// and the last kept page (highest offset) may be torn, keeping only a
// prefix of the bytes written in it. A file's size after the crash is the
// larger of its durable size and the end of the kept bytes; a Truncate
// that was not synced is forgotten.
func (m *Mem) Crash() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.restart(func(n *memNode) { n.crashFile(m.rng) })
}

// CrashClean simulates a power loss that keeps exactly the durable state:
// synced file contents and synced directory entries, nothing more.
func (m *Mem) CrashClean() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.restart(func(n *memNode) { n.setContents(n.durable) })
}

// ProcessCrash simulates the process dying while the machine keeps
// running: the OS page cache survives, so every write and every name change
// stays, synced or not. Only open Files become unusable (ErrClosed).
func (m *Mem) ProcessCrash() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
}

// restart kills every handle, reverts every directory reachable through
// durable entries to those entries, and applies crashFile to every file
// so reached. Names are visited in sorted order so the draws from m.rng,
// and so the result, depend only on the seed and the operations.
func (m *Mem) restart(crashFile func(*memNode)) {
	m.gen++
	walkFiles(m.root, func(d *memNode) []*memNode {
		d.children = maps.Clone(d.durableChildren)
		return sortedEntries(d.children)
	}, crashFile)
}

// walkFiles calls file once for every file reachable from root, entering
// each directory once and taking its entries, in order, from entries.
func walkFiles(root *memNode, entries func(dir *memNode) []*memNode, file func(*memNode)) {
	seen := map[*memNode]bool{}
	var visit func(n *memNode)
	visit = func(n *memNode) {
		if seen[n] {
			return
		}
		seen[n] = true
		if !n.dir {
			file(n)
			return
		}
		for _, c := range entries(n) {
			visit(c)
		}
	}
	visit(root)
}

// sortedEntries returns a directory's nodes in the order of their names.
func sortedEntries(names map[string]*memNode) []*memNode {
	out := make([]*memNode, 0, len(names))
	for _, name := range slices.Sorted(maps.Keys(names)) {
		out = append(out, names[name])
	}
	return out
}

// crashFile replaces the file's contents by what a power loss leaves: the
// durable bytes overlaid with a random subset of the dirty pages, the last
// one possibly torn.
func (n *memNode) crashFile(rng *rand.Rand) {
	var kept []span
	for _, pg := range slices.Sorted(maps.Keys(n.dirty)) {
		s := n.dirty[pg]
		s.hi = min(s.hi, int64(len(n.data))) // drop bytes truncated away after the write
		if s.hi > s.lo && rng.IntN(2) == 0 {
			kept = append(kept, s)
		}
	}
	if k := len(kept); k > 0 && kept[k-1].hi-kept[k-1].lo > 1 && rng.IntN(2) == 0 {
		last := &kept[k-1]
		last.hi = last.lo + 1 + rng.Int64N(last.hi-last.lo-1) // keep 1..len-1 bytes
	}
	out := n.durable
	for _, s := range kept {
		out = growZero(out, s.hi)
		copy(out[s.lo:s.hi], n.data[s.lo:s.hi])
	}
	n.setContents(out)
}

// setContents makes b both the current and durable contents, as after a
// reboot: what is on disk is all there is.
func (n *memNode) setContents(b []byte) {
	n.data = slices.Clone(b)
	n.durable = slices.Clone(b)
	n.dirty = nil
	n.truncated = false
}

// ----- Damage -----

// Misdirect models a misdirected write found after the fact: the n bytes
// the file holds at off were written to landOff instead, as a drive that
// lands a write on the wrong sectors does. The bytes at [off, off+n) become
// zeros (the never-written space an append-only file had there) and those
// at [landOff, landOff+n) the bytes meant for off. Both the current and
// the durable contents change (the page cache no longer hides the damage);
// open handles stay usable. Both ranges must lie within the file's current
// and durable sizes.
func (m *Mem) Misdirect(name string, off, landOff, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.lookup("misdirect", name)
	if err != nil {
		return err
	}
	if f.dir {
		return pathErr("misdirect", name, syscall.EISDIR)
	}
	size := min(int64(len(f.data)), int64(len(f.durable)))
	if n <= 0 || off < 0 || landOff < 0 || off+n > size || landOff+n > size {
		return pathErr("misdirect", name, syscall.EINVAL)
	}
	for _, b := range [][]byte{f.data, f.durable} {
		meant := slices.Clone(b[off : off+n])
		clear(b[off : off+n])
		copy(b[landOff:landOff+n], meant)
	}
	return nil
}

// ----- FS -----

func (m *Mem) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentOf("create", name)
	if err != nil {
		return nil, err
	}
	n, ok := dir.children[base]
	switch {
	case !ok:
		n = &memNode{}
		dir.children[base] = n
	case n.dir:
		return nil, pathErr("create", name, syscall.EISDIR)
	default:
		n.resize(0)
	}
	return m.newFile(n, name, true), nil
}

func (m *Mem) Open(name string) (File, error) { return m.open("open", name, false) }

func (m *Mem) OpenReadWrite(name string) (File, error) { return m.open("open", name, true) }

func (m *Mem) open(op, name string, writable bool) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(op, name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, pathErr(op, name, syscall.EISDIR)
	}
	return m.newFile(n, name, writable), nil
}

// Rename moves the entry. Both the removal of oldname and the creation of
// newname become durable only with SyncDir of their directories; across
// directories a crash can keep either, both or neither.
func (m *Mem) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	linkErr := func(err error) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	od, ob, err := m.parentOf("rename", oldname)
	if err != nil {
		return err
	}
	nd, nb, err := m.parentOf("rename", newname)
	if err != nil {
		return err
	}
	n, ok := od.children[ob]
	if !ok {
		return linkErr(ErrNotExist)
	}
	if err := m.checkRenameTarget(n, nd.children[nb], newname); err != nil {
		return linkErr(err)
	}
	delete(od.children, ob)
	nd.children[nb] = n
	return nil
}

// checkRenameTarget applies rename(2)'s rules on what may be replaced: a
// file by a file, a directory by an empty directory, and never a directory
// into itself.
func (m *Mem) checkRenameTarget(n, target *memNode, newname string) error {
	switch {
	case target == n:
		return nil
	case target != nil && target.dir && !n.dir:
		return syscall.EISDIR
	case target != nil && !target.dir && n.dir:
		return syscall.ENOTDIR
	case target != nil && target.dir && len(target.children) > 0:
		return syscall.ENOTEMPTY
	}
	if n.dir && m.onPath(n, newname) {
		return syscall.EINVAL
	}
	return nil
}

// onPath reports whether node n is one of the directories leading to name.
func (m *Mem) onPath(n *memNode, name string) bool {
	d := m.root
	parts := splitPath(name)
	for _, p := range parts[:len(parts)-1] {
		if d = d.children[p]; d == n {
			return true
		}
	}
	return false
}

func (m *Mem) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentOf("remove", name)
	if err != nil {
		return err
	}
	n, ok := dir.children[base]
	switch {
	case !ok:
		return pathErr("remove", name, ErrNotExist)
	case n.dir && len(n.children) > 0:
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(dir.children, base)
	return nil
}

func (m *Mem) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.root
	for _, p := range splitPath(dir) {
		c, ok := d.children[p]
		switch {
		case !ok:
			c = newMemDir()
			d.children[p] = c
		case !c.dir:
			return pathErr("mkdir", dir, syscall.ENOTDIR)
		}
		d = c
	}
	return nil
}

func (m *Mem) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.lookupDir("readdir", dir)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(d.children)), nil
}

func (m *Mem) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.lookupDir("syncdir", dir)
	if err != nil {
		return err
	}
	d.durableChildren = maps.Clone(d.children)
	return nil
}

// Stat returns a file's size; directories report 0.
func (m *Mem) Stat(name string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("stat", name)
	if err != nil {
		return 0, err
	}
	return int64(len(n.data)), nil
}

// ----- Path lookup; callers hold m.mu -----

// splitPath returns the elements of the cleaned path; none for the root.
func splitPath(name string) []string {
	p := path.Clean("/" + name)
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// walk follows parts from the root.
func (m *Mem) walk(parts []string) (*memNode, error) {
	n := m.root
	for _, p := range parts {
		if !n.dir {
			return nil, syscall.ENOTDIR
		}
		c, ok := n.children[p]
		if !ok {
			return nil, ErrNotExist
		}
		n = c
	}
	return n, nil
}

func (m *Mem) lookup(op, name string) (*memNode, error) {
	n, err := m.walk(splitPath(name))
	if err != nil {
		return nil, pathErr(op, name, err)
	}
	return n, nil
}

func (m *Mem) lookupDir(op, name string) (*memNode, error) {
	n, err := m.lookup(op, name)
	if err == nil && !n.dir {
		err = pathErr(op, name, syscall.ENOTDIR)
	}
	return n, err
}

// parentOf returns the directory that holds name, and name's last element.
func (m *Mem) parentOf(op, name string) (*memNode, string, error) {
	parts := splitPath(name)
	if len(parts) == 0 {
		return nil, "", pathErr(op, name, syscall.EINVAL) // the root has no parent
	}
	dir, err := m.walk(parts[:len(parts)-1])
	if err == nil && !dir.dir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, "", pathErr(op, name, err)
	}
	return dir, parts[len(parts)-1], nil
}

// usedBytes sums the sizes of the files reachable by name. It walks the
// tree each time: Mem holds few files, and a counter would have to follow
// every rename, removal and crash.
func (m *Mem) usedBytes() int64 {
	var total int64
	seen := map[*memNode]bool{}
	var visit func(n *memNode)
	visit = func(n *memNode) {
		if seen[n] {
			return
		}
		seen[n] = true
		total += int64(len(n.data))
		for _, c := range n.children { //lint:maporder-ok summing sizes is order-independent
			visit(c)
		}
	}
	visit(m.root)
	return total
}

// reserve fails with ENOSPC if growing the file system by growBytes would
// exceed its capacity.
func (m *Mem) reserve(growBytes int64) error {
	if m.capacityBytes > 0 && growBytes > 0 && m.usedBytes()+growBytes > m.capacityBytes {
		return syscall.ENOSPC
	}
	return nil
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// ----- Files -----

// memFile is an open handle on a memNode. All its fields but closed are
// fixed at open; closed is guarded by m.mu.
type memFile struct {
	m        *Mem
	n        *memNode
	name     string
	writable bool
	gen      uint64
	closed   bool
}

var _ File = (*memFile)(nil)

func (m *Mem) newFile(n *memNode, name string, writable bool) *memFile {
	return &memFile{m: m, n: n, name: name, writable: writable, gen: m.gen}
}

// lock takes the Mem's lock and checks the handle is still usable; on
// error the lock is already released.
func (f *memFile) lock(op string, write bool) error {
	f.m.mu.Lock()
	var err error
	switch {
	case f.closed || f.gen != f.m.gen:
		err = ErrClosed
	case write && !f.writable:
		err = syscall.EBADF // as write(2) on a read-only descriptor
	default:
		return nil
	}
	f.m.mu.Unlock()
	return pathErr(op, f.name, err)
}

func (f *memFile) unlock() { f.m.mu.Unlock() }

// ReadAt behaves like os.File.ReadAt: a short read returns io.EOF.
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.lock("read", false); err != nil {
		return 0, err
	}
	defer f.unlock()
	if off < 0 {
		return 0, pathErr("read", f.name, syscall.EINVAL)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes all of p or, on error, nothing.
func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.lock("write", true); err != nil {
		return 0, err
	}
	defer f.unlock()
	if off < 0 {
		return 0, pathErr("write", f.name, syscall.EINVAL)
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := off + int64(len(p))
	if err := f.m.reserve(end - int64(len(f.n.data))); err != nil {
		return 0, pathErr("write", f.name, err)
	}
	f.n.write(p, off)
	return len(p), nil
}

func (f *memFile) Close() error {
	if err := f.lock("close", false); err != nil {
		return err
	}
	defer f.unlock()
	f.closed = true
	return nil
}

func (f *memFile) Sync() error {
	if err := f.lock("sync", false); err != nil {
		return err
	}
	defer f.unlock()
	f.n.sync()
	return nil
}

// Truncate changes the current size; like a write, the new size is durable
// only after Sync.
func (f *memFile) Truncate(size int64) error {
	// ftruncate(2) on a read-only descriptor fails with EINVAL, not EBADF.
	if err := f.lock("truncate", false); err != nil {
		return err
	}
	defer f.unlock()
	if size < 0 || !f.writable {
		return pathErr("truncate", f.name, syscall.EINVAL)
	}
	if err := f.m.reserve(size - int64(len(f.n.data))); err != nil {
		return pathErr("truncate", f.name, err)
	}
	f.n.resize(size)
	return nil
}

// Preallocate records nothing: sizes and contents stay as they are. It
// fails with ENOSPC when the range beyond the current size does not fit in
// the remaining capacity, as fallocate(2) would, but reserves no space, so
// a later write may still fail.
func (f *memFile) Preallocate(off, length int64) error {
	if err := f.lock("fallocate", true); err != nil {
		return err
	}
	defer f.unlock()
	if off < 0 || length < 0 {
		return pathErr("fallocate", f.name, syscall.EINVAL)
	}
	if err := f.m.reserve(off + length - int64(len(f.n.data))); err != nil {
		return pathErr("fallocate", f.name, err)
	}
	return nil
}

func (f *memFile) Size() (int64, error) {
	if err := f.lock("stat", false); err != nil {
		return 0, err
	}
	defer f.unlock()
	return int64(len(f.n.data)), nil
}

func (f *memFile) Name() string { return f.name }

// ----- File contents; callers hold m.mu -----

// write copies p to off, zero-filling any gap, and marks the pages it
// touched dirty.
func (n *memNode) write(p []byte, off int64) {
	end := off + int64(len(p))
	n.data = growZero(n.data, end)
	copy(n.data[off:end], p)
	if n.dirty == nil {
		n.dirty = map[int64]span{}
	}
	for pg := off / memPageSize; pg*memPageSize < end; pg++ {
		w := span{lo: max(off, pg*memPageSize), hi: min(end, (pg+1)*memPageSize)}
		if s, ok := n.dirty[pg]; ok {
			w = span{lo: min(s.lo, w.lo), hi: max(s.hi, w.hi)}
		}
		n.dirty[pg] = w
	}
}

// resize sets the current size, zero-filling growth.
func (n *memNode) resize(size int64) {
	if size < int64(len(n.data)) {
		n.data = n.data[:size]
	} else {
		n.data = growZero(n.data, size)
	}
	n.truncated = true
}

// sync makes the current contents durable. Without a size change since the
// last sync the file only grew by writes and zero-filled gaps, so copying
// the dirty spans onto the durable bytes (grown with zeros) is enough and
// keeps a sync proportional to what was written.
func (n *memNode) sync() {
	if n.truncated {
		n.durable = slices.Clone(n.data)
	} else {
		n.durable = growZero(n.durable, int64(len(n.data)))
		for _, s := range n.dirty { //lint:maporder-ok each dirty range is copied independently of the others
			copy(n.durable[s.lo:s.hi], n.data[s.lo:s.hi])
		}
	}
	n.dirty = nil
	n.truncated = false
}

// growZero returns b extended with zeros to size (or b if already as long).
// Bytes past len(b) in b's backing array may be stale (from an earlier
// shrink), so they are cleared explicitly.
func growZero(b []byte, size int64) []byte {
	old := int64(len(b))
	if size <= old {
		return b
	}
	if int64(cap(b)) < size {
		// Double the capacity: files grow by many small appends, and
		// growing by exactly what is needed would copy the file each time.
		// A fresh array is zero already.
		nb := make([]byte, size, max(size, 2*int64(cap(b))))
		copy(nb, b)
		return nb
	}
	b = b[:size]
	clear(b[old:])
	return b
}

// ----- Whole-file-system sync -----

var _ WholeSyncer = (*Mem)(nil)

// OpenWholeSync returns a WholeSync whose Sync makes every file's data
// durable, as syncfs does. Like a File, it dies with a crash. dir must be
// a directory; the sync covers the whole FS, as syncfs covers the whole
// file system. Directory entries are left alone: names still need SyncDir
// (ext4's syncfs would commit them too; the model promises no more than
// fdatasync on every file).
func (m *Mem) OpenWholeSync(dir string) (WholeSync, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.lookupDir("syncfs", dir); err != nil {
		return nil, err
	}
	return &memWholeSync{m: m, dir: dir, gen: m.gen}, nil
}

type memWholeSync struct {
	m      *Mem
	dir    string
	gen    uint64
	closed bool
}

func (s *memWholeSync) Sync() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.closed || s.gen != s.m.gen {
		return pathErr("syncfs", s.dir, ErrClosed)
	}
	// Files reachable under either name: one renamed since the last
	// SyncDir comes back under its old name after a crash.
	walkFiles(s.m.root, func(d *memNode) []*memNode {
		return append(sortedEntries(d.children), sortedEntries(d.durableChildren)...)
	}, (*memNode).sync)
	return nil
}

func (s *memWholeSync) Close() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.closed = true
	return nil
}
