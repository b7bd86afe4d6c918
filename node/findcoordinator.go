package node

// FindCoordinator (key 10), v0–v6.
//
// A group's coordinator is the leader of its __consumer_offsets partition
// (coordinator.go). The first request for a group creates the topic through
// the controller, and is answered COORDINATOR_NOT_AVAILABLE (retriable)
// until the partition has a leader, as Kafka does. v4+ batches keys.
//
// Differs from Apache Kafka: there are no transaction coordinators, so
// transactional keys (type 1) are answered INVALID_REQUEST, which clients
// take as final: a transactional producer fails at once with that error
// (kgo: "unable to initialize a producer ID ... INVALID_REQUEST"), where
// the retriable COORDINATOR_NOT_AVAILABLE answered before made it retry
// until its context ended (2.5 minutes in a kgo test). The broker logs the
// refusal, at most once every 10 s.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleFindCoordinator(req *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if req.Version < 4 {
		c := n.findCoordinator(req.CoordinatorKey, req.CoordinatorType)
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
		return resp
	}
	for _, key := range req.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, n.findCoordinator(key, req.CoordinatorType))
	}
	return resp
}

func (n *Node) findCoordinator(key string, typ int8) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.FindCoordinatorResponseCoordinator{Key: key, NodeID: -1, Port: -1}
	fail := func(code int16, msg string) kmsg.FindCoordinatorResponseCoordinator {
		c.ErrorCode, c.ErrorMessage = code, &msg
		return c
	}
	switch {
	case typ == 1:
		if n.txnRefusedMs == 0 || n.nowMs-n.txnRefusedMs >= 10_000 {
			n.txnRefusedMs = max(n.nowMs, 1)
			n.log.Warn("refused a transactional client: sluice does not support transactions (FindCoordinator for a transactional id)", "transactional_id", key)
		}
		return fail(kerr.InvalidRequest.Code, "sluice has no transaction coordinator: transactions are not supported")
	case typ != 0:
		return fail(kerr.InvalidRequest.Code, "unknown coordinator type")
	case key == "":
		return fail(kerr.InvalidGroupID.Code, "empty group id")
	}
	g, ok := n.coordinatorOf(key)
	if !ok {
		if !n.createOffsetsTopic() {
			return fail(kerr.CoordinatorNotAvailable.Code, "no controller to create "+OffsetsTopic)
		}
		return fail(kerr.CoordinatorNotAvailable.Code, "creating "+OffsetsTopic)
	}
	li, ok := n.leaderOf(g)
	if !ok {
		return fail(kerr.CoordinatorNotAvailable.Code, "the group's offsets partition has no leader")
	}
	for _, b := range n.cfg.Brokers {
		if uint64(b.ID) == li.Leader {
			c.NodeID, c.Host, c.Port = b.ID, b.Host, b.Port
			return c
		}
	}
	return fail(kerr.CoordinatorNotAvailable.Code, "the coordinator is not a known broker")
}
