// Package reports imports checker, std and third-party libraries only.
package reports

import (
	"fmt"

	"example.com/plot"
	"sluice/checker"
	"sluice/node/runtime" // want `import rule: sluice/reports may import only std, third-party, sluice/checker/\.\.\., sluice/reports/\.\.\., not "sluice/node/runtime"`
)

var _ = fmt.Sprint
var _ = checker.Check
var _ = runtime.Loop

// Render draws.
func Render() { plot.Draw() }
