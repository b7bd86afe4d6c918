package env

import "log/slog"

// Env is everything a core is given that is not pure computation. Cores keep
// the Env they are constructed with and never reach past it.
type Env struct {
	Clock Clock
	Rand  *Rand
	Log   Logger
}

// NewDeterministic returns an Env for tests and the simulator: a ManualClock
// starting at startNs, a Rand seeded with seed and a logger that discards.
// The ManualClock is returned as well so the caller can move time.
func NewDeterministic(seed uint64, startNs int64) (Env, *ManualClock) {
	clock := NewManualClock(startNs)
	return Env{Clock: clock, Rand: NewRand(seed), Log: DiscardLogger()}, clock
}

// With returns a copy of e whose logger carries the given attributes, for
// handing a component its own tagged view of the same environment. The clock
// and random source are shared, not copied.
func (e Env) With(args ...any) Env {
	e.Log = e.Log.With(args...)
	return e
}

// Check panics if a field of e is missing: a core given a half-built Env
// fails at construction, not at its first tick.
func (e Env) Check() {
	switch {
	case e.Clock == nil:
		panic("env: Env.Clock is nil")
	case e.Rand == nil:
		panic("env: Env.Rand is nil")
	case e.Log == nil:
		panic("env: Env.Log is nil")
	}
}

// Logger is the structured logger every package uses.
type Logger = *slog.Logger

// DiscardLogger returns a Logger that drops every record.
func DiscardLogger() Logger {
	return slog.New(slog.DiscardHandler)
}
