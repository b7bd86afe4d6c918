// Package checker must never import the implementation.
package checker

import (
	"sort"

	"sluice/env"         // want `import rule: sluice/checker must not import "sluice/env"`
	"sluice/raftlog/vfs" // want `import rule: sluice/checker must not import "sluice/raftlog/vfs"`
)

var _ env.Clock
var _ vfs.FS
var _ = sort.Ints

// Check judges a history.
func Check() bool { return true }
