package node

// Topic configs (issue 8): the catalog of the configs sluice accepts, with
// Kafka's names, validators, sluice's defaults and their broker synonyms;
// and what AlterConfigs and IncrementalAlterConfigs share.
//
// Enforced today (resolveConfigs, then partition.Config or SetTopicConfig
// and SetFlushPolicy): min.insync.replicas, max.message.bytes,
// message.timestamp.type, segment.bytes (the size at which a replica's
// active segment is sealed, from the next append on when altered),
// retention.ms and retention.bytes when cleanup.policy includes delete
// (retention.go; retention.ms defaults to Kafka's 7 days),
// flush.messages and flush.ms. The flush policy is
// relaxed only when flush.messages > 1 and flush.ms > 0 (the defaults, 1
// and 0, sync before every acknowledgement): then a write is reported done
// once written, before fsync, and entries are synced every flush.messages
// entries or flush.ms milliseconds, whichever comes first; raft's term and
// vote are still synced before a vote is answered (DESIGN.md step 7,
// partition/flush.go). An acknowledgement then means "written on enough
// replicas": a power loss of a majority loses unsynced ones. Stored only —
// validated, kept in the metadata log, returned by DescribeConfigs, with
// no effect yet: cleanup.policy compact (nothing is compacted yet; a
// compact-only topic keeps everything), segment.ms (segments roll by size only),
// compression.type (batches are kept as
// producers compressed them: "producer").
//
// A change of a topic's configs is one metadata command, "alter_configs",
// carrying the topic's whole new set of overrides and the config
// generation it was computed from (the number of alters applied to the
// topic): it applies only at that generation, identically on every broker,
// so a command proposed twice applies once and two concurrent alters never
// interleave. Any broker takes an alter: the controller proposes it, others
// forward it to the controller (KIP-590, as Kafka brokers do; kgo sends
// topic alters to any broker). The answering broker waits until the command
// has applied on itself; an alter that lost a race to another alter of the
// same topic is recomputed from the new configs and proposed again.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/partition"
)

// configDef is one topic config.
type configDef struct {
	name string
	// broker is the broker config that sets its default (Kafka's synonym).
	broker   string
	typ      kmsg.ConfigType
	enforced bool
	// check validates a value for a topic with rf replicas.
	check func(v string, rf int) error
	// def is the default for a topic with rf replicas, and whether this
	// broker's configuration set it (else it is sluice's built-in default).
	def func(n *Node, rf int) (v string, static bool)
}

// Built-in defaults that Config.withDefaults fills in.
const (
	defaultMinInsyncReplicas = 2
	defaultMaxMessageBytes   = 1 << 20
	defaultSegmentBytes      = 64 << 20 // raftlog's
	defaultRetentionMs       = 7 * 24 * 3600 * 1000
)

func constDef(v string) func(*Node, int) (string, bool) {
	return func(*Node, int) (string, bool) { return v, false }
}

// topicConfigDefs is sorted by name.
var topicConfigDefs = []configDef{
	{name: "cleanup.policy", broker: "log.cleanup.policy", typ: kmsg.ConfigTypeList,
		check: func(v string, _ int) error { return listOf(v, "delete", "compact") },
		def:   constDef("delete")},
	{name: "compression.type", broker: "compression.type", typ: kmsg.ConfigTypeString,
		check: func(v string, _ int) error {
			return oneOf(v, "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")
		},
		def: constDef("producer")},
	{name: "flush.messages", broker: "log.flush.interval.messages", typ: kmsg.ConfigTypeLong, enforced: true,
		check: func(v string, _ int) error { return intRange(v, 1, math.MaxInt64) },
		def:   constDef("1")},
	{name: "flush.ms", broker: "log.flush.interval.ms", typ: kmsg.ConfigTypeLong, enforced: true,
		check: func(v string, _ int) error { return intRange(v, 0, math.MaxInt64) },
		def:   constDef("0")},
	{name: "max.message.bytes", broker: "message.max.bytes", typ: kmsg.ConfigTypeInt, enforced: true,
		check: func(v string, _ int) error { return intRange(v, 1, partition.MaxBatchBytes) },
		def: func(n *Node, _ int) (string, bool) {
			d := n.cfg.Defaults.MaxMessageBytes
			return strconv.Itoa(d), d != defaultMaxMessageBytes
		}},
	{name: "message.timestamp.type", broker: "log.message.timestamp.type", typ: kmsg.ConfigTypeString, enforced: true,
		check: func(v string, _ int) error { return oneOf(v, "CreateTime", "LogAppendTime") },
		def:   constDef("CreateTime")},
	{name: "min.insync.replicas", broker: "min.insync.replicas", typ: kmsg.ConfigTypeInt, enforced: true,
		// Above the replica count is allowed, as in Kafka: acks=all is
		// then refused with NOT_ENOUGH_REPLICAS (the default is capped).
		check: func(v string, _ int) error { return intRange(v, 1, math.MaxInt32) },
		def: func(n *Node, rf int) (string, bool) {
			d := n.cfg.Defaults.MinInsyncReplicas
			return strconv.Itoa(min(d, max(rf, 1))), d != defaultMinInsyncReplicas
		}},
	{name: "retention.bytes", broker: "log.retention.bytes", typ: kmsg.ConfigTypeLong, enforced: true,
		check: func(v string, _ int) error { return intRange(v, -1, math.MaxInt64) },
		def: func(n *Node, _ int) (string, bool) {
			d := n.cfg.Defaults.RetentionBytes
			return strconv.FormatInt(d, 10), d != -1
		}},
	{name: "retention.ms", broker: "log.retention.ms", typ: kmsg.ConfigTypeLong, enforced: true,
		check: func(v string, _ int) error { return intRange(v, -1, math.MaxInt64) },
		def: func(n *Node, _ int) (string, bool) {
			d := n.cfg.Defaults.RetentionMs
			return strconv.FormatInt(d, 10), d != defaultRetentionMs
		}},
	{name: "segment.bytes", broker: "log.segment.bytes", typ: kmsg.ConfigTypeInt,
		check: func(v string, _ int) error { return intRange(v, 14, math.MaxInt32) },
		def: func(n *Node, _ int) (string, bool) {
			if s := n.cfg.SegmentBytes; s > 0 {
				return strconv.FormatInt(s, 10), s != defaultSegmentBytes
			}
			return strconv.Itoa(defaultSegmentBytes), false
		}},
	{name: "segment.ms", broker: "log.roll.ms", typ: kmsg.ConfigTypeLong,
		check: func(v string, _ int) error { return intRange(v, 1, math.MaxInt64) },
		def:   constDef("604800000")},
}

func configDefOf(name string) *configDef {
	i, ok := slices.BinarySearchFunc(topicConfigDefs, name, func(d configDef, name string) int { return strings.Compare(d.name, name) })
	if !ok {
		return nil
	}
	return &topicConfigDefs[i]
}

// checkConfig validates one config of a topic with rf replicas.
func checkConfig(name, value string, rf int) error {
	d := configDefOf(name)
	if d == nil {
		return fmt.Errorf("unknown topic config %q", name)
	}
	if err := d.check(value, rf); err != nil {
		return fmt.Errorf("config %s: %v", name, err)
	}
	return nil
}

// override is a topic's own value of a config, if it has one.
func override(cfgs [][2]string, name string) (string, bool) {
	for _, kv := range cfgs {
		if kv[0] == name {
			return kv[1], true
		}
	}
	return "", false
}

// configMap and sortedConfigs convert between a topic's sorted overrides
// and a map.
func configMap(cfgs [][2]string) map[string]string {
	m := make(map[string]string, len(cfgs))
	for _, kv := range cfgs {
		m[kv[0]] = kv[1]
	}
	return m
}

func sortedConfigs(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for k, v := range m { //lint:maporder-ok sorted below
		out = append(out, [2]string{k, v})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// rfOf is a topic's replication factor.
func rfOf(t *topicInfo) int {
	if len(t.Replicas) == 0 {
		return 0
	}
	return len(t.Replicas[0])
}

// configError is why a config change is refused: a Kafka error and a
// message for the client.
type configError struct {
	err *kerr.Error
	msg string
}

func invalidConfig(format string, args ...any) *configError {
	return &configError{kerr.InvalidConfig, fmt.Sprintf(format, args...)}
}

func invalidRequest(format string, args ...any) *configError {
	return &configError{kerr.InvalidRequest, fmt.Sprintf(format, args...)}
}

// nextConfigs computes a topic's new overrides from its current ones, or
// says why the change is refused.
type nextConfigs func(cur [][2]string, rf int) ([][2]string, *configError)

// alterResult is where one resource's outcome goes.
type alterResult struct {
	code *int16
	msg  **string
}

func (r alterResult) fail(e *configError) {
	*r.code = e.err.Code
	if e.msg != "" {
		m := e.msg
		*r.msg = &m
	}
}

// alterTopic validates a change of topic name's configs and, unless
// validateOnly, proposes it (or forwards it to the controller). It returns
// the item to wait on, or false when the outcome is known already.
func (n *Node) alterTopic(name string, validateOnly bool, next nextConfigs, res alterResult) (adminItem, bool) {
	t := n.topics.byName[name]
	if t == nil {
		*res.code = kerr.UnknownTopicOrPartition.Code
		return adminItem{}, false
	}
	cfgs, cerr := next(t.Configs, rfOf(t))
	if cerr != nil {
		res.fail(cerr)
		return adminItem{}, false
	}
	if validateOnly || slices.Equal(cfgs, t.Configs) {
		return adminItem{}, false
	}
	id := t.id
	token, ok := n.proposeAlter(t, cfgs)
	if !ok {
		*res.code = kerr.NotController.Code
		return adminItem{}, false
	}
	from := t.configGen
	done := func() (int16, bool) {
		if n.topics.alters[token] {
			delete(n.topics.alters, token)
			return 0, true
		}
		t := n.topics.byID[id]
		if t == nil {
			delete(n.topics.alters, token)
			return kerr.UnknownTopicOrPartition.Code, true
		}
		if t.configGen == from {
			return 0, false // not applied yet
		}
		// Another alter applied at our generation: ours never will.
		// Recompute from the configs that won and propose again.
		delete(n.topics.alters, token)
		cfgs, cerr := next(t.Configs, rfOf(t))
		if cerr != nil {
			res.fail(cerr)
			return *res.code, true
		}
		if slices.Equal(cfgs, t.Configs) {
			return 0, true
		}
		if token, ok = n.proposeAlter(t, cfgs); !ok {
			return kerr.NotController.Code, true
		}
		from = t.configGen
		return 0, false
	}
	expire := func() { delete(n.topics.alters, token) }
	return adminItem{code: res.code, done: done, expire: expire}, true
}

// proposeAlter proposes (or forwards) the alter_configs command that sets
// t's overrides to cfgs, and returns the token that tells its application.
func (n *Node) proposeAlter(t *topicInfo, cfgs [][2]string) (uint64, bool) {
	token := n.cfg.Env.Rand.Uint64()
	c := command{Op: "alter_configs", Topic: topicInfo{Name: t.Name, ID: t.ID, Configs: cfgs}, From: t.configGen, Token: token}
	if !n.proposeMeta(c, true) {
		return 0, false
	}
	n.topics.alters[token] = false
	return token, true
}

// applyAlter applies an alter_configs command (meta.go's applyCommand):
// at the generation it was computed from, it replaces the topic's
// overrides, re-resolves the enforced settings and hands them to the open
// replicas.
func (n *Node) applyAlter(c command, t *topicInfo) {
	if t == nil || t.configGen != c.From {
		return
	}
	t.Configs = c.Topic.Configs
	t.configGen++
	n.resolveConfigs(t)
	for i := range t.Replicas {
		if h := n.hosts[n.group(t, int32(i))]; h != nil {
			h.p.SetTopicConfig(t.MinInsyncReplicas, t.MaxMessageBytes, t.LogAppendTime)
			h.p.SetCompacted(t.Compacted)
			h.p.SetFlushPolicy(t.FlushMessages, t.FlushMs)
			h.log.SetSegmentBytes(n.segmentBytes(h))
			h.dirty = true
		}
	}
	if _, ok := n.topics.alters[c.Token]; ok {
		n.topics.alters[c.Token] = true
	}
	n.log.Info("topic configs altered", "topic", t.Name, "configs", t.Configs)
}

// describeTopicConfig is one config of t as DescribeConfigs reports it.
func (n *Node) describeTopicConfig(t *topicInfo, d *configDef, synonyms bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.ConfigType = d.name, d.typ
	dv, static := d.def(n, rfOf(t))
	defSource := kmsg.ConfigSourceDefaultConfig
	if static {
		defSource = kmsg.ConfigSourceStaticBrokerConfig
	}
	ov, has := override(t.Configs, d.name)
	switch {
	case has:
		c.Value, c.Source = kmsg.StringPtr(ov), kmsg.ConfigSourceDynamicTopicConfig
	default:
		c.Value, c.Source, c.IsDefault = kmsg.StringPtr(dv), defSource, !static
	}
	if synonyms {
		if has {
			c.ConfigSynonyms = append(c.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{
				Name: d.name, Value: kmsg.StringPtr(ov), Source: kmsg.ConfigSourceDynamicTopicConfig})
		}
		c.ConfigSynonyms = append(c.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{
			Name: d.broker, Value: kmsg.StringPtr(dv), Source: defSource})
	}
	return c
}

// brokerConfig is one config of this broker as DescribeConfigs reports it:
// every one is read-only (sluice has no dynamic broker configs).
type brokerConfig struct {
	name   string
	typ    kmsg.ConfigType
	value  string
	static bool // set by this broker's configuration, not the built-in default
}

// brokerConfigs lists this broker's configs, sorted by name.
func (n *Node) brokerConfigs() []brokerConfig {
	d := n.cfg.Defaults
	out := []brokerConfig{
		{name: "auto.create.topics.enable", typ: kmsg.ConfigTypeBoolean, value: strconv.FormatBool(!n.cfg.DisableAutoCreate), static: n.cfg.DisableAutoCreate},
		{name: "broker.id", typ: kmsg.ConfigTypeInt, value: strconv.Itoa(int(n.cfg.ID)), static: true},
		{name: "default.replication.factor", typ: kmsg.ConfigTypeInt, value: strconv.Itoa(int(d.ReplicationFactor)),
			static: int(d.ReplicationFactor) != min(3, len(n.cfg.Brokers))},
		{name: "log.dirs", typ: kmsg.ConfigTypeString, value: n.cfg.Dir, static: true},
		{name: "num.partitions", typ: kmsg.ConfigTypeInt, value: strconv.Itoa(int(d.Partitions)), static: d.Partitions != 1},
	}
	for i := range topicConfigDefs {
		td := &topicConfigDefs[i]
		v, static := td.def(n, math.MaxInt32)
		out = append(out, brokerConfig{name: td.broker, typ: td.typ, value: v, static: static})
	}
	slices.SortFunc(out, func(a, b brokerConfig) int { return strings.Compare(a.name, b.name) })
	return slices.CompactFunc(out, func(a, b brokerConfig) bool { return a.name == b.name })
}
