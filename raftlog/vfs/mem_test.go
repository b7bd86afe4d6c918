package vfs

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
)

// pageOf returns a page-sized run of the byte b.
func pageOf(b byte) []byte { return bytes.Repeat([]byte{b}, memPageSize) }

// durableFile creates name in an already durable directory, writes data,
// syncs it and its directory entry, and returns the open handle.
func durableFile(t *testing.T, m *Mem, name string, data []byte) File {
	t.Helper()
	f := mustCreate(t, m, name, data)
	mustSync(t, f)
	if err := m.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMemSyncedDataSurvivesCrash(t *testing.T) {
	for seed := range uint64(50) {
		m := NewMem(seed)
		synced := append(pageOf('a'), "tail of synced"...)
		f := durableFile(t, m, "f", synced)
		mustWrite(t, f, pageOf('b'), int64(len(synced)))
		mustWrite(t, f, []byte("overwrite"), 0)
		m.Crash()
		got := readAll(t, m, "f")
		// The first page may show the unsynced overwrite, but everything
		// past it was synced and never overwritten.
		if len(got) < len(synced) || !bytes.Equal(got[memPageSize:len(synced)], synced[memPageSize:]) {
			t.Fatalf("seed %d: synced bytes lost: got %d bytes", seed, len(got))
		}
		if first := got[:9]; string(first) != "overwrite" && string(first) != "aaaaaaaaa" {
			t.Fatalf("seed %d: first bytes %q are neither old nor new", seed, first)
		}
	}
}

func TestMemHandlesDieInCrash(t *testing.T) {
	for name, crash := range map[string]func(*Mem){
		"Crash": (*Mem).Crash, "CrashClean": (*Mem).CrashClean, "ProcessCrash": (*Mem).ProcessCrash,
	} {
		m := NewMem(1)
		f := durableFile(t, m, "f", []byte("x"))
		crash(m)
		_, err := f.ReadAt(make([]byte, 1), 0)
		wantErrIs(t, name+": ReadAt", err, ErrClosed)
		_, err = f.WriteAt([]byte("y"), 0)
		wantErrIs(t, name+": WriteAt", err, ErrClosed)
		wantErrIs(t, name+": Sync", f.Sync(), ErrClosed)
		wantErrIs(t, name+": Close", f.Close(), ErrClosed)
	}
}

func TestMemCreateWithoutSyncDirVanishes(t *testing.T) {
	m := NewMem(1)
	f := mustCreate(t, m, "f", []byte("synced data, unsynced name"))
	mustSync(t, f)
	m.Crash()
	_, err := m.Stat("f")
	wantErrIs(t, "Stat after crash", err, ErrNotExist)

	// A directory made by MkdirAll is a name in its parent too.
	if err := m.MkdirAll("d"); err != nil {
		t.Fatal(err)
	}
	f = mustCreate(t, m, "d/f", []byte("x"))
	mustSync(t, f)
	if err := m.SyncDir("d"); err != nil {
		t.Fatal(err)
	}
	m.Crash()
	_, err = m.Stat("d/f")
	wantErrIs(t, "Stat of a file in an unsynced directory", err, ErrNotExist)
}

func TestMemRenameAndRemoveWithoutSyncDirRevert(t *testing.T) {
	m := NewMem(1)
	mustClose(t, durableFile(t, m, "a", []byte("A")))
	mustClose(t, durableFile(t, m, "gone", []byte("G")))
	if err := m.Rename("a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("gone"); err != nil {
		t.Fatal(err)
	}
	m.Crash()
	if names, _ := m.List("/"); fmt.Sprint(names) != "[a gone]" {
		t.Fatalf("after crash: names %q, want [a gone]", names)
	}

	if err := m.Rename("a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	m.Crash()
	if names, _ := m.List("/"); fmt.Sprint(names) != "[b gone]" {
		t.Fatalf("after synced rename and crash: names %q, want [b gone]", names)
	}
	if got := readAll(t, m, "b"); string(got) != "A" {
		t.Fatalf("renamed file holds %q, want \"A\"", got)
	}
}

func TestMemUnsyncedTruncateIsForgotten(t *testing.T) {
	m := NewMem(1)
	f := durableFile(t, m, "f", []byte("0123456789"))
	if err := f.Truncate(4); err != nil {
		t.Fatal(err)
	}
	m.Crash()
	if got := readAll(t, m, "f"); string(got) != "0123456789" {
		t.Fatalf("unsynced truncate survived: %q", got)
	}
	f, err := m.OpenReadWrite("f")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4); err != nil {
		t.Fatal(err)
	}
	mustSync(t, f)
	m.Crash()
	if got := readAll(t, m, "f"); string(got) != "0123" {
		t.Fatalf("synced truncate lost: %q", got)
	}
}

func TestMemCrashCleanKeepsExactlySynced(t *testing.T) {
	m := NewMem(1)
	f := durableFile(t, m, "f", []byte("synced"))
	mustWrite(t, f, pageOf('x'), 0)
	mustClose(t, mustCreate(t, m, "unsynced-name", nil))
	m.CrashClean()
	if got := readAll(t, m, "f"); string(got) != "synced" {
		t.Fatalf("contents %q, want \"synced\"", got)
	}
	if names, _ := m.List("/"); fmt.Sprint(names) != "[f]" {
		t.Fatalf("names %q, want [f]", names)
	}
}

func TestMemProcessCrashKeepsEverything(t *testing.T) {
	m := NewMem(1)
	mustClose(t, mustCreate(t, m, "f", []byte("never synced")))
	if err := m.Rename("f", "g"); err != nil {
		t.Fatal(err)
	}
	m.ProcessCrash()
	if got := readAll(t, m, "g"); string(got) != "never synced" {
		t.Fatalf("contents %q after process crash", got)
	}
	// The page cache is still dirty: a power loss now loses it all.
	m.Crash()
	if names, _ := m.List("/"); len(names) != 0 {
		t.Fatalf("names %q survived power loss without SyncDir", names)
	}
}

// crashPages builds a durable, empty file, writes pages of 1, 2, 3, …
// without syncing, crashes with the given seed and returns the contents.
func crashPages(t *testing.T, seed uint64, pages int) []byte {
	t.Helper()
	m := NewMem(seed)
	f := durableFile(t, m, "f", nil)
	for i := range pages {
		mustWrite(t, f, pageOf(byte(i+1)), int64(i*memPageSize))
	}
	m.Crash()
	return readAll(t, m, "f")
}

// pageFate classifies page i of a crashed file: "kept" (all new bytes),
// "dropped" (all zeros or beyond the end), "torn" (a non-empty proper
// prefix of new bytes, then zeros), or "" for anything else.
func pageFate(got []byte, i int) string {
	lo := i * memPageSize
	if lo >= len(got) {
		return "dropped"
	}
	p := got[lo:min(len(got), lo+memPageSize)]
	n := 0
	for n < len(p) && p[n] == byte(i+1) {
		n++
	}
	switch {
	case n == memPageSize:
		return "kept"
	case !bytes.Equal(p[n:], make([]byte, len(p)-n)):
		return ""
	case n == 0:
		return "dropped"
	default:
		return "torn"
	}
}

func TestMemCrashKeepsAnySubsetOfPagesAndTearsTheLast(t *testing.T) {
	const pages = 6
	var keptAfterDrop, tornSeen, droppedSeen bool
	for seed := range uint64(200) {
		got := crashPages(t, seed, pages)
		lastKept := -1
		sawDrop := false
		for i := range pages {
			switch pageFate(got, i) {
			case "kept":
				keptAfterDrop = keptAfterDrop || sawDrop
				lastKept = i
			case "torn":
				tornSeen = true
				lastKept = i
				if i*memPageSize+memPageSize < len(got) {
					t.Fatalf("seed %d: torn page %d is not the last kept page", seed, i)
				}
			case "dropped":
				droppedSeen, sawDrop = true, true
			default:
				t.Fatalf("seed %d: page %d holds bytes no write put there", seed, i)
			}
		}
		// The file ends at the last kept byte: no zero tail is invented.
		if lastKept < 0 && len(got) != 0 {
			t.Fatalf("seed %d: nothing kept but size %d", seed, len(got))
		}
		if lastKept >= 0 && (len(got) <= lastKept*memPageSize || got[len(got)-1] != byte(lastKept+1)) {
			t.Fatalf("seed %d: size %d does not end in kept page %d", seed, len(got), lastKept)
		}
	}
	if !keptAfterDrop || !tornSeen || !droppedSeen {
		t.Fatalf("over 200 seeds: kept-after-dropped %v, torn %v, dropped %v; want all",
			keptAfterDrop, tornSeen, droppedSeen)
	}
}

func TestMemCrashIsDeterministic(t *testing.T) {
	a, b := crashPages(t, 42, 8), crashPages(t, 42, 8)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed and operations gave different bytes after crash")
	}
	for seed := range uint64(100) {
		if !bytes.Equal(a, crashPages(t, seed+43, 8)) {
			return
		}
	}
	t.Fatal("100 other seeds all gave the bytes of seed 42")
}

func TestMemDroppedPagesShowDurableBytes(t *testing.T) {
	for seed := range uint64(30) {
		m := NewMem(seed)
		f := durableFile(t, m, "f", pageOf('o'))
		mustWrite(t, f, pageOf('n'), 0)
		m.Crash()
		got := readAll(t, m, "f")
		if len(got) != memPageSize {
			t.Fatalf("seed %d: size %d, want %d", seed, len(got), memPageSize)
		}
		// Kept, dropped or torn: new bytes (if any) then old ones.
		n := bytes.IndexByte(got, 'o')
		if n < 0 {
			n = len(got)
		}
		if !bytes.Equal(got[:n], pageOf('n')[:n]) || !bytes.Equal(got[n:], pageOf('o')[n:]) {
			t.Fatalf("seed %d: page is not new bytes followed by durable bytes", seed)
		}
	}
}

func TestMemCapacity(t *testing.T) {
	m := NewMem(1)
	m.SetCapacity(10_000)
	f := mustCreate(t, m, "f", make([]byte, 8_000))
	_, err := f.WriteAt(make([]byte, 4_000), 8_000)
	if !IsNoSpace(err) {
		t.Fatalf("write past capacity: %v, want ENOSPC", err)
	}
	if size, _ := f.Size(); size != 8_000 {
		t.Fatalf("failed write changed size to %d", size)
	}
	mustWrite(t, f, make([]byte, 4_000), 1_000) // overwrite: no growth
	if err := f.Truncate(20_000); !IsNoSpace(err) {
		t.Fatalf("Truncate past capacity: %v, want ENOSPC", err)
	}
	if err := f.Preallocate(0, 20_000); !IsNoSpace(err) {
		t.Fatalf("Preallocate past capacity: %v, want ENOSPC", err)
	}
	if err := m.Remove("f"); err != nil {
		t.Fatal(err)
	}
	if used := m.UsedBytes(); used != 0 {
		t.Fatalf("UsedBytes after Remove = %d", used)
	}
	mustClose(t, mustCreate(t, m, "g", make([]byte, 10_000)))
}

func TestMemPathsAreCleaned(t *testing.T) {
	m := NewMem(1)
	mustClose(t, mustCreate(t, m, "/a", []byte("x")))
	for _, name := range []string{"a", "./a", "/a", "//a"} {
		if size, err := m.Stat(name); err != nil || size != 1 {
			t.Errorf("Stat(%q) = %d, %v", name, size, err)
		}
	}
}

func TestMemRenameErrors(t *testing.T) {
	m := NewMem(1)
	if err := m.MkdirAll("d/e"); err != nil {
		t.Fatal(err)
	}
	mustClose(t, mustCreate(t, m, "f", nil))
	for _, c := range []struct {
		old, new string
		want     error
	}{
		{"f", "d", syscall.EISDIR},
		{"d", "f", syscall.ENOTDIR},
		{"d", "d/e/x", syscall.EINVAL}, // into itself
		{"d/e", "d", syscall.ENOTEMPTY},
		{"f", "", syscall.EINVAL}, // over the root
	} {
		wantErrIs(t, fmt.Sprintf("Rename(%q, %q)", c.old, c.new), m.Rename(c.old, c.new), c.want)
	}
}

// A misdirected write moves the bytes meant for one range onto another, in
// both the current and the durable contents: a crash keeps the damage.
func TestMemMisdirect(t *testing.T) {
	m := NewMem(1)
	data := make([]byte, 3*memPageSize)
	for i := range data {
		data[i] = byte(i%251 + 1)
	}
	f := durableFile(t, m, "f", data)
	if err := m.Misdirect("f", 100, 5000, 600); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(data)
	copy(want[5000:5600], data[100:700])
	clear(want[100:700])
	if got := readAll(t, m, "f"); !bytes.Equal(got, want) {
		t.Fatal("current contents after Misdirect differ from the model")
	}
	// The open handle still reads and writes.
	mustWrite(t, f, []byte("x"), 0)
	m.Crash()
	want[0] = data[0] // the unsynced write may or may not survive
	got := readAll(t, m, "f")
	got[0] = data[0]
	if !bytes.Equal(got, want) {
		t.Fatal("durable contents after Misdirect and a crash differ from the model")
	}
	for _, tc := range []struct{ off, land, n int64 }{
		{0, 0, 0}, {-1, 0, 10}, {0, -1, 10}, {len64(data) - 5, 0, 10}, {0, len64(data) - 5, 10},
	} {
		if err := m.Misdirect("f", tc.off, tc.land, tc.n); err == nil {
			t.Errorf("Misdirect(%d, %d, %d): no error", tc.off, tc.land, tc.n)
		}
	}
	if err := m.Misdirect("nope", 0, 1, 1); err == nil {
		t.Error("Misdirect of a missing file: no error")
	}
	// Beyond the durable size (an unsynced append) is refused too.
	g := durableFile(t, m, "g", pageOf('a'))
	mustWrite(t, g, pageOf('b'), memPageSize)
	if err := m.Misdirect("g", memPageSize, 0, 100); err == nil {
		t.Error("Misdirect of unsynced bytes: no error")
	}
}

func len64(b []byte) int64 { return int64(len(b)) }
