package node

// ConsumerGroupHeartbeat (key 68), v0–v1: the KIP-848 consumer group
// protocol, as Apache Kafka 4.x serves it.
//
// The group's coordinator (node/groups, consumer.go) keeps member and
// group epochs, computes the target assignment with a server-side
// assignor ("uniform", the default, or "range", as the member's
// ServerAssignor asks) and reconciles each member towards it: a partition
// is given to a member only once its previous owner has reported it
// revoked. Joins (epoch 0), leaves (epoch -1), static leaves (epoch -2,
// group.instance.id kept for the session timeout) and full or partial
// heartbeats are all this API; answers carry the member epoch, the
// heartbeat interval (group.consumer.heartbeat.interval.ms, 5000) and the
// assignment when it changed or the request was a full one. A heartbeat
// whose changes must be stored is answered once its records are committed
// in __consumer_offsets. Members whose session (group.consumer.session.
// timeout.ms, 45000) ends, or that do not revoke within their rebalance
// timeout, are fenced. Errors as Kafka's: FENCED_MEMBER_EPOCH,
// UNKNOWN_MEMBER_ID, UNRELEASED_INSTANCE_ID, FENCED_INSTANCE_ID,
// UNSUPPORTED_ASSIGNOR, INVALID_REQUEST, INVALID_REGULAR_EXPRESSION,
// GROUP_MAX_SIZE_REACHED, GROUP_ID_NOT_FOUND (a classic group with members;
// an empty classic group becomes a consumer group).
//
// Differs from Apache Kafka: SubscribedTopicRegex is matched with Go's
// regexp (RE2 syntax, as Kafka's RE2/J) against the whole topic name at
// every heartbeat, not resolved in the background and stored (no record
// key 16). Subscribed topics are re-read from the broker's topic table at
// every heartbeat (Kafka refreshes them on an interval). Members using
// the classic protocol cannot join a consumer group, and a non-empty
// classic group is not converted (migration is for empty groups only).
// Rack-aware assignment is not done (RackID is stored and described). The
// group's records keep Kafka's key versions 3–8 but have sluice's JSON
// values (node/groups/doc.go): Kafka tools cannot decode them.

import "github.com/twmb/franz-go/pkg/kmsg"

func (n *Node) handleConsumerGroupHeartbeat(r Request, req *kmsg.ConsumerGroupHeartbeatRequest) {
	n.groupCall(r, req.Group, req)
}
