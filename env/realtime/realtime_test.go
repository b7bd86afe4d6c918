package realtime_test

import (
	"testing"
	"time"

	"sluice/env"
	"sluice/env/realtime"
)

func TestClockIsWallAnchoredAndMonotonic(t *testing.T) {
	c := realtime.NewClock()
	before := time.Now().UnixNano()
	first := c.NowNs()
	if d := first - before; d < -int64(time.Second) || d > int64(time.Second) {
		t.Fatalf("NowNs %d is %v from the wall clock", first, time.Duration(d))
	}
	prev := first
	for range 1000 {
		now := c.NowNs()
		if now < prev {
			t.Fatalf("clock went backwards: %d after %d", now, prev)
		}
		prev = now
	}
}

func TestNewEnv(t *testing.T) {
	e, seed := realtime.NewEnv(env.DiscardLogger())
	e.Check()
	if got, want := e.Rand.Uint64(), env.NewRand(seed).Uint64(); got != want {
		t.Fatalf("Env.Rand is not NewRand(seed): %d != %d", got, want)
	}
}
