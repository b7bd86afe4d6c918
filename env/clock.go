package env

import (
	"fmt"
	"sync/atomic"
)

// Clock tells a core what time it is.
//
// NowNs returns nanoseconds since the Unix epoch. Successive readings of one
// Clock never decrease. Two Clocks (two brokers) may disagree by any amount:
// time that must agree across replicas is replicated (stamped by the leader
// into the log), never read from a replica's own clock.
type Clock interface {
	NowNs() int64
}

// ManualClock is a Clock that moves only when told to. Tests and the
// simulator use it as virtual time. It is safe for concurrent use, so a test
// may read it from a writer goroutine while the test goroutine advances it.
type ManualClock struct {
	ns atomic.Int64
}

// NewManualClock returns a ManualClock reading startNs.
func NewManualClock(startNs int64) *ManualClock {
	c := &ManualClock{}
	c.ns.Store(startNs)
	return c
}

// NowNs returns the current virtual time.
func (c *ManualClock) NowNs() int64 { return c.ns.Load() }

// Advance moves the clock forward by durationNs and returns the new time.
// A negative duration panics: a Clock never goes backwards.
func (c *ManualClock) Advance(durationNs int64) int64 {
	if durationNs < 0 {
		panic(fmt.Sprintf("env: ManualClock.Advance(%d): negative duration", durationNs))
	}
	return c.ns.Add(durationNs)
}

// Set moves the clock to nowNs. Moving it backwards panics.
func (c *ManualClock) Set(nowNs int64) {
	for {
		old := c.ns.Load()
		if nowNs < old {
			panic(fmt.Sprintf("env: ManualClock.Set(%d): before current time %d", nowNs, old))
		}
		if c.ns.CompareAndSwap(old, nowNs) {
			return
		}
	}
}
