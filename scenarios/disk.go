package scenarios

import "sluice/sim"

// disk scenarios run the fault kinds of sim/faults_disk.go.
var disk = []sim.Scenario{}
