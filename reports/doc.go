// Package reports renders HTML reports and plots for simulator runs: a page
// per run (summary, configuration, fault timeline, throughput and latency
// over virtual time with the faults marked, porcupine's view of a failing
// window) and an index of runs with their verdicts (run.go describes the
// layout of a report directory); the trade-off tables and their plots live
// in tradeoffs*.go.
//
// It may import checker, the standard library and third-party libraries
// (gonum/plot, porcupine) only — never the implementation or the
// simulator, so a report shows what the checker saw, not what the code
// believes. Its input types (Run, Span, Setting) are its own; cmd/sluice
// converts the simulator's result into them.
package reports
