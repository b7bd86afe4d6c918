package scenarios

import "sluice/sim"

// proc scenarios run the fault kinds of sim/faults_proc.go.
var proc = []sim.Scenario{}
