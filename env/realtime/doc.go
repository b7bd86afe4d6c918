// Package realtime provides the real clock and a production Env. It is the
// one place outside the runtime subpackages allowed to read the wall clock.
//
// Cores never import this package: the production runtime (node/runtime,
// cmd/sluice) builds an Env with it and hands that to the cores, while the
// simulator hands them an env.ManualClock instead. The determinism lint in
// internal/lint rejects an import of env/realtime from a core.
package realtime
