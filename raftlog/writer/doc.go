// Package writer carries out raftlog Rounds on real disks: it is the disk
// side of DESIGN.md's runtime, and the only part of raftlog that starts
// goroutines.
//
// A Writer does group commit: each cycle takes every round submitted since
// the last one (from any number of partition logs), performs their writes,
// syncs every touched file once — in parallel, or, given a vfs.WholeSync and
// at least WholeSyncMinFiles files, all of them with one syncfs (one device
// flush instead of one per file) — then runs what follows the syncs
// (directory syncs, index and checkpoint files, removals) and reports each
// round's outcome. A failed write or fsync fails the rounds that needed it
// (a failed syncfs: every round of its cycle) and every later round of the
// same log; nothing is retried.
//
// A Pool keeps a bounded number of zero-filled segment files
// per broker, filled in the background, so that rolling a segment never
// waits for preallocation and writes into it never extend the file (which
// makes each fdatasync cheaper).
//
// writer owns: goroutines and the blocking calls. It must never: decide what
// to write (the Log does), or retry after a failed fsync.
package writer
