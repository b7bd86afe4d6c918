package main

// sluice topic: topics as operators see them (issue 8), on franz-go's kadm
// — the requests kafka-topics.sh and kafka-configs.sh send.
//
//	sluice topic create NAME [-partitions N] [-replication-factor R] [-config k=v]...
//	sluice topic list
//	sluice topic describe NAME...
//	sluice topic delete NAME...
//	sluice topic alter-config NAME [-set k=v]... [-delete k]... [-validate-only]
//	sluice topic delete-records NAME -offset O [-partition P]...

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const topicUsage = `usage: sluice topic <create|list|describe|delete|alter-config|delete-records> [flags] [NAME...]

  create NAME [-partitions N] [-replication-factor R] [-config k=v]...
                                create a topic (-1: the broker's default partitions
                                and replication factor)
  list                          every topic: partitions, replication factor, id
  describe NAME...              partitions (leader, epoch, replicas, ISR) and the
                                configs the topic sets (those that differ from defaults)
  delete NAME...                delete topics and their data
  alter-config NAME [-set k=v]... [-delete k]... [-validate-only]
                                change a topic's configs (incrementally)
  delete-records NAME -offset O [-partition P]...
                                delete the records below offset O (-1: all of them,
                                up to the high watermark) of every partition, or of
                                those named (what kafka-delete-records.sh does)

Every subcommand takes -bootstrap (default 127.0.0.1:9092) and -timeout.
"sluice topic <subcommand> -h" lists its flags; the README lists the configs.
`

func runTopic(_ *command, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topicUsage)
		return exitUsage
	}
	var run func(c *clientCmd, args []string) error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, topicUsage)
		return exitOK
	case "create":
		run = topicCreate
	case "list":
		run = topicList
	case "describe":
		run = topicDescribe
	case "delete":
		run = topicDelete
	case "alter-config":
		run = topicAlterConfig
	case "delete-records":
		run = topicDeleteRecords
	default:
		fmt.Fprintf(stderr, "sluice topic: unknown subcommand %q\n\n%s", args[0], topicUsage)
		return exitUsage
	}
	c := newClientCmd("sluice topic "+args[0], stdout, stderr)
	return c.exit(run(c, args[1:]))
}

// withMessage appends a broker's error message to its error.
func withMessage(err error, msg string) string {
	if msg == "" {
		return err.Error()
	}
	return err.Error() + " (" + msg + ")"
}

func topicCreate(c *clientCmd, args []string) error {
	partitions := c.fs.Int("partitions", -1, "number of partitions (-1: the broker's num.partitions)")
	rf := c.fs.Int("replication-factor", -1, "replicas per partition (-1: the broker's default.replication.factor)")
	var cfgs kvFlag
	c.fs.Var(&cfgs, "config", "a topic config `name=value` (repeatable)")
	pos, err := c.parse(args, "NAME")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"name one topic"}
	}
	if *partitions == 0 || *partitions < -1 || *partitions > 10000 || *rf == 0 || *rf < -1 || *rf > 32767 {
		return usageError{"-partitions (at most 10000) and -replication-factor are positive, or -1 for the broker default"}
	}
	configs := map[string]*string{}
	for _, kv := range cfgs {
		v := kv[1]
		configs[kv[0]] = &v
	}
	ctx, cancel := c.context()
	defer cancel()
	if err := c.connect(ctx); err != nil {
		return err
	}
	r, err := c.adm.CreateTopic(ctx, int32(*partitions), int16(*rf), configs, pos[0])
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return fmt.Errorf("topic %s: %s", pos[0], withMessage(err, r.ErrMessage))
	}
	fmt.Fprintf(c.stdout, "created topic %s: %d partitions, replication factor %d\n", pos[0], r.NumPartitions, r.ReplicationFactor)
	return nil
}

func topicList(c *clientCmd, args []string) error {
	ctx, cancel, err := c.bare(args)
	if err != nil {
		return err
	}
	defer cancel()
	topics, err := c.adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	if len(topics) == 0 {
		fmt.Fprintln(c.stdout, "no topics")
		return nil
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITIONS\tREPLICATION-FACTOR\tID")
	for _, t := range topics.Sorted() {
		name := t.Topic
		if t.IsInternal {
			name += " (internal)"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", name, len(t.Partitions), replicationFactor(t), hex.EncodeToString(t.ID[:]))
	}
	return w.Flush()
}

func replicationFactor(t kadm.TopicDetail) int {
	for _, p := range t.Partitions {
		return len(p.Replicas)
	}
	return 0
}

func topicDescribe(c *clientCmd, args []string) error {
	names, ctx, cancel, err := c.named(args, "NAME...", "topic")
	if err != nil {
		return err
	}
	defer cancel()
	topics, err := c.adm.ListTopicsWithInternal(ctx, names...)
	if err != nil {
		return fmt.Errorf("describing topics: %w", err)
	}
	configs, cfgErr := c.adm.DescribeTopicConfigs(ctx, names...)
	failed, printed := false, false
	for _, name := range names {
		t, ok := topics[name]
		if !ok || t.Err != nil {
			fmt.Fprintf(c.stderr, "%s: topic %s: %v\n", c.name, name, orUnknown(t.Err))
			failed = true
			continue
		}
		if printed {
			fmt.Fprintln(c.stdout)
		}
		printed = true
		fmt.Fprintf(c.stdout, "Topic: %s  ID: %s  Partitions: %d  Replication factor: %d\n",
			name, hex.EncodeToString(t.ID[:]), len(t.Partitions), replicationFactor(t))
		fmt.Fprintf(c.stdout, "Configs: %s\n", ownConfigs(configs, cfgErr, name))
		w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "PARTITION\tLEADER\tEPOCH\tREPLICAS\tISR")
		for _, p := range t.Partitions.Sorted() {
			leader := strconv.Itoa(int(p.Leader))
			if p.Leader < 0 {
				leader = "none"
			}
			fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\n", p.Partition, leader, p.LeaderEpoch, ids(p.Replicas), sortedIDs(p.ISR))
		}
		w.Flush()
	}
	if failed {
		return errGroupFail
	}
	return nil
}

func orUnknown(err error) error {
	if err == nil {
		return errors.New("UNKNOWN_TOPIC_OR_PARTITION: the topic does not exist")
	}
	return err
}

// ownConfigs lists the configs a topic sets itself (those that differ from
// the broker defaults), as name=value pairs.
func ownConfigs(rcs kadm.ResourceConfigs, err error, topic string) string {
	rc, onErr := rcs.On(topic, nil)
	switch {
	case err != nil:
		return "(not described: " + oneLine(err.Error()) + ")"
	case onErr != nil:
		return "(not described: " + onErr.Error() + ")"
	case rc.Err != nil:
		return "(not described: " + rc.Err.Error() + ")"
	}
	var out []string
	for _, cfg := range rc.Configs {
		if cfg.Source == kmsg.ConfigSourceDynamicTopicConfig {
			out = append(out, cfg.Key+"="+cfg.MaybeValue())
		}
	}
	if len(out) == 0 {
		return "(none: every config has its default)"
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// ids lists broker ids in the order given: replicas in assignment order,
// whose first is the preferred leader (a reassignment that only reorders
// them shows).
func ids(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

// sortedIDs lists broker ids in increasing order (an ISR has no order).
func sortedIDs(xs []int32) string { return ids(slices.Sorted(slices.Values(xs))) }

func topicDelete(c *clientCmd, args []string) error {
	names, ctx, cancel, err := c.named(args, "NAME...", "topic")
	if err != nil {
		return err
	}
	defer cancel()
	resp, err := c.adm.DeleteTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("deleting topics: %w", err)
	}
	failed := false
	for _, name := range names {
		r, ok := resp[name]
		switch {
		case !ok:
			fmt.Fprintf(c.stderr, "%s: topic %s: no answer\n", c.name, name)
		case r.Err == nil:
			fmt.Fprintf(c.stdout, "deleted topic %s\n", name)
			continue
		default:
			fmt.Fprintf(c.stderr, "%s: topic %s: %s\n", c.name, name, withMessage(r.Err, r.ErrMessage))
		}
		failed = true
	}
	if failed {
		return errGroupFail
	}
	return nil
}

func topicAlterConfig(c *clientCmd, args []string) error {
	var sets kvFlag
	var dels listFlag
	c.fs.Var(&sets, "set", "set a config: `name=value` (repeatable)")
	c.fs.Var(&dels, "delete", "return a config to its default: `name` (repeatable)")
	validate := c.fs.Bool("validate-only", false, "check the change without making it")
	pos, err := c.parse(args, "NAME")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"name one topic"}
	}
	if len(sets) == 0 && len(dels) == 0 {
		return usageError{"nothing to change: give -set name=value or -delete name"}
	}
	var alters []kadm.AlterConfig
	for _, kv := range sets {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv[0], Value: kadm.StringPtr(kv[1])})
	}
	for _, name := range dels {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: name})
	}
	ctx, cancel := c.context()
	defer cancel()
	if err := c.connect(ctx); err != nil {
		return err
	}
	alter := c.adm.AlterTopicConfigs
	if *validate {
		alter = c.adm.ValidateAlterTopicConfigs
	}
	resp, err := alter(ctx, alters, pos[0])
	if err != nil {
		return fmt.Errorf("topic %s: %w", pos[0], err)
	}
	r, err := resp.On(pos[0], nil)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return fmt.Errorf("topic %s: %s", pos[0], withMessage(err, r.ErrMessage))
	}
	if *validate {
		fmt.Fprintf(c.stdout, "topic %s: the change is valid (not made)\n", pos[0])
	} else {
		fmt.Fprintf(c.stdout, "altered topic %s\n", pos[0])
	}
	return nil
}

func topicDeleteRecords(c *clientCmd, args []string) error {
	var parts listFlag
	offset := c.fs.Int64("offset", -2, "delete the records below this `offset` (-1: up to the high watermark)")
	c.fs.Var(&parts, "partition", "a `partition` to delete from (repeatable; default every partition)")
	pos, err := c.parse(args, "NAME")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"name one topic"}
	}
	switch {
	case *offset == -2:
		return usageError{"-offset is required (-1: up to the high watermark)"}
	case *offset < -1:
		return usageError{fmt.Sprintf("-offset %d: give an offset, or -1 for the high watermark", *offset)}
	}
	var ps []int32
	for _, s := range parts {
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 0 {
			return usageError{fmt.Sprintf("-partition: %q is not a partition number", s)}
		}
		ps = append(ps, int32(p))
	}
	topic := pos[0]
	ctx, cancel := c.context()
	defer cancel()
	if err := c.connect(ctx); err != nil {
		return err
	}
	if len(ps) == 0 {
		md, err := c.adm.Metadata(ctx, topic)
		if err != nil {
			return fmt.Errorf("topic %s: %w", topic, err)
		}
		td, ok := md.Topics[topic]
		switch {
		case !ok:
			return fmt.Errorf("topic %s: not in the cluster's metadata", topic)
		case td.Err != nil:
			return fmt.Errorf("topic %s: %w", topic, td.Err)
		}
		for p := range td.Partitions {
			ps = append(ps, p)
		}
		slices.Sort(ps)
	}
	var offs kadm.Offsets
	for _, p := range ps {
		offs.Add(kadm.Offset{Topic: topic, Partition: p, At: *offset})
	}
	resp, err := c.adm.DeleteRecords(ctx, offs)
	if se := (*kadm.ShardErrors)(nil); errors.As(err, &se) && len(se.Errs) > 0 {
		err = se.Errs[0].Err // the broker's error, not kadm's request bookkeeping
	}
	if err != nil {
		return fmt.Errorf("topic %s: %w", topic, err)
	}
	failed := false
	for _, p := range ps {
		r, ok := resp.Lookup(topic, p)
		switch {
		case !ok:
			fmt.Fprintf(c.stderr, "%s: topic %s partition %d: no answer\n", c.name, topic, p)
		case r.Err != nil:
			fmt.Fprintf(c.stderr, "%s: topic %s partition %d: %v\n", c.name, topic, p, r.Err)
		default:
			fmt.Fprintf(c.stdout, "topic %s partition %d: low watermark %d\n", topic, p, r.LowWatermark)
			continue
		}
		failed = true
	}
	if failed {
		return errGroupFail
	}
	return nil
}
