// Package raftlog stores one Kafka partition's raft log and state: segment
// files of CRC32C-framed records (snappy-compressed when that saves an eighth),
// sparse offset and time indexes for closed segments, a checkpoint that
// bounds recovery, and torn-tail truncation. A Log implements etcd raft's
// Storage, and its write side is shaped for AsyncStorageWrites: Append
// returns a Round of file operations that the caller (raftlog/writer, or the
// simulator) carries out, then reports with Complete.
//
// The on-disk format is documented, and frozen, in format.go.
//
// raftlog owns: the bytes in a partition's directory and the in-memory index
// over them. It must never: start goroutines, read the wall clock, use global
// randomness, or retry a write after a failed fsync (the log stops instead;
// the partition reopens it from disk). It does I/O only through vfs.FS:
// synchronously in Open and for reads, and otherwise only by describing
// writes in Rounds.
package raftlog
