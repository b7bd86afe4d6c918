// Package node is one broker: the Kafka API handlers (one file per API key,
// requests and responses encoded with franz-go's kmsg, errors from kerr),
// routing of requests to the partitions this broker hosts, the leader table
// built from leaders' broadcasts, and the group and transaction coordinators.
//
// node is a deterministic core: a request is an input, the response is an
// output. It must never start goroutines, read the wall clock, use global
// randomness, depend on map iteration order, or import sim, checker,
// scenarios or reports. The goroutines that drive it in production (the event
// loop, connection readers and writers, the disk pool, the ticker) live in
// node/runtime, the only part of node exempt from the determinism lint.
//
// Not built yet; see issue 7.
package node
