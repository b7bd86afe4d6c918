package runtime_test

// Topic configs through kadm against an in-process cluster: create with
// configs, describe, alter incrementally and wholesale, a bad value
// refused and not stored, enforced configs in effect (max.message.bytes,
// message.timestamp.type), everything kept across a restart of the whole
// cluster; DescribeCluster and DescribeLogDirs.

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node/runtime"
)

// topicConfigs describes topic's configs and returns those the topic sets
// itself (source DYNAMIC_TOPIC_CONFIG) and every value.
func topicConfigs(t *testing.T, adm *kadm.Client, topic string) (own, all map[string]string) {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatalf("DescribeTopicConfigs: %v", err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		t.Fatalf("DescribeTopicConfigs %s: %v", topic, err)
	}
	own, all = map[string]string{}, map[string]string{}
	for _, c := range rc.Configs {
		all[c.Key] = c.MaybeValue()
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			own[c.Key] = c.MaybeValue()
		}
	}
	return own, all
}

// waitConfigs waits until every broker describes the topic's own configs
// as want. An alter is answered once the broker that took it has applied
// it; each other broker applies it from its own metadata replica a little
// later, and a partition's leader enforces the configs it has applied (as
// a Kafka broker applies metadata records after the controller commits
// them). A describe answered by any one broker does not show that.
func waitConfigs(t *testing.T, c *runtime.Cluster, topic string, want map[string]string) {
	t.Helper()
	cl := newClient(t, c)
	for id := int32(1); id <= int32(len(c.Bootstrap())); id++ {
		var got map[string]string
		waitFor(t, 10*time.Second, fmt.Sprintf("configs of %s on broker %d", topic, id), func() bool {
			got = ownConfigsOn(t, cl, id, topic)
			return maps.Equal(got, want)
		})
	}
}

// ownConfigsOn describes topic's configs on broker id alone and returns
// those the topic sets itself, or nil if the broker did not answer.
func ownConfigsOn(t *testing.T, cl *kgo.Client, id int32, topic string) map[string]string {
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(testCtx(t, 5*time.Second), cl.Broker(int(id)))
	if err != nil || len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
		return nil
	}
	own := map[string]string{}
	for _, cf := range resp.Resources[0].Configs {
		if cf.Source == kmsg.ConfigSourceDynamicTopicConfig && cf.Value != nil {
			own[cf.Name] = *cf.Value
		}
	}
	return own
}

func TestE2EConfigs(t *testing.T) {
	const topic = "e2e-configs"
	c := startCluster(t, 3)
	adm := newAdmin(t, c)
	ctx := testCtx(t, 60*time.Second)
	createTopicWith(t, adm, topic, 1, 3, map[string]*string{
		"retention.ms": kadm.StringPtr("3600000"), "cleanup.policy": kadm.StringPtr("delete"),
	})
	own, all := topicConfigs(t, adm, topic)
	if !maps.Equal(own, map[string]string{"retention.ms": "3600000", "cleanup.policy": "delete"}) {
		t.Errorf("own configs after create: %v", own)
	}
	if all["min.insync.replicas"] != "2" || all["max.message.bytes"] != "1048576" || all["message.timestamp.type"] != "CreateTime" {
		t.Errorf("defaults: %v", all)
	}

	// Incremental: set, delete, append.
	alter := func(what string, cfgs ...kadm.AlterConfig) error {
		t.Helper()
		rs, err := adm.AlterTopicConfigs(ctx, cfgs, topic)
		if err != nil {
			t.Fatalf("%s: AlterTopicConfigs: %v", what, err)
		}
		r, err := rs.On(topic, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return r.Err
	}
	if err := alter("set", kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.bytes", Value: kadm.StringPtr("1073741824")},
		kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"},
		kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")}); err != nil {
		t.Fatalf("alter: %v", err)
	}
	want := map[string]string{"retention.bytes": "1073741824", "cleanup.policy": "delete,compact"}
	waitConfigs(t, c, topic, want)

	// A bad value is refused and nothing of that alter is stored.
	err := alter("bad", kadm.AlterConfig{Op: kadm.SetConfig, Name: "segment.ms", Value: kadm.StringPtr("60000")},
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("lots")})
	if !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("a bad max.message.bytes: %v, want INVALID_CONFIG", err)
	}
	// validate_only stores nothing either.
	if rs, err := adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "flush.ms", Value: kadm.StringPtr("5")}}, topic); err != nil || rs[0].Err != nil {
		t.Fatalf("validate only: %v %+v", err, rs)
	}
	time.Sleep(200 * time.Millisecond)
	if own, _ := topicConfigs(t, adm, topic); !maps.Equal(own, want) {
		t.Fatalf("configs after a refused and a validate-only alter: %v, want %v", own, want)
	}

	// Enforced: a record above max.message.bytes is refused; LogAppendTime
	// stamps the broker's clock.
	if err := alter("enforced", kadm.AlterConfig{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("2000")},
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "message.timestamp.type", Value: kadm.StringPtr("LogAppendTime")}); err != nil {
		t.Fatalf("alter enforced configs: %v", err)
	}
	want["max.message.bytes"], want["message.timestamp.type"] = "2000", "LogAppendTime"
	waitConfigs(t, c, topic, want)
	checkEnforced := func(what string) {
		t.Helper()
		prod := newProducer(t, c, kgo.ProducerBatchCompression(kgo.NoCompression()))
		defer prod.Close()
		big := &kgo.Record{Topic: topic, Value: bytes.Repeat([]byte("x"), 4000)}
		if err := prod.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
			t.Errorf("%s: a 4000-byte record with max.message.bytes 2000: %v, want MESSAGE_TOO_LARGE", what, err)
		}
		old := time.Unix(1_000_000, 0)
		// Keyed: cleanup.policy includes compact by now.
		r, err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("small"), Timestamp: old}).First()
		if err != nil {
			t.Fatalf("%s: a small record: %v", what, err)
		}
		cons := newClient(t, c, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(r.Offset)}}))
		defer cons.Close()
		fs := cons.PollRecords(ctx, 1)
		if err := fs.Err0(); err != nil {
			t.Fatalf("%s: consume: %v", what, err)
		}
		got := fs.Records()
		if len(got) == 0 || got[0].Offset != r.Offset || got[0].Attrs.TimestampType() != 1 ||
			got[0].Timestamp.Equal(old) || time.Since(got[0].Timestamp) > time.Minute {
			t.Errorf("%s: LogAppendTime record read back as %+v", what, got)
		}
	}
	checkEnforced("after the alter")

	// The legacy AlterConfigs replaces the whole set.
	rs, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kadm.StringPtr("2000")},
		{Name: "message.timestamp.type", Value: kadm.StringPtr("LogAppendTime")}, {Name: "retention.bytes", Value: kadm.StringPtr("5")}}, topic)
	if err != nil || rs[0].Err != nil {
		t.Fatalf("AlterTopicConfigsState: %v %+v", err, rs)
	}
	want = map[string]string{"max.message.bytes": "2000", "message.timestamp.type": "LogAppendTime", "retention.bytes": "5"}
	waitConfigs(t, c, topic, want)

	// Everything holds across a restart of the whole cluster.
	c.Stop()
	for id := int32(1); id <= 3; id++ {
		if err := c.RestartBroker(id); err != nil {
			t.Fatalf("RestartBroker(%d): %v", id, err)
		}
	}
	if err := c.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	adm = newAdmin(t, c)
	waitLeaders(t, adm, topic, 1)
	waitConfigs(t, c, topic, want)
	checkEnforced("after a restart")

	// DescribeCluster and DescribeLogDirs.
	cl := newClient(t, c)
	dc := kmsg.NewPtrDescribeClusterRequest()
	dresp, err := dc.RequestWith(ctx, cl)
	if err != nil || dresp.ErrorCode != 0 {
		t.Fatalf("DescribeCluster: %v %+v", err, dresp)
	}
	if dresp.ClusterID != c.ClusterID() || len(dresp.Brokers) != 3 || dresp.ControllerID < 1 {
		t.Errorf("DescribeCluster: %+v", dresp)
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatalf("DescribeAllLogDirs: %v", err)
	}
	brokers := 0
	dirs.Each(func(d kadm.DescribedLogDir) {
		brokers++
		if d.Err != nil || d.Dir == "" {
			t.Errorf("broker %d: dir %q err %v", d.Broker, d.Dir, d.Err)
		}
		p, ok := d.Topics[topic][0]
		if !ok || p.Size <= 0 {
			t.Errorf("broker %d: %s/0 %+v", d.Broker, topic, p)
		}
	})
	if brokers != 3 {
		t.Errorf("%d brokers described their log dirs", brokers)
	}
	bc, err := adm.DescribeBrokerConfigs(ctx, 2)
	if err != nil || len(bc) != 1 || bc[0].Err != nil {
		t.Fatalf("DescribeBrokerConfigs: %v %+v", err, bc)
	}
	if !slices.ContainsFunc(bc[0].Configs, func(c kadm.Config) bool { return c.Key == "broker.id" && c.MaybeValue() == "2" }) {
		t.Errorf("broker 2 configs: %+v", bc[0].Configs)
	}
}
