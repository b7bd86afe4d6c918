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
// What it does:
//   - the RawNode over raftlog with AsyncStorageWrites, PreVote, CheckQuorum,
//     no proposal forwarding and step-down on removal; bootstrap from a
//     snapshot holding the voters;
//   - validation of magic-2 batches (CRC32C, attributes, every record,
//     decompressed within a bound for gzip, snappy, lz4 and zstd) and
//     stamping (base offset, partition leader epoch = term; LogAppendTime
//     with the CRC recomputed) inside an envelope carrying a proposal id and
//     the leader's clock;
//   - offsets derived at append on every replica, rolled back on truncation,
//     asserted at apply; the leader epoch cache and OffsetForLeaderEpoch;
//   - idempotent producers: duplicates answered with the original offset,
//     sequence gaps, stale epochs, expiry by replicated time;
//   - the applied state (offsets, epochs, producers) and conf state
//     persisted with the next log write and passed as Config.Applied;
//   - proposal fate from the log; acks 0/1/all, NOT_ENOUGH_REPLICAS before
//     append and NOT_ENOUGH_REPLICAS_AFTER_APPEND while waiting;
//   - the high watermark: applied and durable on max(quorum,
//     min.insync.replicas) voters, valid only once the leader's own term is
//     committed (KIP-207), never backwards; the dynamic ISR as an output;
//   - reads of whole batches below it; Fetch answers from the tail cache at
//     once and hands cold reads out as a plan to execute off the loop;
//   - membership changes (ConfChangeV2), leadership transfer, and the
//     re-adding of wiped replicas (readd.go): an amnesic replica neither
//     votes nor campaigns until its leader re-adds it as a learner under its
//     new incarnation; every replica records the incarnation each member
//     was re-added under, so a late announcement changes nothing and a new
//     leader finishes a promotion its predecessor started;
//   - a storage read error inside raft (which panics on it) stops the
//     partition instead of crashing the broker (readerr.go);
//   - compaction: a snapshot of the partition state at an index (never past
//     the first entry retention keeps; the caller decides).
//
// Election jitter: etcd raft v3.7 draws its randomized election timeout
// from the global crypto/rand.Reader. Runs that must be reproducible (the
// simulator, determinism tests) replace it with a seeded reader
// (testing/cryptotest.SetGlobalRandom in tests; verified on Go 1.26.8).
// The reader is process-global, so two such runs must not overlap in one
// process.
package partition
