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
// KIP-848 consumer groups (ConsumerGroupHeartbeat, consumer.go, with the
// server-side assignors of assignor.go) share the group id namespace with
// classic groups: an empty group of one kind becomes the other on a join
// of the other protocol (Kafka's group.consumer.migration.policy, for
// empty groups only). Their state is stored as records with Kafka's key
// versions and key layout (int16 version, int16-length group id, and for
// member records an int16-length member id), but with values that are
// sluice's own JSON objects, not Kafka's binary schemas: Kafka tools
// cannot decode them. Topic ids are hex strings; partition sets are
// [{"topicId":…,"partitions":[…]}] sorted by topic id; a nil value is a
// tombstone.
//
//	3 group metadata       {"epoch":N}
//	4 subscription         {"topics":[{"topicId":…,"topicName":…,"numPartitions":N}]}
//	5 member metadata      {"instanceId","rackId","clientId","clientHost",
//	                        "subscribedTopicNames","subscribedTopicRegex",
//	                        "serverAssignor","rebalanceTimeoutMs"}
//	6 target metadata      {"assignmentEpoch":N}
//	7 target of a member   {"topicPartitions":[…]}
//	8 current assignment   {"memberEpoch","previousMemberEpoch","state" (Kafka's
//	                        byte: 0 stable, 1 unreleased, 2 unrevoked),
//	                        "assignedPartitions","partitionsPendingRevocation"}
//
// Every replica replays them into the stored state; the active
// coordinator replays what it writes into its live state at once (as
// Kafka does), answers once they commit, and rebuilds the live state from
// the stored one on Activate or after a failed store.
//
// Time comes only from Tick and Activate (the node's clock): session and
// rebalance timeouts, group.initial.rebalance.delay.ms, commit timeouts and
// offsets.retention.minutes. Member ids come from the environment's Rand.
// Maps are never iterated in an order that can leak out.
package groups
