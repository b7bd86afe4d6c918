package node

// FindCoordinator (key 10), v0–v6.
//
// Differs from Apache Kafka: there are no group or transaction coordinators
// yet (consumer groups are issue 9), so every key is answered
// COORDINATOR_NOT_AVAILABLE. Clients retry, then report the error.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleFindCoordinator(req *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	code := kerr.CoordinatorNotAvailable.Code
	msg := "sluice has no group or transaction coordinator yet"
	if req.Version < 4 {
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID = code, &msg, -1
		return resp
	}
	for _, key := range req.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, kmsg.FindCoordinatorResponseCoordinator{
			Key: key, NodeID: -1, Port: -1, ErrorCode: code, ErrorMessage: &msg})
	}
	return resp
}
