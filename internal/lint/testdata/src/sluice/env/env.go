// Package env is a core whose imports are limited to std.
package env

import (
	"time"

	"sluice/raftlog" // want `import rule: sluice/env may import only std, sluice/env/\.\.\., not "sluice/raftlog"`
)

// Clock is allowed: a type from package time is not a clock reading.
type Clock interface{ NowNs() int64 }

var _ = raftlog.Log{}

// Later is fine: time.Duration arithmetic reads no clock.
func Later(nowNs int64, d time.Duration) int64 { return nowNs + int64(d) }

// Wall is not.
func Wall() int64 { return time.Now().UnixNano() } // want `determinism: time\.Now in core package sluice/env`
