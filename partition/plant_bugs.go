//go:build plantbugs

package partition

// PlantedBug selects the bug this build plants, by name, or none (""):
//
//   - "ack-before-fsync": every replica reports its appends durable (and the
//     leader counts its own copy) before the write is synced;
//   - "fetch-above-hw": the leader serves records up to its log end, above
//     the high watermark;
//   - "skip-truncate": a replica keeps its offsets when raft overwrites a
//     conflicting suffix, so it stamps and serves wrong offsets;
//   - "wiped-votes": an amnesic replica (its disk was wiped) votes and
//     campaigns as if it remembered its old votes and acknowledgements;
//   - "apply-before-commit": the idempotent producer state is applied as
//     batches are appended, before they are committed, so a batch raft
//     later overwrites stays in it and its retry is answered as a
//     duplicate at an offset that holds another record;
//   - "log-start-per-replica": a replica reports the log start offset of
//     the segments it holds, not the replicated one, so a new leader that
//     cut its segments elsewhere reports an older one than its predecessor;
//   - "delete-records-local": DeleteRecords moves the leader's own log start
//     at once instead of replicating it, so the next leader serves the
//     records again;
//   - "latest-log-end": ListOffsets LATEST (node/listoffsets.go) answers
//     the leader's log end, records not yet committed included, instead
//     of the high watermark;
//   - "delete-records-one-more": DeleteRecords moves the log start one
//     past the offset asked for (below the high watermark), deleting a
//     record no one asked to delete;
//   - "delete-records-no-op": DeleteRecords answers that the log start
//     moved to the offset asked for, and moves nothing.
//
// The simulator's planted-bug tests set it and run seeds until the checker
// catches the bug. Builds without the plantbugs tag have no such variable.
var PlantedBug string

func planted(name string) bool { return PlantedBug == name }
