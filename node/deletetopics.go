package node

// DeleteTopics (key 20), v1–v6.
//
// Any broker takes it: others forward the delete to the controller
// (KIP-590); NOT_CONTROLLER only while none is known. Topics are named
// by name, or by id in v6+ (not both: INVALID_REQUEST). The answer comes once the deletion is in the
// replicated metadata; every broker then closes its replicas and deletes
// their files. A later topic of the same name is a new raft group (a new
// topic id).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleDeleteTopics(r Request, req *kmsg.DeleteTopicsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	topics := req.Topics
	if req.Version < 6 {
		topics = nil
		for _, name := range req.TopicNames {
			topics = append(topics, kmsg.DeleteTopicsRequestTopic{Topic: &name})
		}
	}
	resp.Topics = make([]kmsg.DeleteTopicsResponseTopic, len(topics))
	var items []adminItem
	seen := map[string]int{}
	for _, rt := range topics {
		seen[topicKey(rt)]++
	}
	for i, rt := range topics {
		ot := &resp.Topics[i]
		*ot = kmsg.NewDeleteTopicsResponseTopic()
		ot.Topic, ot.TopicID = rt.Topic, rt.TopicID
		if seen[topicKey(rt)] > 1 {
			ot.ErrorCode = kerr.InvalidRequest.Code
			ot.ErrorMessage = kmsg.StringPtr("Duplicate topic name.")
			continue
		}
		// As Kafka's ControllerApis.deleteTopics: a topic is named by name
		// or by id, never both (a stale id beside a name must not delete
		// the named topic), and never by neither.
		switch {
		case rt.Topic != nil && rt.TopicID != [16]byte{}:
			ot.ErrorCode = kerr.InvalidRequest.Code
			ot.ErrorMessage = kmsg.StringPtr("You may not specify both topic name and topic id.")
			continue
		case rt.Topic == nil && rt.TopicID == [16]byte{}:
			ot.ErrorCode = kerr.InvalidRequest.Code
			ot.ErrorMessage = kmsg.StringPtr("Neither topic name nor id were specified.")
			continue
		}
		var t *topicInfo
		if rt.Topic != nil {
			t = n.topics.byName[*rt.Topic]
		} else {
			t = n.topics.byID[rt.TopicID]
		}
		switch {
		case n.controller() < 0:
			ot.ErrorCode = kerr.NotController.Code
			continue
		case t == nil && rt.Topic == nil:
			ot.ErrorCode = kerr.UnknownTopicID.Code
			continue
		case t == nil:
			ot.ErrorCode = kerr.UnknownTopicOrPartition.Code
			continue
		case t.Name == OffsetsTopic:
			ot.ErrorCode = kerr.InvalidRequest.Code
			ot.ErrorMessage = kmsg.StringPtr("the internal topic " + OffsetsTopic + " cannot be deleted")
			continue
		}
		name := t.Name
		ot.Topic, ot.TopicID = &name, t.id
		id := t.id
		if !n.proposeMeta(command{Op: "delete", Topic: topicInfo{Name: t.Name, ID: t.ID}}, true) {
			ot.ErrorCode = kerr.NotController.Code
			continue
		}
		items = append(items, adminItem{code: &ot.ErrorCode, done: func() (int16, bool) {
			return 0, n.topics.byID[id] == nil
		}})
	}
	n.waitAdmin(r, resp, req.TimeoutMillis, items)
}

// topicKey identifies a topic of a request by name, or by id.
func topicKey(rt kmsg.DeleteTopicsRequestTopic) string {
	if rt.Topic != nil {
		return "name:" + *rt.Topic
	}
	return "id:" + hexID(rt.TopicID)
}
