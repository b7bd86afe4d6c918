package node

// DescribeCluster (key 60), v0–v2 (KIP-700).
//
// Any broker answers: the cluster id, the controller (the metadata group's
// leader, -1 while none is known) and every broker of the cluster. Brokers
// are never fenced: membership is static until brokers register with the
// controller (issue 8), as Metadata reports it. Every broker is also a
// controller (each votes in the metadata group), so endpoint type 2
// (controllers, v1+) lists the same brokers; other endpoint types are
// UNSUPPORTED_ENDPOINT_TYPE. No racks. Authorized operations, when asked
// for, are every cluster operation (sluice has no ACLs: Kafka without an
// authorizer answers so).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleDescribeCluster(req *kmsg.DescribeClusterRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = req.EndpointType
	resp.ClusterAuthorizedOperations = authorizedOps(req.IncludeClusterAuthorizedOperations, clusterOps)
	if req.Version >= 1 && req.EndpointType != 1 && req.EndpointType != 2 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = kmsg.StringPtr("endpoint type must be 1 (brokers) or 2 (controllers)")
		return resp
	}
	resp.ClusterID = n.cfg.ClusterID
	resp.ControllerID = n.controller()
	for _, b := range n.cfg.Brokers {
		ob := kmsg.NewDescribeClusterResponseBroker()
		ob.NodeID, ob.Host, ob.Port = b.ID, b.Host, b.Port
		resp.Brokers = append(resp.Brokers, ob)
	}
	return resp
}
