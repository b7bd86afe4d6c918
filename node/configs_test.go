package node

// Config APIs (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs) and
// DescribeCluster, DescribeLogDirs over the deterministic harness.

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeConfigsReq(synonyms bool, typ kmsg.ConfigResourceType, name string, names ...string) *kmsg.DescribeConfigsRequest {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version, req.IncludeSynonyms, req.IncludeDocumentation = 4, synonyms, true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, name, names
	req.Resources = append(req.Resources, rr)
	return req
}

// describeTopic returns topic's configs as broker id describes them, by name.
func (c *cluster) describeConfigs(id int32, topic string) map[string]kmsg.DescribeConfigsResponseResourceConfig {
	c.t.Helper()
	resp := c.do(id, describeConfigsReq(true, kmsg.ConfigResourceTypeTopic, topic)).(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
		c.t.Fatalf("describe %s on broker %d: %+v", topic, id, resp.Resources)
	}
	out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, cfg := range resp.Resources[0].Configs {
		out[cfg.Name] = cfg
	}
	return out
}

// incOp is one config operation of an IncrementalAlterConfigs resource;
// value "<nil>" is a null value.
type incOp struct {
	name  string
	op    kmsg.IncrementalAlterConfigOp
	value string
}

func incAlterReq(validateOnly bool, typ kmsg.ConfigResourceType, name string, ops ...incOp) *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Version, req.ValidateOnly = 1, validateOnly
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	for _, o := range ops {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op = o.name, o.op
		if o.value != "<nil>" {
			c.Value = kmsg.StringPtr(o.value)
		}
		rr.Configs = append(rr.Configs, c)
	}
	req.Resources = append(req.Resources, rr)
	return req
}

func set(name, value string) incOp { return incOp{name, kmsg.IncrementalAlterConfigOpSet, value} }
func del(name string) incOp        { return incOp{name, kmsg.IncrementalAlterConfigOpDelete, "<nil>"} }

// incAlter sends one topic resource to broker id and returns its outcome.
func (c *cluster) incAlter(id int32, validateOnly bool, topic string, ops ...incOp) kmsg.IncrementalAlterConfigsResponseResource {
	c.t.Helper()
	resp := c.do(id, incAlterReq(validateOnly, kmsg.ConfigResourceTypeTopic, topic, ops...)).(*kmsg.IncrementalAlterConfigsResponse)
	if len(resp.Resources) != 1 {
		c.t.Fatalf("%d resources answered", len(resp.Resources))
	}
	return resp.Resources[0]
}

// configsEverywhere fails unless every live broker holds topic's overrides
// as want (name, value, name, value, ...).
func (c *cluster) configsEverywhere(topic string, want ...string) {
	c.t.Helper()
	c.settle()
	var w [][2]string
	for i := 0; i+1 < len(want); i += 2 {
		w = append(w, [2]string{want[i], want[i+1]})
	}
	for _, id := range c.ids {
		if c.down[id] {
			continue
		}
		if got := c.topic(id, topic).Configs; !slices.Equal(got, w) {
			c.t.Errorf("broker %d: %s configs %v, want %v", id, topic, got, w)
		}
	}
}

func TestDescribeConfigsTopic(t *testing.T) {
	c := newCluster(t, 61, 3, func(cfg *Config) { cfg.Defaults.MaxMessageBytes = 2 << 20 })
	c.createTopic("d", 1, 3, nil, "retention.ms", "1000", "min.insync.replicas", "3")
	c.createTopic("one", 1, 1, nil)
	other := c.controller()%3 + 1
	got := c.describeConfigs(other, "d")
	if len(got) != len(topicConfigDefs) {
		t.Errorf("%d configs described, want %d", len(got), len(topicConfigDefs))
	}
	for _, tc := range []struct {
		name, value string
		source      kmsg.ConfigSource
		isDefault   bool
		synonyms    []string // name:source
	}{
		{"retention.ms", "1000", kmsg.ConfigSourceDynamicTopicConfig, false, []string{"retention.ms:1", "log.retention.ms:5"}},
		{"min.insync.replicas", "3", kmsg.ConfigSourceDynamicTopicConfig, false, []string{"min.insync.replicas:1", "min.insync.replicas:5"}},
		{"max.message.bytes", "2097152", kmsg.ConfigSourceStaticBrokerConfig, false, []string{"message.max.bytes:4"}},
		{"cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig, true, []string{"log.cleanup.policy:5"}},
		{"flush.messages", "1", kmsg.ConfigSourceDefaultConfig, true, []string{"log.flush.interval.messages:5"}},
		{"segment.bytes", "1048576", kmsg.ConfigSourceStaticBrokerConfig, false, []string{"log.segment.bytes:4"}},
	} {
		cfg, ok := got[tc.name]
		if !ok {
			t.Errorf("%s not described", tc.name)
			continue
		}
		var syn []string
		for _, s := range cfg.ConfigSynonyms {
			syn = append(syn, fmt.Sprintf("%s:%d", s.Name, s.Source))
		}
		if *cfg.Value != tc.value || cfg.Source != tc.source || cfg.IsDefault != tc.isDefault || cfg.ReadOnly ||
			!slices.Equal(syn, tc.synonyms) || cfg.Documentation != nil || cfg.ConfigType == 0 {
			t.Errorf("%s: value %s source %d default %v read-only %v synonyms %v doc %v type %d, want %s %d %v %v",
				tc.name, *cfg.Value, cfg.Source, cfg.IsDefault, cfg.ReadOnly, syn, cfg.Documentation, cfg.ConfigType,
				tc.value, tc.source, tc.isDefault, tc.synonyms)
		}
	}
	// The default min.insync.replicas is capped at the replication factor.
	if v := *c.describeConfigs(1, "one")["min.insync.replicas"].Value; v != "1" {
		t.Errorf("min.insync.replicas of an RF 1 topic described as %s", v)
	}
	// Named configs only; unknown names are left out; no synonyms unless asked.
	resp := c.do(1, describeConfigsReq(false, kmsg.ConfigResourceTypeTopic, "d", "retention.ms", "no.such")).(*kmsg.DescribeConfigsResponse)
	if cfgs := resp.Resources[0].Configs; len(cfgs) != 1 || cfgs[0].Name != "retention.ms" || len(cfgs[0].ConfigSynonyms) != 0 {
		t.Errorf("named configs: %+v", cfgs)
	}
	for _, tc := range []struct {
		name string
		want *kerr.Error
	}{{"nope", kerr.UnknownTopicOrPartition}, {"a b", kerr.InvalidTopicException}} {
		resp := c.do(1, describeConfigsReq(false, kmsg.ConfigResourceTypeTopic, tc.name)).(*kmsg.DescribeConfigsResponse)
		checkCode(t, "describe "+tc.name, resp.Resources[0].ErrorCode, tc.want)
	}
	// The oldest served version (no config types, no documentation).
	req := describeConfigsReq(true, kmsg.ConfigResourceTypeTopic, "d")
	req.Version = 1
	if resp := c.do(1, req).(*kmsg.DescribeConfigsResponse); resp.Resources[0].ErrorCode != 0 || len(resp.Resources[0].Configs) != len(topicConfigDefs) {
		t.Errorf("v1: %+v", resp.Resources[0])
	}
}

func TestDescribeConfigsBroker(t *testing.T) {
	c := newCluster(t, 62, 2, func(cfg *Config) { cfg.Defaults.Partitions = 4 })
	for _, tc := range []struct {
		what string
		typ  kmsg.ConfigResourceType
		name string
		want *kerr.Error
	}{
		{"self", kmsg.ConfigResourceTypeBroker, "2", nil},
		{"cluster defaults", kmsg.ConfigResourceTypeBroker, "", nil},
		{"another broker", kmsg.ConfigResourceTypeBroker, "1", kerr.InvalidRequest},
		{"not a number", kmsg.ConfigResourceTypeBroker, "x", kerr.InvalidRequest},
		{"broker logger", kmsg.ConfigResourceTypeBrokerLogger, "2", kerr.InvalidRequest},
	} {
		resp := c.do(2, describeConfigsReq(true, tc.typ, tc.name)).(*kmsg.DescribeConfigsResponse)
		rr := resp.Resources[0]
		checkCode(t, tc.what, rr.ErrorCode, tc.want)
		switch tc.what {
		case "self":
			got := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
			for _, cfg := range rr.Configs {
				got[cfg.Name] = cfg
				if !cfg.ReadOnly {
					t.Errorf("%s is not read-only", cfg.Name)
				}
			}
			if cfg := got["num.partitions"]; *cfg.Value != "4" || cfg.Source != kmsg.ConfigSourceStaticBrokerConfig {
				t.Errorf("num.partitions %s source %d", *cfg.Value, cfg.Source)
			}
			if cfg := got["broker.id"]; *cfg.Value != "2" {
				t.Errorf("broker.id %s", *cfg.Value)
			}
			if cfg := got["min.insync.replicas"]; *cfg.Value != "2" || cfg.Source != kmsg.ConfigSourceDefaultConfig || !cfg.IsDefault {
				t.Errorf("min.insync.replicas %s source %d", *cfg.Value, cfg.Source)
			}
			if cfg := got["message.max.bytes"]; *cfg.Value != "1048576" {
				t.Errorf("message.max.bytes %s", *cfg.Value)
			}
		case "cluster defaults":
			if len(rr.Configs) != 0 {
				t.Errorf("cluster-wide dynamic defaults: %+v", rr.Configs)
			}
		}
	}
}

func TestIncrementalAlterConfigs(t *testing.T) {
	c := newCluster(t, 63, 3)
	c.createTopic("a", 1, 2, nil, "retention.ms", "1000")
	ctl := c.controller()
	other := ctl%3 + 1
	for _, tc := range []struct {
		what string
		ops  []incOp
		want *kerr.Error
	}{
		{"unknown config", []incOp{set("no.such.config", "1")}, kerr.InvalidConfig},
		{"not a number", []incOp{set("retention.ms", "soon")}, kerr.InvalidConfig},
		{"min.insync.replicas zero", []incOp{set("min.insync.replicas", "0")}, kerr.InvalidConfig},
		{"value not allowed", []incOp{set("message.timestamp.type", "WallTime")}, kerr.InvalidConfig},
		{"bad value after a good one", []incOp{set("retention.bytes", "5"), set("segment.bytes", "1")}, kerr.InvalidConfig},
		{"null SET", []incOp{set("retention.ms", "<nil>")}, kerr.InvalidRequest},
		{"name twice", []incOp{set("retention.ms", "1"), del("retention.ms")}, kerr.InvalidRequest},
		{"APPEND to a non-list", []incOp{{"retention.ms", kmsg.IncrementalAlterConfigOpAppend, "5"}}, kerr.InvalidConfig},
		{"SUBTRACT to an empty list", []incOp{{"cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, "delete"}}, kerr.InvalidConfig},
		{"APPEND a bad policy", []incOp{{"cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, "shred"}}, kerr.InvalidConfig},
		{"unknown operation", []incOp{{"retention.ms", 9, "1"}}, kerr.InvalidRequest},
	} {
		t.Run(tc.what, func(t *testing.T) {
			for _, to := range []int32{ctl, other} {
				rr := c.incAlter(to, false, "a", tc.ops...)
				checkCode(t, tc.what, rr.ErrorCode, tc.want)
				if rr.ErrorMessage == nil || rr.ResourceName != "a" || rr.ResourceType != kmsg.ConfigResourceTypeTopic {
					t.Errorf("answer %+v", rr)
				}
			}
			c.ticks(3)
			c.configsEverywhere("a", "retention.ms", "1000")
		})
	}
	for _, tc := range []struct {
		what string
		typ  kmsg.ConfigResourceType
		name string
		want *kerr.Error
	}{
		{"unknown topic", kmsg.ConfigResourceTypeTopic, "nope", kerr.UnknownTopicOrPartition},
		{"bad topic name", kmsg.ConfigResourceTypeTopic, "a/b", kerr.InvalidTopicException},
		{"broker resource", kmsg.ConfigResourceTypeBroker, "1", kerr.InvalidRequest},
		{"group resource", kmsg.ConfigResourceType(32), "g", kerr.InvalidRequest},
	} {
		resp := c.do(ctl, incAlterReq(false, tc.typ, tc.name, set("retention.ms", "5"))).(*kmsg.IncrementalAlterConfigsResponse)
		checkCode(t, tc.what, resp.Resources[0].ErrorCode, tc.want)
	}
	// A resource listed twice: both refused.
	req := incAlterReq(false, kmsg.ConfigResourceTypeTopic, "a", set("retention.ms", "5"))
	req.Resources = append(req.Resources, req.Resources[0])
	for _, rr := range c.do(ctl, req).(*kmsg.IncrementalAlterConfigsResponse).Resources {
		checkCode(t, "resource twice", rr.ErrorCode, kerr.InvalidRequest)
	}

	// validate_only checks and stores nothing.
	checkCode(t, "validate only", c.incAlter(other, true, "a", set("retention.ms", "5")).ErrorCode, nil)
	c.ticks(3)
	c.configsEverywhere("a", "retention.ms", "1000")

	// SET and DELETE, on the controller and (forwarded) elsewhere.
	checkCode(t, "set", c.incAlter(ctl, false, "a", set("segment.ms", "60000"), del("retention.ms")).ErrorCode, nil)
	c.configsEverywhere("a", "segment.ms", "60000")
	checkCode(t, "set forwarded", c.incAlter(other, false, "a", set("retention.bytes", "4096")).ErrorCode, nil)
	c.configsEverywhere("a", "retention.bytes", "4096", "segment.ms", "60000")
	// APPEND and SUBTRACT start from the default "delete".
	append_ := incOp{"cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, "compact"}
	checkCode(t, "append", c.incAlter(other, false, "a", append_).ErrorCode, nil)
	c.configsEverywhere("a", "cleanup.policy", "delete,compact", "retention.bytes", "4096", "segment.ms", "60000")
	checkCode(t, "append again", c.incAlter(ctl, false, "a", append_).ErrorCode, nil)
	subtract := incOp{"cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, "delete"}
	checkCode(t, "subtract", c.incAlter(ctl, false, "a", subtract, del("segment.ms"), del("flush.ms")).ErrorCode, nil)
	c.configsEverywhere("a", "cleanup.policy", "compact", "retention.bytes", "4096")
	if cfg := c.describeConfigs(other, "a")["cleanup.policy"]; *cfg.Value != "compact" || cfg.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("described cleanup.policy %s source %d", *cfg.Value, cfg.Source)
	}
	// The configs survive a restart of every broker (replayed from the
	// metadata log).
	for _, id := range c.ids {
		c.restart(id)
	}
	c.waitController()
	c.configsEverywhere("a", "cleanup.policy", "compact", "retention.bytes", "4096")
}

// Two alters of one topic sent to two brokers at once: one applies first,
// the other is recomputed from its configs, and both changes stay.
func TestIncrementalAlterConfigsConcurrent(t *testing.T) {
	c := newCluster(t, 64, 3)
	c.createTopic("a", 1, 3, nil)
	ctl := c.controller()
	other := ctl%3 + 1
	k1 := c.handle(ctl, incAlterReq(false, kmsg.ConfigResourceTypeTopic, "a", set("retention.ms", "1")))
	k2 := c.handle(other, incAlterReq(false, kmsg.ConfigResourceTypeTopic, "a", set("retention.bytes", "2")))
	for _, k := range []reqKey{k1, k2} {
		checkCode(t, "concurrent alter", c.await(k, 50).Msg.(*kmsg.IncrementalAlterConfigsResponse).Resources[0].ErrorCode, nil)
	}
	c.configsEverywhere("a", "retention.bytes", "2", "retention.ms", "1")
	if gen := c.topic(1, "a").configGen; gen != 2 {
		t.Errorf("config generation %d, want 2", gen)
	}
}

func alterReq(validateOnly bool, topic string, kvs ...string) *kmsg.AlterConfigsRequest {
	req := kmsg.NewPtrAlterConfigsRequest()
	req.Version, req.ValidateOnly = 2, validateOnly
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	for i := 0; i+1 < len(kvs); i += 2 {
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name = kvs[i]
		if kvs[i+1] != "<nil>" {
			c.Value = kmsg.StringPtr(kvs[i+1])
		}
		rr.Configs = append(rr.Configs, c)
	}
	req.Resources = append(req.Resources, rr)
	return req
}

func TestAlterConfigs(t *testing.T) {
	c := newCluster(t, 65, 3)
	c.createTopic("a", 1, 3, nil, "retention.ms", "1000", "segment.ms", "5000")
	ctl := c.controller()
	other := ctl%3 + 1
	alter := func(to int32, validateOnly bool, kvs ...string) int16 {
		resp := c.do(to, alterReq(validateOnly, "a", kvs...)).(*kmsg.AlterConfigsResponse)
		return resp.Resources[0].ErrorCode
	}
	for _, tc := range []struct {
		what string
		kvs  []string
		want *kerr.Error
	}{
		{"unknown config", []string{"retention.ms", "5", "no.such", "1"}, kerr.InvalidConfig},
		{"bad value", []string{"retention.ms", "-2"}, kerr.InvalidConfig},
		{"null value", []string{"retention.ms", "<nil>"}, kerr.InvalidRequest},
		{"name twice", []string{"retention.ms", "5", "retention.ms", "6"}, kerr.InvalidRequest},
	} {
		checkCode(t, tc.what, alter(other, false, tc.kvs...), tc.want)
	}
	checkCode(t, "validate only", alter(ctl, true, "flush.ms", "10"), nil)
	c.ticks(3)
	c.configsEverywhere("a", "retention.ms", "1000", "segment.ms", "5000")
	// The request's set replaces the topic's: segment.ms returns to its
	// default.
	checkCode(t, "replace", alter(other, false, "flush.ms", "10", "retention.ms", "2000"), nil)
	c.configsEverywhere("a", "flush.ms", "10", "retention.ms", "2000")
	if cfg := c.describeConfigs(ctl, "a")["segment.ms"]; cfg.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("segment.ms source %d after it was left out", cfg.Source)
	}
	checkCode(t, "clear", alter(ctl, false), nil)
	c.configsEverywhere("a")
	// The oldest version.
	req := alterReq(false, "a", "retention.bytes", "1")
	req.Version = 0
	checkCode(t, "v0", c.do(ctl, req).(*kmsg.AlterConfigsResponse).Resources[0].ErrorCode, nil)
	c.configsEverywhere("a", "retention.bytes", "1")
}

// Enforced configs take effect on the open replicas when altered:
// min.insync.replicas above the live ISR refuses acks=all, a lowered
// max.message.bytes refuses larger batches, LogAppendTime stamps the
// broker's clock; after a restart they still hold.
func TestAlterConfigsEnforced(t *testing.T) {
	c := newCluster(t, 66, 3)
	tp := c.createTopic("e", 1, 3, nil)
	leader := c.leaderOf("e", 0)
	c.mustProduce(leader, "e", 0, makeBatch(1, "x", 1000))

	checkCode(t, "raise min.insync.replicas", c.incAlter(leader, false, "e", set("min.insync.replicas", "3")).ErrorCode, nil)
	c.settle()
	c.mustProduce(leader, "e", 0, makeBatch(1, "x", 1000)) // all three in sync
	var down int32
	for _, r := range tp.Replicas[0] {
		if r != leader && r != c.controller() {
			down = r
		}
	}
	if down == 0 {
		for _, r := range tp.Replicas[0] {
			if r != leader {
				down = r
			}
		}
	}
	c.stop(down)
	var code int16
	for range 600 {
		if code = c.produce(leader, "e", 0, makeBatch(1, "x", 1000)).ErrorCode; code == kerr.NotEnoughReplicas.Code {
			break
		}
		c.ticks(10)
	}
	checkCode(t, "acks=all with min.insync.replicas 3 and a replica down", code, kerr.NotEnoughReplicas)
	checkCode(t, "lower min.insync.replicas", c.incAlter(leader, false, "e", set("min.insync.replicas", "2")).ErrorCode, nil)
	c.settle()
	c.mustProduce(leader, "e", 0, makeBatch(1, "x", 1000))
	c.start(down)

	big := makeBatch(50, "0123456789", 1000)
	checkCode(t, "lower max.message.bytes", c.incAlter(leader, false, "e",
		set("max.message.bytes", fmt.Sprint(len(big)-1)), set("message.timestamp.type", "LogAppendTime")).ErrorCode, nil)
	c.settle()
	checkCode(t, "a batch above max.message.bytes", c.produce(leader, "e", 0, big).ErrorCode, kerr.MessageTooLarge)
	if op := c.produce(leader, "e", 0, makeBatch(1, "x", 1000)); op.ErrorCode != 0 || op.LogAppendTime != c.nowMs {
		t.Errorf("produce with LogAppendTime: error %d log append time %d, want %d", op.ErrorCode, op.LogAppendTime, c.nowMs)
	}
	for _, id := range c.ids {
		c.restart(id)
	}
	c.waitController()
	for range 100 {
		if c.topicReady("e") {
			break
		}
		c.tick()
	}
	leader = c.leaderOf("e", 0)
	checkCode(t, "a batch above max.message.bytes after a restart", c.produce(leader, "e", 0, big).ErrorCode, kerr.MessageTooLarge)
}

func TestDescribeCluster(t *testing.T) {
	c := newCluster(t, 67, 3)
	for v := int16(0); v <= 2; v++ {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = v
		resp := c.do(2, req).(*kmsg.DescribeClusterResponse)
		checkCode(t, "describe cluster", resp.ErrorCode, nil)
		if resp.ClusterID != "sluice-test-cluster" || resp.ControllerID != c.controller() || len(resp.Brokers) != 3 ||
			resp.Brokers[2].NodeID != 3 || resp.Brokers[2].Host != "broker3.test" || resp.Brokers[2].Port != 9093 {
			t.Errorf("v%d: %+v", v, resp)
		}
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	req.Version, req.EndpointType = 1, 3
	checkCode(t, "endpoint type 3", c.do(1, req).(*kmsg.DescribeClusterResponse).ErrorCode, kerr.UnsupportedEndpointType)
}

func TestDescribeLogDirs(t *testing.T) {
	c := newCluster(t, 68, 2)
	c.createTopic("x", 2, 2, nil)
	c.createTopic("y", 1, 1, [][]int32{{2}})
	c.mustProduce(c.leaderOf("x", 1), "x", 1, makeBatch(10, "0123456789", 1000))
	c.settle()
	describe := func(id int32, topics ...kmsg.DescribeLogDirsRequestTopic) map[string]int64 {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.Version, req.Topics = 4, topics
		resp := c.do(id, req).(*kmsg.DescribeLogDirsResponse)
		if len(resp.Dirs) != 1 || resp.Dirs[0].Dir != "data" || resp.Dirs[0].ErrorCode != 0 {
			t.Fatalf("dirs %+v", resp.Dirs)
		}
		out := map[string]int64{}
		for _, rt := range resp.Dirs[0].Topics {
			for _, p := range rt.Partitions {
				out[fmt.Sprintf("%s/%d", rt.Topic, p.Partition)] = p.Size
			}
		}
		return out
	}
	all := describe(1)
	if len(all) != 2 || all["x/1"] <= all["x/0"] || all["x/0"] <= 0 {
		t.Errorf("broker 1: %v", all)
	}
	if got := describe(2); len(got) != 3 || got["y/0"] <= 0 {
		t.Errorf("broker 2: %v", got)
	}
	some := describe(2, kmsg.DescribeLogDirsRequestTopic{Topic: "x", Partitions: []int32{1, 7}}, kmsg.DescribeLogDirsRequestTopic{Topic: "nope", Partitions: []int32{0}})
	if len(some) != 1 || some["x/1"] <= 0 {
		t.Errorf("broker 2, x/1 asked for: %v", some)
	}
}
