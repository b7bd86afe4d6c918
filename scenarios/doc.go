// Package scenarios holds named fault schedules and workloads for the
// simulator, as data: which faults (partitions, crashes, lost disks, clock
// jumps, slow or failing I/O) happen when, and what the clients do.
//
// It imports sim only and holds no logic a scenario could hide a bug in.
//
// Every scenario runs alone with `sluice sim -scenario NAME`; kitchen-sink
// (sim.KitchenSink) mixes every fault kind sim knows (sim.FaultNames).
package scenarios
