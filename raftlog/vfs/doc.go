// Package vfs is the file system under the raft log. Every byte the log
// reads or writes, and every name it creates, renames or removes, goes
// through an FS, so the same log code runs on real disks in production and
// on simulated, crashable, faulty disks in tests and in the simulator.
//
// It owns three file systems:
//
//   - OS: real files. Sync is fdatasync, Preallocate is fallocate with
//     FALLOC_FL_KEEP_SIZE (size unchanged), SyncDir fsyncs the directory,
//     and OpenWholeSync gives syncfs(2) on Linux 5.8+ (WholeSyncer: one
//     call makes every file's data durable, for group commit).
//   - Mem: an in-memory FS with crash semantics, modelled on Pebble's
//     crashable MemFS. File data is durable only after File.Sync and a
//     name (create, rename, remove, mkdir) only after SyncDir of the
//     directory holding it. Crash simulates power loss: unsynced names
//     revert and, of the unsynced writes, a seeded-random subset of 4 KiB
//     pages survives, the last of them possibly torn. ProcessCrash
//     simulates a process crash (the OS page cache survives) and
//     CrashClean keeps exactly the synced state. Its WholeSync syncs every
//     file's data (names still need SyncDir).
//   - InjectFS: a wrapper around any FS that injects errors (EIO, ENOSPC),
//     latency and bit flips on reads, chosen by a Rule (OpSyncFS for a
//     WholeSync). Rules are small
//     values composed from On, Times, After, Probability and Merge.
//
// Durability contract, for every FS: nothing in this package syncs
// implicitly. Create, Rename, Remove and MkdirAll change names that survive
// a crash only once the caller has called SyncDir on the parent directory
// (for MkdirAll, on the parent of every directory created). A failed Sync
// leaves the durable contents unknown: callers must not retry it.
//
// What vfs must never do:
//
//   - keep global state: every FS is a value owned by its caller;
//   - draw randomness from anywhere but a seed it is given: Mem and the
//     rules of InjectFS use math/rand/v2 generators seeded by the caller,
//     so the same seed and the same operations give the same bytes;
//   - read the wall clock or sleep: injected latency is reported to the
//     caller (InjectFS.TakeLatencyNs), and the simulator decides what time
//     it costs;
//   - import anything outside the standard library.
package vfs
