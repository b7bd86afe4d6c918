// Package groups is the consumer-group coordinator of one partition of the
// internal topic __consumer_offsets: a deterministic, sans-IO state machine
// the broker core (package node) drives.
//
// Every replica of the partition applies its committed records (Apply):
// committed offsets, and each group's last stored metadata (generation,
// protocol, leader, members and their assignments), both in Apache Kafka's
// own record formats (kmsg's OffsetCommitKey/Value and GroupMetadataKey/
// Value), so a replica that becomes the partition's leader already holds
// the state, and `kcat -C -t __consumer_offsets` shows what Kafka would.
//
// The leader's replica is the coordinator once it has applied everything
// committed (Activate). It rebuilds the live groups from the stored
// metadata (members get a fresh session, as in Kafka after a coordinator
// move) and runs the classic group protocol: JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup, OffsetCommit, DeleteGroups and OffsetDelete are
// requests with a token (Handle) whose responses come out of Ready, maybe
// much later (a join waits for the rebalance; a commit waits for its
// records to be committed). What must be stored goes out as an Append; the
// node proposes it to the partition and reports the outcome (AppendDone).
// OffsetFetch, DescribeGroups and ListGroups are answered at once from the
// applied state.
//
// Time comes only from Tick and Activate (the node's clock): session and
// rebalance timeouts, group.initial.rebalance.delay.ms, commit timeouts and
// offsets.retention.minutes. Member ids come from the environment's Rand.
// Maps are never iterated in an order that can leak out.
package groups
