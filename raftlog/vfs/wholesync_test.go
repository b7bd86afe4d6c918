package vfs

import (
	"bytes"
	"errors"
	"runtime"
	"syscall"
	"testing"
)

// TestMemWholeSyncMakesEveryFileDurable: after one WholeSync.Sync every
// file's written data survives any power loss, whatever its name's state;
// without it, some seed loses some of it.
func TestMemWholeSyncMakesEveryFileDurable(t *testing.T) {
	names := []string{"a/seg", "b/seg", "b/renamed"}
	lostWithout := false
	for seed := range uint64(40) {
		for _, withSync := range []bool{true, false} {
			m := NewMem(seed)
			for _, d := range []string{"a", "b"} {
				if err := m.MkdirAll(d); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.SyncDir("/"); err != nil {
				t.Fatal(err)
			}
			files := map[string]File{}
			for _, n := range names {
				files[n] = durableIn(t, m, n)
			}
			ws, err := m.OpenWholeSync("a")
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range names {
				mustWrite(t, files[n], pageOf(byte('p'+i)), 0)
				mustWrite(t, files[n], pageOf(byte('P'+i)), memPageSize)
			}
			// A rename not yet made durable: the file comes back under its
			// old name, with the data the sync covered.
			if err := m.Rename("b/renamed", "b/new-name"); err != nil {
				t.Fatal(err)
			}
			if withSync {
				if err := ws.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			m.Crash()
			for i, n := range names {
				want := append(pageOf(byte('p'+i)), pageOf(byte('P'+i))...)
				got := readAll(t, m, n)
				switch {
				case withSync && !bytes.Equal(got, want):
					t.Fatalf("seed %d: %s after WholeSync and a crash: %d bytes, not what was written", seed, n, len(got))
				case !withSync && !bytes.Equal(got, want):
					lostWithout = true
				}
			}
			wantErrIs(t, "Sync after the crash", ws.Sync(), ErrClosed)
		}
	}
	if !lostWithout {
		t.Fatal("no seed lost unsynced data without WholeSync: the test cannot tell a sync from none")
	}
}

// durableIn creates name (empty) and makes it and its entry durable.
func durableIn(t *testing.T, m *Mem, name string) File {
	t.Helper()
	f := mustCreate(t, m, name, nil)
	mustSync(t, f)
	if err := m.SyncDir(name[:bytes.IndexByte([]byte(name), '/')]); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMemWholeSyncClosedAndMissingDir(t *testing.T) {
	m := NewMem(1)
	if _, err := m.OpenWholeSync("nowhere"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("OpenWholeSync of a missing directory = %v, want ErrNotExist", err)
	}
	ws, err := m.OpenWholeSync("/")
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "Sync after Close", ws.Sync(), ErrClosed)
}

func TestInjectEIOOnWholeSyncSyncsNothing(t *testing.T) {
	m, x := newInjected(t)
	f := mustCreate(t, x, segName, nil)
	mustSync(t, f)
	for _, d := range []string{"seg", "/"} {
		if err := x.SyncDir(d); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := x.OpenWholeSync("seg")
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, []byte("data"), 0)
	x.SetRule(On(OpSyncFS, "", Injection{Err: ErrEIO}))
	err = ws.Sync()
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v, want EIO", err)
	}
	if want := "vfs: injected EIO on syncfs of seg"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	m.CrashClean()
	if got := readAll(t, m, segName); len(got) != 0 {
		t.Errorf("a failed whole sync made %q durable", got)
	}
	if _, err := Inject(struct{ FS }{m}, nil).OpenWholeSync("seg"); !errors.Is(err, ErrWholeSyncUnsupported) {
		t.Errorf("OpenWholeSync over an FS without one = %v, want ErrWholeSyncUnsupported", err)
	}
}

// TestOSWholeSync runs syncfs on real files (Linux 5.8+; elsewhere it must
// say it is unsupported).
func TestOSWholeSync(t *testing.T) {
	dir := t.TempDir()
	ws, err := OS().(WholeSyncer).OpenWholeSync(dir)
	if runtime.GOOS != "linux" {
		if !errors.Is(err, ErrWholeSyncUnsupported) {
			t.Fatalf("OpenWholeSync on %s = %v, want ErrWholeSyncUnsupported", runtime.GOOS, err)
		}
		t.Skip("syncfs is Linux's")
	}
	if errors.Is(err, ErrWholeSyncUnsupported) {
		t.Skipf("this kernel: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	f := mustCreate(t, OS(), dir+"/f", []byte("data"))
	defer f.Close()
	if err := ws.Sync(); err != nil {
		t.Fatalf("syncfs: %v", err)
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ws.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close = %v, want ErrClosed", err)
	}
	if _, err := OS().(WholeSyncer).OpenWholeSync(dir + "/missing"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("OpenWholeSync of a missing directory = %v, want ErrNotExist", err)
	}
}
