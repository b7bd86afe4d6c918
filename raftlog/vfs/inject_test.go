package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"syscall"
	"testing"
)

const segName = "seg/0001.log"

// newInjected returns a Mem with a durable "seg" directory, wrapped by an
// InjectFS with no rule yet.
func newInjected(t *testing.T) (*Mem, *InjectFS) {
	t.Helper()
	m := NewMem(1)
	if err := m.MkdirAll("seg"); err != nil {
		t.Fatal(err)
	}
	return m, Inject(m, nil)
}

func TestInjectEIOOnWriteWritesNothing(t *testing.T) {
	m, x := newInjected(t)
	f := mustCreate(t, x, segName, []byte("before"))
	x.SetRule(On(OpWrite, "seg/", Injection{Err: ErrEIO}))
	n, err := f.WriteAt([]byte("after!"), 0)
	if n != 0 || !IsIOError(err) {
		t.Fatalf("WriteAt = %d, %v; want 0 and EIO", n, err)
	}
	if want := "vfs: injected EIO on write of seg/0001.log"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	var ie *InjectedError
	if !errors.As(err, &ie) || ie.Op.Off != 0 || ie.Op.Len != 6 {
		t.Errorf("InjectedError %+v does not describe the write", ie)
	}
	if got := readAll(t, m, segName); string(got) != "before" {
		t.Errorf("failed write changed the file to %q", got)
	}
}

func TestInjectEIOOnSyncSyncsNothing(t *testing.T) {
	m, x := newInjected(t)
	f := mustCreate(t, x, segName, []byte("data"))
	if err := x.SyncDir("seg"); err != nil {
		t.Fatal(err)
	}
	if err := x.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	x.SetRule(On(OpSync, "", Injection{Err: ErrEIO}))
	err := f.Sync()
	if !errors.Is(err, syscall.EIO) || !errors.Is(err, ErrEIO) {
		t.Fatalf("Sync = %v, want EIO", err)
	}
	if want := "vfs: injected EIO on sync of seg/0001.log"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	m.CrashClean()
	if got := readAll(t, m, segName); len(got) != 0 {
		t.Errorf("a failed sync made %q durable", got)
	}
}

func TestInjectEIOOnReadAndCreate(t *testing.T) {
	_, x := newInjected(t)
	f := mustCreate(t, x, segName, []byte("data"))
	x.SetRule(Merge(
		On(OpRead, segName, Injection{Err: ErrEIO}),
		On(OpCreate, "seg/0002", Injection{Err: ErrEIO}),
	))
	if n, err := f.ReadAt(make([]byte, 4), 0); n != 0 || !IsIOError(err) {
		t.Errorf("ReadAt = %d, %v; want 0 and EIO", n, err)
	}
	if _, err := x.Create("seg/0002.log"); !IsIOError(err) {
		t.Errorf("Create = %v, want EIO", err)
	}
	if _, err := x.Stat("seg/0002.log"); !errors.Is(err, ErrNotExist) {
		t.Errorf("failed Create made the file: Stat = %v", err)
	}
}

func TestInjectENOSPCOnWrite(t *testing.T) {
	_, x := newInjected(t)
	f := mustCreate(t, x, segName, nil)
	x.SetRule(On(OpWrite, "", Injection{Err: ErrENOSPC}))
	_, err := f.WriteAt([]byte("x"), 0)
	if !IsNoSpace(err) || IsIOError(err) {
		t.Fatalf("WriteAt = %v, want ENOSPC only", err)
	}
	if want := "vfs: injected ENOSPC on write of seg/0001.log"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
}

func TestInjectLatencyIsReportedNotSlept(t *testing.T) {
	_, x := newInjected(t)
	var hooked []OpKind
	x.OnLatency(func(op Op, ns int64) { hooked = append(hooked, op.Kind) })
	x.SetRule(Merge(
		On(OpAny, "", Injection{LatencyNs: 10}),
		On(OpSync, "", Injection{LatencyNs: 1_000_000}),
	))
	f := mustCreate(t, x, segName, []byte("abc")) // create + write
	mustSync(t, f)
	if got, want := x.TakeLatencyNs(), int64(10+10+10+1_000_000); got != want {
		t.Errorf("TakeLatencyNs = %d, want %d", got, want)
	}
	if got := x.TakeLatencyNs(); got != 0 {
		t.Errorf("second TakeLatencyNs = %d, want 0", got)
	}
	if want := []OpKind{OpCreate, OpWrite, OpSync}; !slices.Equal(hooked, want) {
		t.Errorf("OnLatency saw %v, want %v", hooked, want)
	}
}

func TestInjectBitFlipOnRead(t *testing.T) {
	m, x := newInjected(t)
	stored := []byte("some bytes worth reading")
	mustClose(t, mustCreate(t, m, segName, stored))
	f, err := x.Open(segName)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	x.SetRule(On(OpRead, "", Injection{Flip: true, FlipBit: 9})) // byte 1, bit 1
	got := make([]byte, len(stored))
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if got[1] != stored[1]^2 || diffBits(got, stored) != 1 {
		t.Errorf("read %q, want %q with bit 9 flipped", got, stored)
	}

	x.SetRule(RandomFlipBit(7, On(OpRead, "", Injection{Flip: true})))
	for range 20 {
		if _, err := f.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		if d := diffBits(got, stored); d != 1 {
			t.Fatalf("read differs from stored data in %d bits, want 1", d)
		}
	}
	if onDisk := readAll(t, m, segName); !bytes.Equal(onDisk, stored) {
		t.Errorf("bit flips reached the stored data: %q", onDisk)
	}
}

func diffBits(a, b []byte) int {
	n := 0
	for i := range a {
		n += bits.OnesCount8(a[i] ^ b[i])
	}
	return n
}

// countInjections applies r to n identical ops and returns which of them
// it injected into.
func countInjections(r Rule, n int) []int {
	var hit []int
	for i := range n {
		if !r.Inject(Op{Kind: OpWrite, Path: segName}).IsZero() {
			hit = append(hit, i)
		}
	}
	return hit
}

func TestRulesCompose(t *testing.T) {
	eio := On(OpWrite, "seg/", Injection{Err: ErrEIO})
	for _, c := range []struct {
		name string
		rule Rule
		want string
	}{
		{"On", eio, "[0 1 2 3 4]"},
		{"OtherKind", On(OpSync, "", Injection{Err: ErrEIO}), "[]"},
		{"OtherPath", On(OpWrite, "meta", Injection{Err: ErrEIO}), "[]"},
		{"Once", Once(eio), "[0]"},
		{"Times", Times(2, eio), "[0 1]"},
		{"After", After(3, eio), "[3 4]"},
		{"Nth", Times(1, After(2, eio)), "[2]"},
		{"ProbabilityZero", Probability(1, 0, eio), "[]"},
		{"ProbabilityOne", Probability(1, 1, eio), "[0 1 2 3 4]"},
	} {
		if got := fmt.Sprint(countInjections(c.rule, 5)); got != c.want {
			t.Errorf("%s: injected into ops %s, want %s", c.name, got, c.want)
		}
	}
}

func TestProbabilityIsSeeded(t *testing.T) {
	eio := On(OpAny, "", Injection{Err: ErrEIO})
	a := countInjections(Probability(5, 0.5, eio), 200)
	b := countInjections(Probability(5, 0.5, eio), 200)
	c := countInjections(Probability(6, 0.5, eio), 200)
	if len(a) == 0 || len(a) == 200 {
		t.Fatalf("p=0.5 injected into %d of 200 ops", len(a))
	}
	if !slices.Equal(a, b) {
		t.Error("same seed injected into different ops")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds injected into the same ops")
	}
}

func TestSetRuleNilStopsInjecting(t *testing.T) {
	_, x := newInjected(t)
	f := mustCreate(t, x, segName, nil)
	x.SetRule(On(OpAny, "", Injection{Err: ErrEIO}))
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("rule did not inject")
	}
	x.SetRule(nil)
	mustWrite(t, f, []byte("x"), 0)
}

func TestOpKindString(t *testing.T) {
	for k, want := range map[OpKind]string{OpAny: "any", OpSyncDir: "syncdir", OpMkdirAll: "mkdirall", 200: "op(200)"} {
		if got := k.String(); got != want {
			t.Errorf("OpKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
