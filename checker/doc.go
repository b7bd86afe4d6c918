// Package checker judges a recorded history: porcupine models for
// linearizability and direct checks of the invariants in DESIGN.md (unique,
// contiguous offsets; no acknowledged record lost; per-producer order;
// consumers read in offset order; the high watermark never goes backwards).
//
// checker must never import the implementation (env, raftlog, partition,
// transport, metadata, node, sim or scenarios): a checker that shares code
// with what it checks shares its bugs. It depends on porcupine and the
// standard library only, and its history types are its own.
//
// Not built yet; see issue 6.
package checker
