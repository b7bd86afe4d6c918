// Package scenarios imports sim.
package scenarios

import "sluice/sim"

// All lists scenarios.
var All = []func(){sim.Run}
