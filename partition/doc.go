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
// Built so far (issue 4 is in progress): the RawNode over raftlog with
// AsyncStorageWrites, PreVote, CheckQuorum and no proposal forwarding;
// bootstrap from a snapshot holding the voters; validation and stamping of
// magic-2 batches (base offset, partition leader epoch = term) inside a
// proposal envelope carrying a proposal id and the leader's clock; offsets
// derived at append on every replica, rolled back on truncation, asserted at
// apply; the applied state persisted with the next log write and passed as
// Config.Applied; proposal fate from the log (same id and term at the index,
// or overwritten); acks 0/1/all with NOT_ENOUGH_REPLICAS before append; the
// high watermark (applied and durable on max(quorum, min.insync.replicas)
// replicas, only once the leader committed in its own term, never
// backwards); reads of whole batches below it.
//
// Election jitter: etcd raft v3.7 draws its randomized election timeout
// from the global crypto/rand.Reader. Runs that must be reproducible (the
// simulator, determinism tests) replace it with a seeded reader
// (testing/cryptotest.SetGlobalRandom in tests; verified on Go 1.26.8).
// The reader is process-global, so two such runs must not overlap in one
// process.
//
// Not yet: the leader epoch cache and OffsetForLeaderEpoch, idempotent
// producer state, LogAppendTime, the dynamic ISR output, cold reads as a
// read plan off the loop, snapshots of partition state and compaction,
// incarnations and membership changes, leadership transfer.
package partition
