package node

// DescribeGroups (key 15), v0–v6.
//
// State, protocol, and members (client id and host, static instance id
// v4+); member metadata and assignments only for a stable group, as Kafka.
// A group this coordinator does not know is "Dead", and from v6
// GROUP_ID_NOT_FOUND. Authorized operations, when asked for, are every
// group operation (no ACLs, as Kafka without an authorizer).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleDescribeGroups(req *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		h, code := n.localCoordinator(id)
		if code != 0 {
			d := kmsg.NewDescribeGroupsResponseGroup()
			d.Group, d.ErrorCode, d.AuthorizedOperations = id, code, opsNotRequested
			resp.Groups = append(resp.Groups, d)
			continue
		}
		d, found := h.coord.Describe(id)
		d.AuthorizedOperations = authorizedOps(req.IncludeAuthorizedOperations, groupOps)
		if !found && req.Version >= 6 {
			d.ErrorCode = kerr.GroupIDNotFound.Code
			msg := "group " + id + " does not exist"
			d.ErrorMessage = &msg
		}
		resp.Groups = append(resp.Groups, d)
	}
	return resp
}
