// Package runtime drives a node core in production (DESIGN.md "Runtime"):
// one event-loop goroutine owns the core; everything else feeds it events or
// carries out its outputs.
//
//   - Connection goroutines read Kafka frames (bounded by
//     socket.request.max.bytes before anything is allocated, and by a
//     number of requests in flight per connection), decode them with kbin
//     and kmsg, and post them to the loop; a writer per connection writes
//     the responses in request order. A malformed frame, an unknown API or
//     a version kmsg cannot encode is logged and closes that connection
//     only. Idle connections close after connections.max.idle.ms.
//   - The group-commit writer (raftlog/writer) runs the loop's disk writes
//     and posts their completion back; cold fetch reads run on a small pool
//     of reader goroutines.
//   - A Network carries raft traffic between brokers: LocalNet in one
//     process (`sluice dev`); TCP across processes comes with issue 5.
//   - A ticker posts Tick.
//
// Completions and deliveries reach the loop through a queue that never
// blocks the poster (so the writer and the network never wait on the loop);
// what may wait there is bounded by what is in flight, and peer batches by
// a byte budget past which they are dropped and the sender told.
//
// Cluster runs several brokers in one process (StartDev): `sluice dev` and
// the end-to-end tests. Each broker's data directory records its cluster
// id, broker id and storage incarnation (identity.json); a directory of
// another cluster is refused.
//
// This package is exempt from the determinism lint: it is where goroutines,
// the wall clock, sockets and files live. It must stay thin: decisions
// belong to the node core, so that the simulator, which drives the same
// core, tests them.
package runtime
