package realtime

import (
	crand "crypto/rand"
	"encoding/binary"
	"time"

	"sluice/env"
)

// Clock is the real clock. It reads the wall clock once, at construction,
// and then moves with the monotonic clock, so readings never decrease even if
// the system clock is stepped; it does not follow such steps.
type Clock struct {
	start time.Time
	// startNs is start as nanoseconds since the Unix epoch.
	startNs int64
}

var _ env.Clock = (*Clock)(nil)

// NewClock returns a real Clock anchored at the current wall-clock time.
func NewClock() *Clock {
	now := time.Now()
	return &Clock{start: now, startNs: now.UnixNano()}
}

// NowNs returns nanoseconds since the Unix epoch.
func (c *Clock) NowNs() int64 {
	return c.startNs + int64(time.Since(c.start))
}

// NewEnv returns the production Env: a real Clock, a Rand seeded from the
// operating system's randomness, and log. It also returns the seed, which the
// caller should log so a production incident can at least name the stream.
func NewEnv(log env.Logger) (env.Env, uint64) {
	var b [8]byte
	// crypto/rand.Read never returns an error (it crashes the program
	// irrecoverably instead), so there is nothing to handle.
	_, _ = crand.Read(b[:])
	seed := binary.LittleEndian.Uint64(b[:])
	return env.Env{Clock: NewClock(), Rand: env.NewRand(seed), Log: log}, seed
}
