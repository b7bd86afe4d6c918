// Package bench is the benchmark driver behind `sluice bench`: OpenMessaging-
// Benchmark-like workloads run against sluice (an in-process `sluice dev`
// cluster), franz-go's kfake, any Kafka bootstrap address, and NATS
// JetStream (R3, file storage, from an installed nats-server), with the raw
// floors of the machine — write+fdatasync into a preallocated file and
// loopback TCP round trips — measured in the same run.
//
// It owns the workloads (workload.go), the targets and their clients
// (kafka.go: franz-go kgo; jetstream.go: nats.go), the run loop with its
// HdrHistogram latencies and throughput series (run.go), the floors
// (floors.go) and the outputs: JSON, CSV, gonum/plot plots and an HTML page
// (report.go).
//
// It starts goroutines, processes and clusters and touches real files and
// sockets, so it is not a deterministic core; no production package may
// import it (internal/lint). Speed is judged from its reports, never
// asserted by a test.
package bench
