package vfs

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"sync"
	"syscall"
	"testing"
)

// The conformance suite states what every FS must do; it runs against the
// real file system, Mem, and Mem behind an InjectFS that injects nothing,
// so Mem cannot drift from what the OS does.

type fsCase struct {
	name string
	// open returns a fresh FS and an existing, empty directory in it.
	open func(t *testing.T) (FS, string)
}

func fsCases() []fsCase {
	memRoot := func(fs FS) func(t *testing.T) (FS, string) {
		return func(t *testing.T) (FS, string) {
			if err := fs.MkdirAll("/data"); err != nil {
				t.Fatal(err)
			}
			return fs, "/data"
		}
	}
	noop := RuleFunc(func(Op) Injection { return Injection{} })
	return []fsCase{
		{"os", func(t *testing.T) (FS, string) { return OS(), t.TempDir() }},
		{"mem", func(t *testing.T) (FS, string) { return memRoot(NewMem(1))(t) }},
		{"inject", func(t *testing.T) (FS, string) { return memRoot(Inject(NewMem(1), noop))(t) }},
	}
}

var conformance = []struct {
	name string
	fn   func(t *testing.T, fs FS, root string)
}{
	{"WriteReadSync", testWriteReadSync},
	{"ReadPastEOF", testReadPastEOF},
	{"ReadOnly", testReadOnly},
	{"OpenReadWriteKeepsData", testOpenReadWriteKeepsData},
	{"CreateTruncates", testCreateTruncates},
	{"Truncate", testTruncate},
	{"Rename", testRename},
	{"Remove", testRemove},
	{"List", testList},
	{"NotExist", testNotExist},
	{"MkdirAllSyncDir", testMkdirAllSyncDir},
	{"Closed", testClosed},
	{"Preallocate", testPreallocate},
	{"ConcurrentReadWrite", testConcurrentReadWrite},
}

func TestConformance(t *testing.T) {
	for _, c := range fsCases() {
		t.Run(c.name, func(t *testing.T) {
			for _, tc := range conformance {
				t.Run(tc.name, func(t *testing.T) {
					fs, root := c.open(t)
					tc.fn(t, fs, root)
				})
			}
		})
	}
}

// ----- helpers -----

func mustCreate(t *testing.T, fs FS, name string, data []byte) File {
	t.Helper()
	f, err := fs.Create(name)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	if len(data) > 0 {
		mustWrite(t, f, data, 0)
	}
	return f
}

func mustWrite(t *testing.T, f File, data []byte, off int64) {
	t.Helper()
	if n, err := f.WriteAt(data, off); err != nil || n != len(data) {
		t.Fatalf("WriteAt(%d bytes, %d) = %d, %v", len(data), off, n, err)
	}
}

func mustSync(t *testing.T, f File) {
	t.Helper()
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func mustClose(t *testing.T, f File) {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// readAll reads the whole named file through a fresh read-only handle.
func readAll(t *testing.T, fs FS, name string) []byte {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		t.Fatalf("Size: %v", err)
	}
	buf := make([]byte, size)
	if n, err := f.ReadAt(buf, 0); n != len(buf) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt = %d, %v; want %d bytes", n, err, len(buf))
	}
	return buf
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one matching %v", what, err, target)
	}
}

// ----- cases -----

func testWriteReadSync(t *testing.T, fs FS, root string) {
	name := Join(root, "f")
	f := mustCreate(t, fs, name, []byte("hello"))
	if f.Name() != name {
		t.Errorf("Name() = %q, want %q", f.Name(), name)
	}
	mustWrite(t, f, []byte("world"), 10) // leaves a 5-byte hole
	if size, err := f.Size(); err != nil || size != 15 {
		t.Fatalf("Size() = %d, %v; want 15", size, err)
	}
	mustSync(t, f)
	mustClose(t, f)
	if size, err := fs.Stat(name); err != nil || size != 15 {
		t.Fatalf("Stat = %d, %v; want 15", size, err)
	}
	want := []byte("hello\x00\x00\x00\x00\x00world")
	if got := readAll(t, fs, name); !bytes.Equal(got, want) {
		t.Fatalf("contents = %q, want %q", got, want)
	}
}

func testReadPastEOF(t *testing.T, fs FS, root string) {
	f := mustCreate(t, fs, Join(root, "f"), []byte("12345"))
	defer f.Close()
	buf := make([]byte, 10)
	if n, err := f.ReadAt(buf, 0); n != 5 || err != io.EOF {
		t.Errorf("short ReadAt = %d, %v; want 5, io.EOF", n, err)
	}
	if n, err := f.ReadAt(buf, 5); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at EOF = %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := f.ReadAt(buf[:3], 1); n != 3 || err != nil || string(buf[:3]) != "234" {
		t.Errorf("ReadAt(3, 1) = %d, %v, %q; want 3, nil, \"234\"", n, err, buf[:3])
	}
}

func testReadOnly(t *testing.T, fs FS, root string) {
	name := Join(root, "f")
	mustClose(t, mustCreate(t, fs, name, []byte("data")))
	f, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Error("WriteAt on a read-only file succeeded")
	}
	if err := f.Truncate(0); err == nil {
		t.Error("Truncate on a read-only file succeeded")
	}
	if got := readAll(t, fs, name); string(got) != "data" {
		t.Errorf("contents = %q after failed writes, want \"data\"", got)
	}
}

func testOpenReadWriteKeepsData(t *testing.T, fs FS, root string) {
	name := Join(root, "f")
	mustClose(t, mustCreate(t, fs, name, []byte("abcdef")))
	f, err := fs.OpenReadWrite(name)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, []byte("XY"), 2)
	mustClose(t, f)
	if got := readAll(t, fs, name); string(got) != "abXYef" {
		t.Errorf("contents = %q, want \"abXYef\"", got)
	}
}

func testCreateTruncates(t *testing.T, fs FS, root string) {
	name := Join(root, "f")
	mustClose(t, mustCreate(t, fs, name, []byte("old contents")))
	mustClose(t, mustCreate(t, fs, name, []byte("new")))
	if got := readAll(t, fs, name); string(got) != "new" {
		t.Errorf("contents = %q, want \"new\"", got)
	}
}

func testTruncate(t *testing.T, fs FS, root string) {
	name := Join(root, "f")
	f := mustCreate(t, fs, name, []byte("abcdef"))
	defer f.Close()
	if err := f.Truncate(3); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(6); err != nil { // growth must read as zeros, not "def"
		t.Fatal(err)
	}
	mustSync(t, f)
	if got := readAll(t, fs, name); string(got) != "abc\x00\x00\x00" {
		t.Errorf("contents = %q, want \"abc\\x00\\x00\\x00\"", got)
	}
}

func testRename(t *testing.T, fs FS, root string) {
	a, b := Join(root, "a"), Join(root, "b")
	mustClose(t, mustCreate(t, fs, a, []byte("from a")))
	mustClose(t, mustCreate(t, fs, b, []byte("old b")))
	if err := fs.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(a); !errors.Is(err, ErrNotExist) {
		t.Errorf("Stat(old name) after rename: %v, want ErrNotExist", err)
	}
	if got := readAll(t, fs, b); string(got) != "from a" {
		t.Errorf("renamed contents = %q, want \"from a\"", got)
	}
	wantErrIs(t, "Rename of a missing file", fs.Rename(a, b), ErrNotExist)
}

func testRemove(t *testing.T, fs FS, root string) {
	name := Join(root, "f")
	mustClose(t, mustCreate(t, fs, name, nil))
	if err := fs.Remove(name); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "Stat after Remove", func() error { _, err := fs.Stat(name); return err }(), ErrNotExist)
	wantErrIs(t, "Remove of a missing file", fs.Remove(name), ErrNotExist)

	dir := Join(root, "d")
	if err := fs.MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	mustClose(t, mustCreate(t, fs, Join(dir, "x"), nil))
	err := fs.Remove(dir)
	wantErrIs(t, "Remove of a non-empty directory", err, syscall.ENOTEMPTY)
	if errors.Is(err, ErrExist) {
		t.Errorf("Remove of a non-empty directory: %v matches ErrExist", err)
	}
	if err := fs.Remove(Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(dir); err != nil {
		t.Errorf("Remove of an empty directory: %v", err)
	}
}

func testList(t *testing.T, fs FS, root string) {
	if names, err := fs.List(root); err != nil || len(names) != 0 {
		t.Fatalf("List(empty) = %q, %v", names, err)
	}
	for _, n := range []string{"c", "a", "b"} {
		mustClose(t, mustCreate(t, fs, Join(root, n), nil))
	}
	if err := fs.MkdirAll(Join(root, "d", "e")); err != nil {
		t.Fatal(err)
	}
	names, err := fs.List(root)
	if want := []string{"a", "b", "c", "d"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("List = %q, %v; want %q", names, err, want)
	}
	_, err = fs.List(Join(root, "missing"))
	wantErrIs(t, "List of a missing directory", err, ErrNotExist)
}

func testNotExist(t *testing.T, fs FS, root string) {
	missing := Join(root, "missing")
	_, err := fs.Open(missing)
	wantErrIs(t, "Open", err, ErrNotExist)
	_, err = fs.OpenReadWrite(missing)
	wantErrIs(t, "OpenReadWrite", err, ErrNotExist)
	_, err = fs.Stat(missing)
	wantErrIs(t, "Stat", err, ErrNotExist)
	_, err = fs.Create(Join(missing, "f"))
	wantErrIs(t, "Create in a missing directory", err, ErrNotExist)
	wantErrIs(t, "SyncDir", fs.SyncDir(missing), ErrNotExist)
	wantErrIs(t, "Rename into a missing directory",
		fs.Rename(Join(root, "nope"), Join(missing, "f")), ErrNotExist)
}

func testMkdirAllSyncDir(t *testing.T, fs FS, root string) {
	dir := Join(root, "a", "b", "c")
	for range 2 { // idempotent
		if err := fs.MkdirAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	f := mustCreate(t, fs, Join(dir, "f"), []byte("x"))
	mustSync(t, f)
	mustClose(t, f)
	for _, d := range []string{dir, Join(root, "a", "b"), Join(root, "a"), root} {
		if err := fs.SyncDir(d); err != nil {
			t.Errorf("SyncDir(%q): %v", d, err)
		}
	}
	if err := fs.MkdirAll(Join(dir, "f")); err == nil {
		t.Error("MkdirAll over a file succeeded")
	}
}

func testClosed(t *testing.T, fs FS, root string) {
	f := mustCreate(t, fs, Join(root, "f"), []byte("x"))
	mustClose(t, f)
	_, err := f.ReadAt(make([]byte, 1), 0)
	wantErrIs(t, "ReadAt after Close", err, ErrClosed)
	_, err = f.WriteAt([]byte("y"), 0)
	wantErrIs(t, "WriteAt after Close", err, ErrClosed)
	wantErrIs(t, "Sync after Close", f.Sync(), ErrClosed)
	wantErrIs(t, "Close after Close", f.Close(), ErrClosed)
}

func testPreallocate(t *testing.T, fs FS, root string) {
	name := Join(root, "f")
	f := mustCreate(t, fs, name, []byte("abc"))
	defer f.Close()
	if err := f.Preallocate(0, 1<<20); err != nil {
		t.Fatal(err)
	}
	if size, err := f.Size(); err != nil || size != 3 {
		t.Errorf("Size after Preallocate = %d, %v; want 3", size, err)
	}
	mustSync(t, f)
	if got := readAll(t, fs, name); string(got) != "abc" {
		t.Errorf("contents = %q, want \"abc\"", got)
	}
}

// testConcurrentReadWrite has one goroutine append pages while another
// reads those already written, as the log's writer and readers do; run
// with -race.
func testConcurrentReadWrite(t *testing.T, fs FS, root string) {
	const pages = 64
	name := Join(root, "f")
	w := mustCreate(t, fs, name, nil)
	defer w.Close()
	r, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	written := make(chan int, pages)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(written)
		for i := range pages {
			if _, err := w.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, 512), int64(i)*512); err != nil {
				t.Error(err)
				return
			}
			written <- i
		}
	})
	buf := make([]byte, 512)
	for i := range written {
		if _, err := r.ReadAt(buf, int64(i)*512); err != nil {
			t.Fatal(err)
		}
		if buf[0] != byte(i+1) || buf[511] != byte(i+1) {
			t.Fatalf("page %d reads %d..%d", i, buf[0], buf[511])
		}
	}
	wg.Wait()
}
