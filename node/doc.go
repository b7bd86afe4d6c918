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
// What it does (issue 7):
//   - the Kafka APIs of handle.go's table, one file each with a header
//     comment giving the versions served and what differs from Apache
//     Kafka; an unsupported version gets UNSUPPORTED_VERSION;
//   - topic metadata replicated in a raft group of every broker (meta.go),
//     until the controller lands: the group's leader is the controller;
//   - hosting the partition replicas the metadata assigns to this broker,
//     routing produce and fetch to them, long-polling fetches, timing out
//     produce requests, and reopening partitions stopped by storage errors;
//   - the leader table of DESIGN.md step 9, broadcast with the broker's
//     incarnation, which also serves as its liveness beacon;
//   - storage identity (DESIGN.md step 8, born.go): a broker started with
//     Config.Join (a wiped disk) opens the metadata group, and every
//     partition created before its storage was born, amnesic; its
//     broadcast lists the groups where it is amnesic, and each group's
//     leader — the metadata leader for the metadata group — re-adds it
//     (learner under the new incarnation, then voter). The announcement is
//     repeated until the re-add lands, so leader changes and restarts
//     cannot lose it, and the partition ignores one for a member already
//     re-added under that incarnation.
package node
