// Package tcp is the production transport.Transport: raft messages of many
// groups, leader-table entries, incarnation announcements and forwards,
// carried between brokers over TCP.
//
// It owns:
//   - one connection per ordered pair of brokers: the sender dials, the
//     receiver accepts; a handshake exchanges broker id, cluster id and
//     storage incarnation, refuses a peer of another cluster with a clear
//     log line, and hands the peer's incarnation to the node (DESIGN.md
//     step 8);
//   - the wire format, documented and frozen in frame.go: length-prefixed,
//     versioned frames each carrying one transport.Batch, and snapshots
//     streamed in chunks and reassembled before delivery (raft takes a whole
//     MsgSnap), a bounded number at a time;
//   - per peer, a send queue bounded in bytes (Batch.SizeBytes, as
//     transport.Mem counts them) and a writer goroutine that writes
//     everything queued in one vectored write (net.Buffers) from reused
//     buffers, large entry data straight from the entries, and reconnects
//     with capped exponential backoff, jittered from an injected random
//     source;
//   - the Reporter calls for what it drops: Unreachable once per group and
//     SnapshotStatus(false) per MsgSnap, when a queue is full, a peer is not
//     connected, or a connection breaks with batches in flight;
//   - Stats: counters of what was sent, dropped, refused and malformed.
//
// It must never: block Send; buffer without bound; panic on bytes from the
// network (a malformed frame is logged and counted, and closes only its
// connection); decide anything about groups (a message for a group the
// broker does not know is delivered like any other; the node drops and
// counts it). Deliver runs on the connection's goroutine and must hand the
// batch to the node's event loop, never step a core itself.
//
// This is a runtime part, exempt from the determinism lint: it starts
// goroutines, opens sockets and reads the wall clock. Randomness stays
// injectable (Config.Rand). It imports transport and raftpb, never sim,
// checker, scenarios or reports.
package tcp
