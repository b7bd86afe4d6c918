package node

// ConsumerGroupDescribe (key 69), v0–v1.
//
// Describes KIP-848 consumer groups from their coordinator's state: state
// (Empty, Assigning, Reconciling, Stable), group and assignment epochs,
// the assignor, and per member its epoch, client, subscription, current
// and target assignment (topics by id and name), member type "consumer"
// (v1). A group that does not exist, or is a classic group, answers
// GROUP_ID_NOT_FOUND, as Kafka. Authorized operations are not computed
// (Kafka's "not requested" value).

import "github.com/twmb/franz-go/pkg/kmsg"

func (n *Node) handleConsumerGroupDescribe(req *kmsg.ConsumerGroupDescribeRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, id := range req.Groups {
		h, code := n.localCoordinator(id)
		if code != 0 {
			d := kmsg.NewConsumerGroupDescribeResponseGroup()
			d.Group, d.ErrorCode = id, code
			resp.Groups = append(resp.Groups, d)
			continue
		}
		resp.Groups = append(resp.Groups, h.coord.ConsumerGroupDescribe(id))
	}
	return resp
}
