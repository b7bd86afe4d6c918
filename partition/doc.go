// Package partition is one Kafka partition: one etcd raft group (a RawNode)
// over a raftlog.Log, plus the offset state machine replicated through it —
// stamped offsets, the leader-epoch cache, the high watermark, the log start
// offset, producer state for idempotence, the ISR and the storage incarnation.
//
// It owns the data path of DESIGN.md "Data path": validating and stamping a
// produce batch on the leader, resolving each proposal's fate from raft's
// Ready, deriving offsets identically on every replica, and deciding what a
// fetch may see.
//
// partition is a deterministic core in the style of raft's RawNode: inputs are
// method calls (Tick, Step, Propose, "this write reached disk"), outputs are
// returned values. It must never start goroutines, read the wall clock, use
// global randomness, depend on map iteration order, touch files or sockets
// directly, or import sim, checker, scenarios or reports. Time that replicas
// must agree on comes from the leader's stamps, never from a replica's clock.
//
// Not built yet; see issue 4.
package partition
