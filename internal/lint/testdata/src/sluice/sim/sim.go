// Package sim may import every production package, but not checker.
package sim

import (
	"time"

	"sluice/checker" // want `import rule: sluice/sim must not import "sluice/checker"`
	"sluice/raftlog"
)

var _ = checker.Check
var _ = raftlog.Log{}

// Run is not a core: the determinism rules do not apply to sim's code (its
// own determinism is tested by replaying seeds).
func Run() { _ = time.Now() }
