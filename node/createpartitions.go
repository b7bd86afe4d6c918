package node

// CreatePartitions (key 37), v0–v3.
//
// Any broker takes it: others place the new partitions and forward the
// command to the controller (KIP-590), which applies it only to a topic
// that still has the partitions it was computed from; NOT_CONTROLLER only
// while no controller is known. Count is the new
// total and must exceed the current one (INVALID_PARTITIONS otherwise); new
// partitions keep the topic's replication factor and are placed
// round-robin, or as the request assigns them. Existing partitions are
// untouched, so producers keep writing while partitions are added; keyed
// records of the same key may map to a new partition afterwards, as in
// Kafka. ValidateOnly checks without creating.

import (
	"fmt"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleCreatePartitions(r Request, req *kmsg.CreatePartitionsRequest) {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	resp.Topics = make([]kmsg.CreatePartitionsResponseTopic, len(req.Topics))
	var items []adminItem
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for i, rt := range req.Topics {
		ot := &resp.Topics[i]
		*ot = kmsg.NewCreatePartitionsResponseTopic()
		ot.Topic = rt.Topic
		fail := func(err *kerr.Error, msg string) {
			ot.ErrorCode = err.Code
			if msg != "" {
				ot.ErrorMessage = &msg
			}
		}
		t := n.topics.byName[rt.Topic]
		switch {
		case seen[rt.Topic] > 1:
			fail(kerr.InvalidRequest, "Duplicate topic name.")
			continue
		case n.controller() < 0:
			fail(kerr.NotController, "")
			continue
		case t == nil:
			fail(kerr.UnknownTopicOrPartition, "")
			continue
		case t.Name == OffsetsTopic:
			fail(kerr.InvalidRequest, "adding partitions to "+OffsetsTopic+" would move every group's coordinator")
			continue
		case int(rt.Count) <= len(t.Replicas):
			fail(kerr.InvalidPartitions, "the topic already has that many partitions or more")
			continue
		case rt.Count > maxTopicPartitions:
			fail(kerr.InvalidPartitions, fmt.Sprintf("at most %d partitions", maxTopicPartitions))
			continue
		}
		from, add := len(t.Replicas), int(rt.Count)-len(t.Replicas)
		var reps [][]int32
		if rt.Assignment != nil {
			if len(rt.Assignment) != add {
				fail(kerr.InvalidReplicaAssignment, "the assignment must list every new partition")
				continue
			}
			for _, a := range rt.Assignment {
				reps = append(reps, a.Replicas)
			}
			if err := n.validateAssignment(append([][]int32{t.Replicas[0]}, reps...)); err != nil {
				fail(kerr.InvalidReplicaAssignment, err.Error())
				continue
			}
		} else {
			reps = n.assign(from, add, len(t.Replicas[0]))
		}
		if req.ValidateOnly {
			continue
		}
		id, want, explicit := t.id, int(rt.Count), rt.Assignment != nil
		if !n.proposeMeta(command{Op: "add_partitions", Topic: topicInfo{Name: t.Name, ID: t.ID, Replicas: reps}, From: from}, true) {
			fail(kerr.NotController, "")
			continue
		}
		items = append(items, adminItem{code: &ot.ErrorCode, done: func() (int16, bool) {
			t := n.topics.byID[id]
			switch {
			case t == nil:
				return kerr.UnknownTopicOrPartition.Code, true
			case len(t.Replicas) == from:
				return 0, false // not applied yet
			case len(t.Replicas) >= want:
				// This one's command applied, or another's that went as far
				// or further: the topic has what was asked for. (Several
				// commands can apply between two looks, so "further" cannot
				// tell which.)
				return 0, true
			case explicit:
				return kerr.InvalidReplicaAssignment.Code, true // it assigned partitions from the old count
			}
			// Another request added fewer partitions first: this one's
			// command, made from the old count, never applies. Propose
			// again from the count that won, as Kafka would apply the two
			// in turn.
			from = len(t.Replicas)
			reps := n.assign(from, want-from, len(t.Replicas[0]))
			if !n.proposeMeta(command{Op: "add_partitions", Topic: topicInfo{Name: t.Name, ID: t.ID, Replicas: reps}, From: from}, true) {
				return kerr.NotController.Code, true
			}
			return 0, false
		}})
	}
	n.waitAdmin(r, resp, req.TimeoutMillis, items)
}
