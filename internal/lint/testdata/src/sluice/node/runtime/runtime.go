// Package runtime drives the cores: exempt from the determinism rules, but
// still production code.
package runtime

import (
	"time"

	"sluice/env/realtime"
	"sluice/raftlog/writer"
	"sluice/scenarios" // want `import rule: sluice/node/runtime must not import "sluice/scenarios"`
)

var _ = scenarios.All

// Loop ticks.
func Loop() {
	_ = realtime.Clock{}
	_ = writer.Start
	go func() {
		for range time.Tick(time.Millisecond) {
		}
	}()
}
