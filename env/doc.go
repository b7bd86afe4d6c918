// Package env is the environment a deterministic core is given: a Clock, a
// seeded Rand and a Logger, bundled in one Env value.
//
// Cores (raftlog, partition, transport, metadata, node and their
// non-runtime subpackages) never read the wall clock, never use global
// randomness and never start goroutines; they receive everything that is not
// pure computation from an Env passed in by whoever drives them. The
// production runtime passes a real clock (package env/realtime); the simulator
// and tests pass a ManualClock and a Rand built from the run's seed, so one
// seed reproduces a whole run.
//
// The filesystem and the network are not here: they come from raftlog/vfs and
// transport.
//
// env imports the standard library only, and must never import anything that
// reads the wall clock on its own behalf. The real clock lives in env/realtime,
// which cores never import (the determinism lint in internal/lint enforces it).
package env
