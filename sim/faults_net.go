package sim

// netFaults are fault kinds (see scenario.go) added to the simulator's
// original ones; kitchen-sink draws them too.
var netFaults = []faultKind{}
