// Package metadata is the controller: a raft group (the reserved all-zero
// topic id) whose replicated state is topics, topic configs, replica
// assignment and broker registrations, including each broker's storage
// incarnation.
//
// The controller assigns replicas; it does not elect partition leaders —
// raft does. It is a deterministic core like partition: it must never start
// goroutines, read the wall clock, use global randomness, depend on map
// iteration order, or import sim, checker, scenarios or reports.
//
// Not built yet; see issue 8.
package metadata
