package node

// DeleteGroups (key 42), v0–v3.
//
// Each group must be empty (NON_EMPTY_GROUP otherwise) and known
// (GROUP_ID_NOT_FOUND); its metadata and offsets are deleted with
// tombstones in __consumer_offsets, answered once committed. Groups whose
// coordinator is another broker answer NOT_COORDINATOR (clients send each
// group to its coordinator).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleDeleteGroups(r Request, req *kmsg.DeleteGroupsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	// Groups by coordinator partition, in request order.
	var subs []*kmsg.DeleteGroupsRequest
	var hosts []*hosted
	for _, id := range req.Groups {
		h, code := n.localCoordinator(id)
		if code != 0 {
			resp.Groups = append(resp.Groups, kmsg.DeleteGroupsResponseGroup{Group: id, ErrorCode: code})
			continue
		}
		i := slices.Index(hosts, h)
		if i < 0 {
			sub := req.ResponseKind().RequestKind().(*kmsg.DeleteGroupsRequest)
			subs, hosts, i = append(subs, sub), append(hosts, h), len(subs)
		}
		subs[i].Groups = append(subs[i].Groups, id)
	}
	if len(subs) == 0 {
		n.respond(r, resp)
		return
	}
	if len(n.groupCalls)+len(subs) > n.cfg.Groups.MaxPendingCalls {
		for _, sub := range subs {
			for _, id := range sub.Groups {
				resp.Groups = append(resp.Groups, kmsg.DeleteGroupsResponseGroup{Group: id, ErrorCode: kerr.CoordinatorNotAvailable.Code})
			}
		}
		n.respond(r, resp)
		return
	}
	f := &groupFan{r: r, resp: resp, pending: len(subs)}
	f.merge = func(sub kmsg.Response) {
		resp.Groups = append(resp.Groups, sub.(*kmsg.DeleteGroupsResponse).Groups...)
	}
	for i, sub := range subs {
		n.callCoordinator(hosts[i], f, sub)
	}
}
