package scenarios

import "sluice/sim"

// net scenarios run the fault kinds of sim/faults_net.go.
var net = []sim.Scenario{}
