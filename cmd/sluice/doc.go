// Command sluice is the one binary: a single-process development broker
// (dev), a cluster member (serve), the deterministic simulator (sim) and
// its trade-off measurements (tradeoffs), the benchmark driver (bench), and
// the admin subcommands (topic, produce, consume, group, cluster,
// partition).
//
// It owns flag parsing and wiring only: it builds the real environment
// (env/realtime, real files, TCP) and hands it to the runtime. No broker,
// simulator or benchmark logic lives here, and a subcommand whose work has not
// landed says so and exits with status 2 rather than pretending.
//
// Run "sluice help" for the subcommands.
package main
