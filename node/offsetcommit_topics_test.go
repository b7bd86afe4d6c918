package node

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// findGroupCoordinator asks until the group's coordinator is ready.
func (c *cluster) findGroupCoordinator(group string) int32 {
	c.t.Helper()
	for i := 0; i < 300; i++ {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version, req.CoordinatorKeys = 4, []string{group}
		resp := c.do(c.ids[0], req).(*kmsg.FindCoordinatorResponse)
		if co := resp.Coordinators[0]; co.ErrorCode == 0 {
			// Wait until it has loaded (an OffsetFetch is not LOAD_IN_PROGRESS).
			of := kmsg.NewPtrOffsetFetchRequest()
			of.Version = 8
			of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: group}}
			if r := c.do(co.NodeID, of).(*kmsg.OffsetFetchResponse); r.Groups[0].ErrorCode == 0 {
				return co.NodeID
			}
		}
		c.tick()
	}
	c.t.Fatalf("no coordinator for %q", group)
	return 0
}

// A commit for a topic the broker does not know, or a partition the topic
// does not have, is answered UNKNOWN_TOPIC_OR_PARTITION and nothing is
// stored for it, as Kafka's KafkaApis.handleOffsetCommitRequest does
// (found by review: v2–v9 stored any name and partition).
func TestOffsetCommitUnknownTopicOrPartition(t *testing.T) {
	c, _ := oneBroker(t) // topic "t" has partitions 0 and 1
	co := c.findGroupCoordinator("g")
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = 8, "g", -1
	req.Topics = []kmsg.OffsetCommitRequestTopic{
		{Topic: "nosuchtopic", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5, LeaderEpoch: -1}}},
		{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 7, Offset: 5, LeaderEpoch: -1}}},
	}
	resp := c.do(co, req).(*kmsg.OffsetCommitResponse)
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			checkCode(t, rt.Topic, p.ErrorCode, kerr.UnknownTopicOrPartition)
		}
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version = 8
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g"}} // all offsets
	fr := c.do(co, of).(*kmsg.OffsetFetchResponse)
	if n := len(fr.Groups[0].Topics); n != 0 {
		t.Errorf("offsets stored for a topic/partition that does not exist: %+v", fr.Groups[0].Topics)
	}
}

// Deleting a topic deletes every group's committed offsets of it, as Kafka
// does (GroupCoordinator.onPartitionsDeleted), so a topic created again
// under the name starts with none (found by review: they were kept, and a
// consumer of the new topic started at offset 1000, skipping its first
// 1000 records).
func TestDeletedTopicsOffsetsDeleted(t *testing.T) {
	c := newCluster(t, 1, 1)
	c.createTopic("x", 1, 1, nil)
	co := c.findGroupCoordinator("g")
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.Generation = 8, "g", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "x", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1000, LeaderEpoch: -1}}}}
	checkCode(t, "commit", c.do(co, commit).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, nil)

	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version, del.TimeoutMillis, del.TopicNames = 5, 5000, []string{"x"}
	dr := c.do(c.controller(), del).(*kmsg.DeleteTopicsResponse)
	checkCode(t, "delete", dr.Topics[0].ErrorCode, nil)
	c.ticks(50)
	c.createTopic("x", 1, 1, nil) // a new, empty topic of the same name

	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version = 8
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "x", Partitions: []int32{0}}}}}
	co = c.findGroupCoordinator("g")
	fr := c.do(co, of).(*kmsg.OffsetFetchResponse)
	if got := fr.Groups[0].Topics[0].Partitions[0].Offset; got != -1 {
		t.Fatalf("re-created topic x: group g's committed offset %d, want -1 (the deleted topic's offsets are gone)", got)
	}
}

// OffsetCommit v10 names topics by id: a known id is stored under its
// name (and reads back by name), an unknown one is UNKNOWN_TOPIC_ID.
func TestOffsetCommitByTopicID(t *testing.T) {
	c, _ := oneBroker(t) // "t": partitions 0, 1
	co := c.findGroupCoordinator("g")
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = 10, "g", -1
	req.Topics = []kmsg.OffsetCommitRequestTopic{
		{TopicID: c.nodes[co].topics.byName["t"].id, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 7, LeaderEpoch: -1}}},
		{TopicID: [16]byte{9}, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5, LeaderEpoch: -1}}},
	}
	resp := c.do(co, req).(*kmsg.OffsetCommitResponse)
	codes := map[[16]byte]int16{}
	for _, rt := range resp.Topics {
		codes[rt.TopicID] = rt.Partitions[0].ErrorCode
	}
	checkCode(t, "known id", codes[req.Topics[0].TopicID], nil)
	checkCode(t, "unknown id", codes[[16]byte{9}], kerr.UnknownTopicID)
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version = 8
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{1}}}}}
	if got := c.do(co, of).(*kmsg.OffsetFetchResponse).Groups[0].Topics[0].Partitions[0].Offset; got != 7 {
		t.Fatalf("committed offset of t/1 by id: %d, want 7", got)
	}
}
