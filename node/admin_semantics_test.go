package node

// Admin and metadata behaviour as Apache Kafka's, each found by review: every
// test here failed before its fix.

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka refuses a topic whose name differs from an existing one only by
// '.' vs '_' (ReplicationControlManager.validateNewTopicNames:
// INVALID_TOPIC_EXCEPTION "collides with existing topic").
func TestCreateTopicsNameCollision(t *testing.T) {
	c := newCluster(t, 41, 1)
	c.createTopic("metrics.cpu", 1, 1, nil)
	resp := c.do(1, createReq(7, false, createSpec{name: "metrics_cpu", partitions: 1, rf: 1})).(*kmsg.CreateTopicsResponse)
	checkCode(t, "create metrics_cpu beside metrics.cpu", resp.Topics[0].ErrorCode, kerr.InvalidTopicException)
	// Auto-creation through Metadata must not create it either.
	c.do(1, metadataReq(12, true, "metrics_cpu"))
	c.ticks(3)
	if c.topic(1, "metrics_cpu") != nil && c.topic(1, "metrics.cpu") != nil {
		t.Errorf("both metrics.cpu and metrics_cpu exist")
	}
}

// Kafka (ControllerApis.deleteTopics): a v6 entry with both a name and an
// id is INVALID_REQUEST "You may not specify both topic name and topic
// id."; one with neither is INVALID_REQUEST too.
func TestDeleteTopicsNameAndID(t *testing.T) {
	c := newCluster(t, 43, 1)
	c.createTopic("a", 1, 1, nil)
	tb := c.createTopic("b", 1, 1, nil)
	req := deleteReq(6)
	req.Topics = append(req.Topics, kmsg.DeleteTopicsRequestTopic{Topic: strp("a"), TopicID: tb.id})
	resp := c.do(1, req).(*kmsg.DeleteTopicsResponse)
	checkCode(t, "name a with b's id", resp.Topics[0].ErrorCode, kerr.InvalidRequest)
	c.ticks(3)
	if c.topic(1, "a") == nil {
		t.Errorf("topic a was deleted by an entry that also named topic b's id")
	}
	req = deleteReq(6)
	req.Topics = append(req.Topics, kmsg.DeleteTopicsRequestTopic{})
	resp = c.do(1, req).(*kmsg.DeleteTopicsResponse)
	checkCode(t, "neither name nor id", resp.Topics[0].ErrorCode, kerr.InvalidRequest)
}

// Kafka (ConfigHelper.describeConfigs): configuration_keys null OR EMPTY
// describes every config.
func TestDescribeConfigsEmptyNames(t *testing.T) {
	c, _ := oneBroker(t)
	req := describeConfigsReq(false, kmsg.ConfigResourceTypeTopic, "t")
	req.Resources[0].ConfigNames = []string{}
	resp := c.do(1, req).(*kmsg.DescribeConfigsResponse)
	if n := len(resp.Resources[0].Configs); n == 0 {
		t.Errorf("topic: empty config_names described %d configs, want all", n)
	}
	req = describeConfigsReq(false, kmsg.ConfigResourceTypeBroker, "1")
	req.Resources[0].ConfigNames = []string{}
	resp = c.do(1, req).(*kmsg.DescribeConfigsResponse)
	if n := len(resp.Resources[0].Configs); n == 0 {
		t.Errorf("broker: empty config_names described %d configs, want all", n)
	}
}

// Kafka (ReplicationControlManager.computeConfigChanges): a creation config
// with a null value is INVALID_CONFIG "Null value not supported for topic
// configs".
func TestCreateTopicsNullConfig(t *testing.T) {
	c := newCluster(t, 47, 1)
	req := createReq(7, false, createSpec{name: "n", partitions: 1, rf: 1})
	req.Topics[0].Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "retention.ms", Value: nil}}
	resp := c.do(1, req).(*kmsg.CreateTopicsResponse)
	checkCode(t, "null config value", resp.Topics[0].ErrorCode, kerr.InvalidConfig)
}

// Kafka (ReplicationControlManager.createTopic): the v5+ response lists the
// topic's effective configs (computeEffectiveTopicConfigs), defaults included.
func TestCreateTopicsResponseConfigs(t *testing.T) {
	c := newCluster(t, 53, 1)
	resp := c.do(1, createReq(7, false, createSpec{name: "x", partitions: 1, rf: 1, configs: []string{"retention.ms", "1000"}})).(*kmsg.CreateTopicsResponse)
	rt := resp.Topics[0]
	checkCode(t, "create", rt.ErrorCode, nil)
	got := map[string]int8{}
	for _, cfg := range rt.Configs {
		got[cfg.Name] = int8(cfg.Source)
	}
	if _, ok := got["max.message.bytes"]; !ok || len(got) < len(topicConfigDefs) {
		t.Errorf("response configs %v: only the overrides, not the effective configs", got)
	}
}

// Two CreatePartitions of one topic handled back to back by the controller
// both apply, in turn (2 -> 3, then 3 -> 4), as in Kafka: the second,
// computed from 2 partitions, is proposed again from 3 (found by review:
// it never applied, and timed out).
func TestCreatePartitionsBackToBack(t *testing.T) {
	c := newCluster(t, 59, 1)
	c.createTopic("t", 2, 1, nil)
	k1 := c.handle(1, createPartitionsReq(false, "t", 3, nil))
	k2 := c.handle(1, createPartitionsReq(false, "t", 4, nil))
	r1 := c.await(k1, 100).Msg.(*kmsg.CreatePartitionsResponse)
	r2 := c.await(k2, 100).Msg.(*kmsg.CreatePartitionsResponse)
	checkCode(t, "2 -> 3", r1.Topics[0].ErrorCode, nil)
	checkCode(t, "-> 4", r2.Topics[0].ErrorCode, nil)
	if n := len(c.topic(1, "t").Replicas); n != 4 {
		t.Errorf("topic has %d partitions, want 4", n)
	}
}

// Kafka parses LIST configs splitting on \s*,\s* (ConfigDef.parseType), so
// cleanup.policy "compact, delete" is valid.
func TestCleanupPolicyList(t *testing.T) {
	c := newCluster(t, 61, 1)
	resp := c.do(1, createReq(7, false, createSpec{name: "cp", partitions: 1, rf: 1, configs: []string{"cleanup.policy", "compact, delete"}})).(*kmsg.CreateTopicsResponse)
	checkCode(t, "cleanup.policy=compact, delete", resp.Topics[0].ErrorCode, nil)
}

// Kafka (KafkaApis.handleTopicMetadataRequest, AuthHelper.authorizedOperations):
// when include_topic_authorized_operations is set and no authorizer is
// configured, every supported operation is reported (READ, WRITE, CREATE,
// DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS), not
// Int.MinValue ("not requested").
func TestMetadataAuthorizedOps(t *testing.T) {
	c, _ := oneBroker(t)
	req := metadataReq(12, false, "t")
	req.IncludeTopicAuthorizedOperations = true
	resp := c.do(1, req).(*kmsg.MetadataResponse)
	want := int32(0)
	for _, op := range []uint{3, 4, 5, 6, 7, 8, 10, 11} {
		want |= 1 << op
	}
	if got := resp.Topics[0].AuthorizedOperations; got != want {
		t.Errorf("topic authorized operations %d, want %d", got, want)
	}
}

// A CreatePartitions whose command applied, with another applying after it
// before the answer is looked at, is answered success (found by a second
// review: it saw only the final count and answered INVALID_PARTITIONS).
func TestCreatePartitionsAppliedThenOvertaken(t *testing.T) {
	c := newCluster(t, 59, 1)
	c.createTopic("t", 2, 1, nil)
	k1 := c.handle(1, createPartitionsReq(false, "t", 3, nil))
	nd := c.nodes[1]
	tp := nd.topics.byName["t"]
	nd.proposeMeta(command{Op: "add_partitions", Topic: topicInfo{Name: "t", ID: tp.ID, Replicas: [][]int32{{1}}}, From: 3}, true)
	r1 := c.await(k1, 100).Msg.(*kmsg.CreatePartitionsResponse)
	checkCode(t, "2 -> 3, then 3 -> 4 in the same turn", r1.Topics[0].ErrorCode, nil)
	if n := len(c.topic(1, "t").Replicas); n != 4 {
		t.Errorf("topic has %d partitions, want 4", n)
	}
}
