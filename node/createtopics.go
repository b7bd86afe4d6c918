package node

// CreateTopics (key 19), v2–v7.
//
// Any broker takes it: the controller proposes the create to the metadata
// group, others place the topic (from the same broker list) and forward
// the command to the controller (KIP-590); NOT_CONTROLLER only while no
// controller is known. Two creates of one name racing through different
// brokers: the first applied wins, the other answers TOPIC_ALREADY_EXISTS
// (its topic id lost). Partitions and replication
// factor -1 take the broker defaults; replicas are placed round-robin from a
// random broker, or as the request assigns them. Configs are validated
// (unknown names, bad values and a name given twice are INVALID_CONFIG);
// configs.go lists them, which are enforced and which stored only, and
// AlterConfigs/IncrementalAlterConfigs change them later. The answer comes once
// the topic is in the replicated metadata (or REQUEST_TIMED_OUT after
// timeout_ms); partitions then elect leaders within moments, during which
// Metadata reports LEADER_NOT_AVAILABLE. ValidateOnly checks without
// creating.

import (
	"fmt"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleCreateTopics(r Request, req *kmsg.CreateTopicsRequest) {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	resp.Topics = make([]kmsg.CreateTopicsResponseTopic, len(req.Topics))
	var items []adminItem
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for i, rt := range req.Topics {
		ot := &resp.Topics[i]
		*ot = kmsg.NewCreateTopicsResponseTopic()
		ot.Topic, ot.NumPartitions, ot.ReplicationFactor = rt.Topic, -1, -1
		fail := func(err *kerr.Error, msg string) {
			ot.ErrorCode = err.Code
			if msg != "" {
				ot.ErrorMessage = &msg
			}
		}
		if seen[rt.Topic] > 1 {
			fail(kerr.InvalidRequest, "topic listed more than once")
			continue
		}
		if err := validTopicName(rt.Topic); err != nil {
			fail(kerr.InvalidTopicException, err.Error())
			continue
		}
		if n.controller() < 0 {
			fail(kerr.NotController, "")
			continue
		}
		if n.topics.byName[rt.Topic] != nil {
			fail(kerr.TopicAlreadyExists, "")
			continue
		}
		if other := n.topics.collision(rt.Topic); other != "" {
			fail(kerr.InvalidTopicException, fmt.Sprintf("Topic '%s' collides with existing topic: %s", rt.Topic, other))
			continue
		}
		reps, code, msg := n.placeTopic(rt)
		if code != nil {
			fail(code, msg)
			continue
		}
		cfgs, err := validateConfigs(rt.Configs, len(reps[0]))
		if err != nil {
			fail(kerr.InvalidConfig, err.Error())
			continue
		}
		ot.NumPartitions, ot.ReplicationFactor = int32(len(reps)), int16(len(reps[0]))
		// Every effective config with its source, as Kafka answers (v5+).
		newTopic := &topicInfo{Name: rt.Topic, Replicas: reps, Configs: cfgs}
		for i := range topicConfigDefs {
			d := n.describeTopicConfig(newTopic, &topicConfigDefs[i], false)
			ot.Configs = append(ot.Configs, kmsg.CreateTopicsResponseTopicConfig{Name: d.Name, Value: d.Value,
				ReadOnly: d.ReadOnly, Source: int8(d.Source), IsSensitive: d.IsSensitive})
		}
		if req.ValidateOnly {
			continue
		}
		id := n.newTopicID()
		ot.TopicID = id
		if !n.proposeMeta(command{Op: "create", Topic: topicInfo{Name: rt.Topic, ID: hexID(id), Replicas: reps, Configs: cfgs}}, true) {
			fail(kerr.NotController, "")
			continue
		}
		name := rt.Topic
		items = append(items, adminItem{code: &ot.ErrorCode, done: func() (int16, bool) {
			t := n.topics.byName[name]
			switch {
			case t == nil && n.topics.collision(name) != "":
				return kerr.InvalidTopicException.Code, true // a colliding topic was created first
			case t == nil:
				return 0, false
			case t.id != id:
				return kerr.TopicAlreadyExists.Code, true
			}
			return 0, true
		}})
	}
	n.waitAdmin(r, resp, req.TimeoutMillis, items)
}

// maxTopicPartitions bounds a topic's partitions (each is a raft group),
// whether asked for by count or by an explicit replica assignment, at
// creation or by CreatePartitions.
const maxTopicPartitions = 10000

// placeTopic resolves a new topic's replica assignment.
func (n *Node) placeTopic(rt kmsg.CreateTopicsRequestTopic) ([][]int32, *kerr.Error, string) {
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return nil, kerr.InvalidRequest, "a replica assignment requires partitions and replication factor -1"
		}
		if len(rt.ReplicaAssignment) > maxTopicPartitions {
			return nil, kerr.InvalidPartitions, fmt.Sprintf("at most %d partitions", maxTopicPartitions)
		}
		reps := make([][]int32, len(rt.ReplicaAssignment))
		for _, a := range rt.ReplicaAssignment {
			if a.Partition < 0 || int(a.Partition) >= len(reps) || reps[a.Partition] != nil {
				return nil, kerr.InvalidReplicaAssignment, "partitions must be numbered 0..n-1 once each"
			}
			reps[a.Partition] = a.Replicas
		}
		if err := n.validateAssignment(reps); err != nil {
			return nil, kerr.InvalidReplicaAssignment, err.Error()
		}
		return reps, nil, ""
	}
	parts, rf := rt.NumPartitions, int(rt.ReplicationFactor)
	if parts == -1 {
		parts = n.cfg.Defaults.Partitions
	}
	if rf == -1 {
		rf = min(int(n.cfg.Defaults.ReplicationFactor), len(n.cfg.Brokers))
	}
	switch {
	case parts <= 0 || parts > maxTopicPartitions:
		return nil, kerr.InvalidPartitions, fmt.Sprintf("partitions must be in [1, %d]", maxTopicPartitions)
	case rf <= 0:
		return nil, kerr.InvalidReplicationFactor, "replication factor must be at least 1"
	case rf > len(n.cfg.Brokers):
		return nil, kerr.InvalidReplicationFactor, "replication factor exceeds the number of brokers"
	}
	return n.assign(0, int(parts), rf), nil, ""
}
