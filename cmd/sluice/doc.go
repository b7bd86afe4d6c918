// Command sluice is the one binary: a single-process development broker
// (dev), a cluster member (serve), the deterministic simulator (sim), the
// benchmark driver (bench), and later admin subcommands.
//
// It owns flag parsing and wiring only: it builds the real environment
// (env/realtime, real files, TCP) and hands it to the runtime. No broker,
// simulator or benchmark logic lives here, and a subcommand whose work has not
// landed says so and exits with status 2 rather than pretending.
//
// Run "sluice help" for the subcommands.
package main
