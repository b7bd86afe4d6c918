package node

// ListGroups (key 16), v0–v5.
//
// Lists the groups this broker coordinates (admin clients ask every
// broker), with state (v4+, filtered case-insensitively by StatesFilter)
// and type (v5+: "classic", or "consumer" for KIP-848 groups; filtered
// case-insensitively by TypesFilter). A group with only committed offsets (simple consumers) is Empty
// with an empty protocol type, as in Kafka.

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleListGroups(req *kmsg.ListGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	for _, g := range n.order {
		h := n.hosts[g]
		if h.coord == nil || !h.coord.Active() {
			continue
		}
		for _, s := range h.coord.List() {
			if !match(req.StatesFilter, s.State) || !match(req.TypesFilter, s.Type) {
				continue
			}
			resp.Groups = append(resp.Groups, kmsg.ListGroupsResponseGroup{Group: s.Group, ProtocolType: s.ProtocolType, GroupState: s.State, GroupType: s.Type})
		}
	}
	return resp
}
