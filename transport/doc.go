// Package transport moves raft messages for many raft groups between brokers.
// It owns GroupID (a topic id and a partition; the metadata group has the
// all-zero topic id — never a topic name), the Transport interface the
// runtime and the simulator both implement, and an in-memory implementation.
//
// The package itself is a deterministic core: it never starts goroutines,
// reads the wall clock or opens sockets. The TCP implementation, which does
// all of those, lives apart (the transport/tcp subpackage, or files named
// tcp*.go) and is the only part of transport exempt from the determinism lint.
// transport must never import sim, checker, scenarios or reports.
//
// Not built yet; the interface and in-memory transport come with the
// partition work (issue 4), the TCP implementation with issue 5.
package transport
