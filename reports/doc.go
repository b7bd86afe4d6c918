// Package reports renders HTML reports and plots for simulator runs and
// benchmarks: histories, checker verdicts, latency and throughput plots.
//
// It may import checker, the standard library and third-party libraries
// (gonum/plot, porcupine) only — never the implementation, so a report shows
// what the checker saw, not what the code believes.
//
// Not built yet; see issue 10.
package reports
