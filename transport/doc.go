// Package transport moves raft messages for many raft groups between brokers.
//
// It owns:
//   - GroupID, a raft group's identity: a topic id and a partition, never a
//     topic name; the metadata group is MetadataGroup, the all-zero topic id
//     (DESIGN.md step 8);
//   - Batch, what one node sends another: raft messages tagged with their
//     group (Envelope), and the control messages that share the links —
//     leader-table entries (LeaderInfo, DESIGN.md step 9) and storage
//     incarnation announcements (Incarnation, step 8);
//   - the Transport interface the runtime and the simulator both drive, and
//     the Reporter through which a transport tells the sending node about
//     drops (raft's ReportUnreachable and ReportSnapshot);
//   - Mem, an in-memory network whose delivery the caller decides, for the
//     simulator and tests.
//
// Sending never blocks and never fails synchronously: raft tolerates lost
// messages, so every queue is bounded (Batch.SizeBytes gives both
// implementations the same byte accounting) and a batch that does not fit is
// dropped and reported, never buffered without bound.
//
// The package itself is a deterministic core: it never starts goroutines,
// reads the wall clock or opens sockets. The TCP implementation (issue 5),
// which does all of those, lives in the subpackage transport/tcp and is the
// only part of transport exempt from the determinism lint. transport imports
// raftpb (and protobuf, for message sizes) and must never import sim,
// checker, scenarios or reports.
package transport
