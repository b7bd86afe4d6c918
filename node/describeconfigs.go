package node

// DescribeConfigs (key 32), v1–v4.
//
// Any broker answers, from its copy of the replicated topic table (a
// change another broker just acknowledged may reach it a moment later).
//
// Topics: every config of the catalog in configs.go (or those the request
// names; unknown names are left out, as in Kafka), with its source: the
// topic's own value is DYNAMIC_TOPIC_CONFIG; otherwise the broker default,
// STATIC_BROKER_CONFIG when this broker's configuration set it
// (node.TopicDefaults, the segment size) and DEFAULT_CONFIG when it is
// sluice's built-in default. Synonyms, when asked for, list the topic value
// and then the broker config that supplies the default, under Kafka's broker
// name (message.max.bytes for max.message.bytes, ...). Documentation is
// always null; config types are Kafka's (v3+).
//
// Enforced: min.insync.replicas, max.message.bytes, message.timestamp.type,
// segment.bytes, retention.ms and retention.bytes (with cleanup.policy
// delete), flush.messages, flush.ms (relaxed only when flush.messages > 1
// and flush.ms > 0; see configs.go). Stored only (described, no effect
// yet): cleanup.policy compact, segment.ms, compression.type. Defaults
// that differ from Kafka's: min.insync.replicas 2 (capped at the
// replication factor; Kafka 1), max.message.bytes 1 MiB (Kafka 1048588),
// segment.bytes 64 MiB (Kafka 1 GiB), flush.messages 1 and flush.ms 0
// (sluice syncs before acknowledging; Kafka never fsyncs by default).
// Topic configs Kafka has and sluice does not accept are not listed.
//
// Brokers: the resource naming this broker lists its static configuration
// (broker.id, log.dirs, num.partitions, default.replication.factor,
// auto.create.topics.enable and the broker synonyms of the topic configs),
// every one read-only: sluice has no dynamic broker configs, so the
// cluster-wide default resource (empty name) lists nothing. Another
// broker's id is INVALID_REQUEST (kgo sends each broker resource to its
// broker). Broker loggers and other resource types are INVALID_REQUEST.

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleDescribeConfigs(req *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		or := kmsg.NewDescribeConfigsResponseResource()
		or.ResourceType, or.ResourceName = rr.ResourceType, rr.ResourceName
		// No names, null or empty, is every config (Kafka's ConfigHelper).
		wanted := func(name string) bool { return len(rr.ConfigNames) == 0 || slices.Contains(rr.ConfigNames, name) }
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := n.topics.byName[rr.ResourceName]
			switch {
			case validTopicName(rr.ResourceName) != nil:
				or.ErrorCode = kerr.InvalidTopicException.Code
			case t == nil:
				or.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				for i := range topicConfigDefs {
					if d := &topicConfigDefs[i]; wanted(d.name) {
						or.Configs = append(or.Configs, n.describeTopicConfig(t, d, req.IncludeSynonyms))
					}
				}
			}
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName == "" {
				break // no dynamic cluster-wide defaults
			}
			if id, err := strconv.ParseInt(rr.ResourceName, 10, 32); err != nil || int32(id) != n.cfg.ID {
				or.ErrorCode = kerr.InvalidRequest.Code
				or.ErrorMessage = kmsg.StringPtr("unexpected broker id " + strconv.Quote(rr.ResourceName) + ": this is broker " + strconv.Itoa(int(n.cfg.ID)))
				break
			}
			for _, bc := range n.brokerConfigs() {
				if wanted(bc.name) {
					or.Configs = append(or.Configs, describeBrokerConfig(bc, req.IncludeSynonyms))
				}
			}
		default:
			or.ErrorCode = kerr.InvalidRequest.Code
			or.ErrorMessage = kmsg.StringPtr("sluice describes topic and broker configs only")
		}
		resp.Resources = append(resp.Resources, or)
	}
	return resp
}

func describeBrokerConfig(bc brokerConfig, synonyms bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.ConfigType, c.ReadOnly = bc.name, kmsg.StringPtr(bc.value), bc.typ, true
	c.Source, c.IsDefault = kmsg.ConfigSourceDefaultConfig, true
	if bc.static {
		c.Source, c.IsDefault = kmsg.ConfigSourceStaticBrokerConfig, false
	}
	if synonyms {
		c.ConfigSynonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{{Name: bc.name, Value: kmsg.StringPtr(bc.value), Source: c.Source}}
	}
	return c
}
