package env_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"sluice/env"
)

func TestManualClock(t *testing.T) {
	c := env.NewManualClock(100)
	if got := c.NowNs(); got != 100 {
		t.Fatalf("NowNs = %d, want 100", got)
	}
	if got := c.Advance(50); got != 150 || c.NowNs() != 150 {
		t.Fatalf("Advance(50) = %d, NowNs = %d, want 150", got, c.NowNs())
	}
	c.Set(1_000)
	if got := c.NowNs(); got != 1_000 {
		t.Fatalf("after Set(1000) NowNs = %d", got)
	}
	c.Set(1_000) // setting the current time is allowed
	c.Advance(0)
}

func TestManualClockNeverGoesBackwards(t *testing.T) {
	c := env.NewManualClock(100)
	mustPanic(t, "Advance(-1)", func() { c.Advance(-1) })
	mustPanic(t, "Set(99)", func() { c.Set(99) })
	if got := c.NowNs(); got != 100 {
		t.Fatalf("NowNs after rejected moves = %d, want 100", got)
	}
}

func TestRandIsDeterministic(t *testing.T) {
	a, b := env.NewRand(42), env.NewRand(42)
	for i := range 1000 {
		if x, y := a.Uint64(), b.Uint64(); x != y {
			t.Fatalf("draw %d: %d != %d with the same seed", i, x, y)
		}
	}
	pa, pb := make([]byte, 37), make([]byte, 37)
	if _, err := io.ReadFull(a, pa); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(b, pb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pa, pb) {
		t.Fatalf("Read differs with the same seed: %x vs %x", pa, pb)
	}
	if a.Draws() != b.Draws() {
		t.Fatalf("Draws differ: %d vs %d", a.Draws(), b.Draws())
	}
}

// TestRandGolden freezes the stream for one seed: a change here changes every
// recorded simulator seed, so it must be deliberate.
func TestRandGolden(t *testing.T) {
	r := env.NewRand(1)
	for i, want := range []uint64{0x8707a01d6329783f, 0x7df1bd4a477b564, 0xaef8fc52ab960cb2} {
		if got := r.Uint64(); got != want {
			t.Fatalf("seed 1 draw %d = %#x, want %#x", i, got, want)
		}
	}
	p := make([]byte, 5)
	r.Read(p)
	if got := fmt.Sprintf("%x", p); got != "0e0837c3f5" {
		t.Fatalf("seed 1 Read after three draws = %s, want 0e0837c3f5", got)
	}
	if env.NewRand(2).Uint64() == 0x8707a01d6329783f {
		t.Fatalf("seeds 1 and 2 start with the same draw")
	}
}

func TestRandDraws(t *testing.T) {
	r := env.NewRand(7)
	if r.Draws() != 0 {
		t.Fatalf("fresh Rand has %d draws", r.Draws())
	}
	r.Uint64()
	r.Float64()
	if r.Draws() != 2 {
		t.Fatalf("Draws = %d after two single-draw calls, want 2", r.Draws())
	}
	p := make([]byte, 17) // 8 + 8 + 1: three draws
	if n, err := r.Read(p); n != 17 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if r.Draws() != 5 {
		t.Fatalf("Draws = %d after reading 17 bytes, want 5", r.Draws())
	}
	r.Int64N(10)
	r.IntN(10)
	if r.Draws() < 7 {
		t.Fatalf("Draws = %d, want at least 7", r.Draws())
	}
}

func TestRandRanges(t *testing.T) {
	r := env.NewRand(3)
	for range 10_000 {
		if v := r.Int64N(5); v < 0 || v >= 5 {
			t.Fatalf("Int64N(5) = %d", v)
		}
		if f := r.Float64(); f < 0 || f >= 1 {
			t.Fatalf("Float64 = %v", f)
		}
	}
}

func TestSplitIsDeterministicAndIndependent(t *testing.T) {
	a, b := env.NewRand(9), env.NewRand(9)
	ca, cb := a.Split(), b.Split()
	if ca.Uint64() != cb.Uint64() {
		t.Fatalf("children of equal parents differ")
	}
	ca.Uint64()
	ca.Uint64()
	if a.Uint64() != b.Uint64() {
		t.Fatalf("drawing from a child moved the parent")
	}
}

func TestNewDeterministic(t *testing.T) {
	e, clock := env.NewDeterministic(5, 1_000)
	e.Check()
	if e.Clock.NowNs() != 1_000 {
		t.Fatalf("NowNs = %d", e.Clock.NowNs())
	}
	clock.Advance(10)
	if e.Clock.NowNs() != 1_010 {
		t.Fatalf("Env clock does not follow the returned ManualClock")
	}
	e.Log.Info("dropped") // must not panic or print
	tagged := e.With("component", "test")
	if tagged.Rand != e.Rand || tagged.Clock != e.Clock {
		t.Fatalf("With copied the clock or the random source")
	}
}

func TestCheckRejectsMissingFields(t *testing.T) {
	mustPanic(t, "zero Env", func() { env.Env{}.Check() })
	e, _ := env.NewDeterministic(1, 0)
	e.Log = nil
	mustPanic(t, "nil Log", func() { e.Check() })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	f()
}
