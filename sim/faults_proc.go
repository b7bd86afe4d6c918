package sim

// procFaults are fault kinds (see scenario.go) added to the simulator's
// original ones; kitchen-sink draws them too.
var procFaults = []faultKind{}
