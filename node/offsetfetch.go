package node

// OffsetFetch (key 9), v1–v10.
//
// Answered by the group's coordinator from the committed offsets it has
// applied (a commit is answered only once committed, so a fetch after it
// sees it). A partition without a committed offset answers offset -1 and
// no error, as Kafka does; null topics (v2+) ask for all of the group's
// offsets. v8+ batches groups; v10 names topics by id (all-topics answers
// list only topics that still exist). RequireStable (v7+) has nothing to
// wait for until transactions exist. The v9 member id and epoch are
// checked for KIP-848 consumer groups (UNKNOWN_MEMBER_ID,
// STALE_MEMBER_EPOCH), as Kafka; epoch -1 (admin clients) is not.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node/groups"
)

// fetchedTopic is one topic of an OffsetFetch answer, before it is put in
// the version's shape.
type fetchedTopic struct {
	name  string
	id    [16]byte
	parts []kmsg.OffsetFetchResponseGroupTopicPartition
}

// askedTopic is one topic of an OffsetFetch request.
type askedTopic struct {
	name  string
	id    [16]byte
	parts []int32
}

func (n *Node) handleOffsetFetch(req *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var asked []askedTopic
			if rg.Topics != nil {
				asked = []askedTopic{}
				for _, t := range rg.Topics {
					asked = append(asked, askedTopic{name: t.Topic, id: t.TopicID, parts: t.Partitions})
				}
			}
			var topics []fetchedTopic
			code := n.validateOffsetFetch(rg.Group, rg.MemberID, rg.MemberEpoch, req.Version)
			if code == 0 {
				topics, code = n.fetchOffsets(rg.Group, asked, req.Version >= 10)
			}
			og := kmsg.OffsetFetchResponseGroup{Group: rg.Group, ErrorCode: code}
			for _, t := range topics {
				og.Topics = append(og.Topics, kmsg.OffsetFetchResponseGroupTopic{Topic: t.name, TopicID: t.id, Partitions: t.parts})
			}
			resp.Groups = append(resp.Groups, og)
		}
		return resp
	}
	var asked []askedTopic
	if req.Topics != nil || req.Version < 2 {
		asked = []askedTopic{}
		for _, t := range req.Topics {
			asked = append(asked, askedTopic{name: t.Topic, parts: t.Partitions})
		}
	}
	topics, code := n.fetchOffsets(req.Group, asked, false)
	if code != 0 && req.Version < 2 {
		// v0–v1 have no group error: every partition asked carries it.
		topics = nil
		for _, t := range asked {
			ft := fetchedTopic{name: t.name}
			for _, p := range t.parts {
				ft.parts = append(ft.parts, kmsg.OffsetFetchResponseGroupTopicPartition{Partition: p, Offset: -1, LeaderEpoch: -1, ErrorCode: code})
			}
			topics = append(topics, ft)
		}
	}
	resp.ErrorCode = code
	for _, t := range topics {
		ot := kmsg.OffsetFetchResponseTopic{Topic: t.name}
		for _, p := range t.parts {
			ot.Partitions = append(ot.Partitions, kmsg.OffsetFetchResponseTopicPartition{Partition: p.Partition, Offset: p.Offset,
				LeaderEpoch: p.LeaderEpoch, Metadata: p.Metadata, ErrorCode: p.ErrorCode})
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

// fetchOffsets reads a group's committed offsets: those asked for, or all
// of them when asked is nil. byID: topics are named by id (v10).
func (n *Node) fetchOffsets(group string, asked []askedTopic, byID bool) ([]fetchedTopic, int16) {
	h, code := n.localCoordinator(group)
	if code != 0 {
		return nil, code
	}
	part := func(p int32, c groups.Committed, ok bool) kmsg.OffsetFetchResponseGroupTopicPartition {
		if !ok {
			return kmsg.OffsetFetchResponseGroupTopicPartition{Partition: p, Offset: -1, LeaderEpoch: -1, Metadata: new("")}
		}
		return kmsg.OffsetFetchResponseGroupTopicPartition{Partition: p, Offset: c.Offset, LeaderEpoch: c.LeaderEpoch, Metadata: new(c.Metadata)}
	}
	var out []fetchedTopic
	if asked == nil {
		for _, to := range h.coord.Offsets(group) {
			ft := fetchedTopic{name: to.Topic}
			if byID {
				ti := n.topics.byName[to.Topic]
				if ti == nil {
					continue
				}
				ft.id = ti.id
			}
			for i, p := range to.Partitions {
				ft.parts = append(ft.parts, part(p, to.Offsets[i], true))
			}
			out = append(out, ft)
		}
		return out, 0
	}
	for _, t := range asked {
		ft := fetchedTopic{name: t.name, id: t.id}
		name := t.name
		errCode := int16(0)
		if byID {
			if ti := n.topics.byID[t.id]; ti != nil {
				name = ti.Name
			} else {
				errCode = kerr.UnknownTopicID.Code
			}
		}
		for _, p := range t.parts {
			c, ok := h.coord.Offset(group, name, p)
			fp := part(p, c, ok)
			fp.ErrorCode = errCode
			ft.parts = append(ft.parts, fp)
		}
		out = append(out, ft)
	}
	return out, 0
}
