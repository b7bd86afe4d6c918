// Command sluice imports everything and is no core.
package main

import (
	"time"

	"sluice/node/runtime"
	"sluice/reports"
	"sluice/sim"
)

func main() {
	go runtime.Loop()
	_ = time.Now()
	reports.Render()
	sim.Run()
}
