// Package realtime is exempt: it is the real clock.
package realtime

import (
	"time"

	"sluice/env"
)

// Clock reads the wall clock, as it should.
type Clock struct{}

var _ env.Clock = Clock{}

// NowNs reads the wall clock.
func (Clock) NowNs() int64 { return time.Now().UnixNano() }
