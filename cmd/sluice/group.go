package main

// sluice group: consumer groups as operators see them (issue 9), on
// franz-go's kadm — the requests kafka-consumer-groups.sh sends.
//
//	sluice group list
//	sluice group describe GROUP...
//	sluice group reset-offsets -group G -topic T[:P,P] -to-earliest|-to-latest|-to-datetime T|-to-offset N|-shift-by N [-execute]
//	sluice group delete GROUP...

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

const groupUsage = `usage: sluice group <list|describe|reset-offsets|delete> [flags] [GROUP...]

  list                          every group: state, protocol type, members
  describe GROUP...             members, assignments, and per partition the committed
                                offset, log end offset and lag
  reset-offsets -group G (-topic T[:P,P]... | -all-topics) <target> [-execute]
                                target: -to-earliest, -to-latest, -to-datetime RFC3339,
                                -to-offset N or -shift-by N; prints the plan (a dry run)
                                unless -execute; the group must have no active members
  delete GROUP...               delete groups without active members and their offsets

Every subcommand takes -bootstrap (default 127.0.0.1:9092) and -timeout.
"sluice group <subcommand> -h" lists its flags.
`

// errGroupFail is a failure already explained to the user.
var errGroupFail = errors.New("failed")

func runGroup(c *command, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, groupUsage)
		return exitUsage
	}
	var run func(g *groupCmd, args []string) error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, groupUsage)
		return exitOK
	case "list":
		run = (*groupCmd).list
	case "describe":
		run = (*groupCmd).describe
	case "reset-offsets":
		run = (*groupCmd).resetOffsets
	case "delete":
		run = (*groupCmd).delete
	default:
		fmt.Fprintf(stderr, "sluice group: unknown subcommand %q\n\n%s", args[0], groupUsage)
		return exitUsage
	}
	g := &groupCmd{newClientCmd("sluice group "+args[0], stdout, stderr)}
	return g.exit(run(g, args[1:]))
}

// usageError is a bad command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// groupCmd is one run of a group subcommand: the client subcommands'
// flags, parsing, connection and exit statuses (client.go).
type groupCmd struct{ *clientCmd }

func (g *groupCmd) table() *tabwriter.Writer {
	return tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
}

// list prints every group, one line each.
func (g *groupCmd) list(args []string) error {
	ctx, cancel, err := g.bare(args)
	if err != nil {
		return err
	}
	defer cancel()
	listed, err := g.adm.ListGroups(ctx)
	var partial error
	if err != nil {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) || se.AllFailed {
			return fmt.Errorf("listing groups: %w", err)
		}
		partial = fmt.Errorf("some brokers did not answer; the list is incomplete: %w", err)
	}
	names := listed.Groups()
	slices.Sort(names)
	members := map[string]int{}
	if len(names) > 0 {
		described, err := g.adm.DescribeGroups(ctx, names...)
		if err != nil && partial == nil {
			partial = fmt.Errorf("describing groups: %w", err)
		}
		for _, d := range described {
			members[d.Group] = len(d.Members)
		}
	}
	if len(names) == 0 {
		fmt.Fprintln(g.stdout, "no groups")
	} else {
		w := g.table()
		fmt.Fprintln(w, "GROUP\tSTATE\tPROTOCOL-TYPE\tMEMBERS")
		for _, n := range names {
			l := listed[n]
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", n, l.State, dash(l.ProtocolType), members[n])
		}
		w.Flush()
	}
	return partial
}

// describe prints each group's members and per-partition lag, as
// kafka-consumer-groups.sh --describe --members --verbose do together.
func (g *groupCmd) describe(args []string) error {
	groups, ctx, cancel, err := g.named(args, "GROUP...", "group")
	if err != nil {
		return err
	}
	defer cancel()
	lags, err := g.adm.Lag(ctx, groups...)
	if err != nil {
		return fmt.Errorf("describing groups: %w", err)
	}
	failed, printed := false, false
	for _, name := range groups {
		l, ok := lags[name]
		switch {
		case !ok, errors.Is(l.Error(), kerr.GroupIDNotFound), l.Error() == nil && l.State == "Dead":
			fmt.Fprintf(g.stderr, "%s: group %s does not exist\n", g.name, name)
			failed = true
			continue
		case l.Error() != nil:
			fmt.Fprintf(g.stderr, "%s: group %s: %v\n", g.name, name, l.Error())
			failed = true
			continue
		}
		if printed {
			fmt.Fprintln(g.stdout)
		}
		g.printGroup(l)
		printed = true
	}
	if failed {
		return errGroupFail
	}
	return nil
}

func (g *groupCmd) printGroup(l kadm.DescribedGroupLag) {
	protocol := dash(l.ProtocolType)
	if l.Protocol != "" {
		protocol += "/" + l.Protocol
	}
	fmt.Fprintf(g.stdout, "GROUP %s  state %s  protocol %s  coordinator %d  members %d\n",
		l.Group, l.State, protocol, l.Coordinator.NodeID, len(l.Members))
	if len(l.Members) > 0 {
		fmt.Fprintln(g.stdout)
		w := g.table()
		fmt.Fprintln(w, "MEMBER-ID\tINSTANCE-ID\tCLIENT-ID\tHOST\tPARTITIONS")
		for _, m := range l.Members {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, dash(deref(m.InstanceID)), dash(m.ClientID), dash(m.ClientHost), assigned(m))
		}
		w.Flush()
	}
	rows := l.Lag.Sorted()
	if len(rows) == 0 {
		fmt.Fprintln(g.stdout, "\nno committed offsets and no assigned partitions")
		return
	}
	fmt.Fprintln(g.stdout)
	w := g.table()
	fmt.Fprintln(w, "TOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID\tCLIENT-ID\tHOST")
	var total int64
	for _, r := range rows {
		current, end, lag := "-", "-", "-"
		if r.Commit.At >= 0 {
			current = strconv.FormatInt(r.Commit.At, 10)
		}
		if r.End.Err == nil {
			end = strconv.FormatInt(r.End.Offset, 10)
		}
		switch {
		case r.Err != nil:
			lag = "? (" + r.Err.Error() + ")"
		case r.Commit.At >= 0:
			lag = strconv.FormatInt(r.Lag, 10)
			total += r.Lag
		}
		member, client, host := "-", "-", "-"
		if r.Member != nil {
			member, client, host = r.Member.MemberID, dash(r.Member.ClientID), dash(r.Member.ClientHost)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Topic, r.Partition, current, end, lag, member, client, host)
	}
	w.Flush()
	fmt.Fprintf(g.stdout, "total lag %d records (partitions with committed offsets)\n", total)
}

// assigned formats a member's assignment as "t1[0,1] t2[3]".
func assigned(m kadm.DescribedGroupMember) string {
	c, ok := m.Assigned.AsConsumer()
	if !ok || len(c.Topics) == 0 {
		return "-"
	}
	var parts []string
	for _, t := range c.Topics {
		ps := slices.Clone(t.Partitions)
		slices.Sort(ps)
		var s []string
		for _, p := range ps {
			s = append(s, strconv.Itoa(int(p)))
		}
		parts = append(parts, t.Topic+"["+strings.Join(s, ",")+"]")
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// topicFlag collects -topic T or T:P,P values.
type topicFlag []topicSel

type topicSel struct {
	topic      string
	partitions []int32 // nil: all
}

func (f *topicFlag) String() string { return "" }

func (f *topicFlag) Set(v string) error {
	topic, ps, hasParts := strings.Cut(v, ":")
	if topic == "" {
		return fmt.Errorf("want TOPIC or TOPIC:P,P")
	}
	sel := topicSel{topic: topic}
	if hasParts {
		for _, p := range strings.Split(ps, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
			if err != nil || n < 0 {
				return fmt.Errorf("bad partition %q in %q", p, v)
			}
			sel.partitions = append(sel.partitions, int32(n))
		}
	}
	*f = append(*f, sel)
	return nil
}

// resetPlan is one partition's reset.
type resetPlan struct {
	topic     string
	partition int32
	current   int64 // -1: nothing committed
	next      int64
}

// resetTarget is where reset-offsets moves offsets: kind is the flag's
// name, n its offset or shift, atMs its time.
type resetTarget struct {
	kind string
	n    int64
	atMs int64
}

// resetOffsets moves an inactive group's committed offsets.
func (g *groupCmd) resetOffsets(args []string) error {
	group := g.fs.String("group", "", "the group (required)")
	var topics topicFlag
	g.fs.Var(&topics, "topic", "TOPIC or TOPIC:P,P (repeatable): the partitions to reset; a topic alone means all its partitions")
	allTopics := g.fs.Bool("all-topics", false, "every partition the group has committed offsets for")
	g.fs.Bool("to-earliest", false, "reset to the log start offset")
	g.fs.Bool("to-latest", false, "reset to the log end offset (skip everything not yet read)")
	datetime := g.fs.String("to-datetime", "", "reset to the first offset with a timestamp at or after this RFC 3339 time (2026-01-02T15:04:05Z)")
	toOffset := g.fs.Int64("to-offset", 0, "reset to this offset (clamped to the log's start and end)")
	shiftBy := g.fs.Int64("shift-by", 0, "move the committed offset by this many records (negative: back; clamped)")
	execute := g.fs.Bool("execute", false, "commit the new offsets (without it, only print the plan)")
	pos, err := g.parse(args, "-group G (-topic T[:P,P]... | -all-topics) (-to-earliest | -to-latest | -to-datetime T | -to-offset N | -shift-by N) [-execute]")
	if err != nil {
		return err
	}
	var targets []resetTarget
	g.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "to-earliest", "to-latest":
			if f.Value.String() == "true" {
				targets = append(targets, resetTarget{kind: f.Name})
			}
		case "to-datetime":
			targets = append(targets, resetTarget{kind: f.Name})
		case "to-offset":
			targets = append(targets, resetTarget{kind: f.Name, n: *toOffset})
		case "shift-by":
			targets = append(targets, resetTarget{kind: f.Name, n: *shiftBy})
		}
	})
	switch {
	case len(pos) > 0:
		return usageError{"unexpected arguments: " + strings.Join(pos, " ")}
	case *group == "":
		return usageError{"-group is required"}
	case len(topics) == 0 && !*allTopics:
		return usageError{"name the partitions: -topic T[:P,P] (repeatable) or -all-topics"}
	case len(topics) > 0 && *allTopics:
		return usageError{"-topic and -all-topics exclude each other"}
	case len(targets) != 1:
		return usageError{"give exactly one of -to-earliest, -to-latest, -to-datetime, -to-offset, -shift-by"}
	}
	target := targets[0]
	if target.kind == "to-datetime" {
		at, err := time.Parse(time.RFC3339Nano, *datetime)
		if err != nil {
			return usageError{fmt.Sprintf("-to-datetime: want RFC 3339 (2026-01-02T15:04:05Z): %v", err)}
		}
		target.atMs = at.UnixMilli()
	}

	ctx, cancel := g.context()
	defer cancel()
	if err := g.connect(ctx); err != nil {
		return err
	}
	if err := g.checkInactive(ctx, *group); err != nil {
		return err
	}
	current, err := g.adm.FetchOffsets(ctx, *group)
	if err == nil {
		err = current.Error()
	}
	if err != nil {
		return fmt.Errorf("fetching the committed offsets of group %s: %w", *group, err)
	}
	sel, err := g.selectPartitions(ctx, topics, *allTopics, current)
	if err != nil {
		return err
	}
	plan, err := g.planReset(ctx, sel, current, target)
	if err != nil {
		return err
	}
	w := g.table()
	fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET")
	for _, r := range plan {
		cur := "-"
		if r.current >= 0 {
			cur = strconv.FormatInt(r.current, 10)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\n", *group, r.topic, r.partition, cur, r.next)
	}
	w.Flush()
	if !*execute {
		fmt.Fprintln(g.stdout, "dry run: nothing changed; add -execute to commit these offsets")
		return nil
	}
	var offsets kadm.Offsets
	for _, r := range plan {
		offsets.AddOffset(r.topic, r.partition, r.next, -1)
	}
	resp, err := g.adm.CommitOffsets(ctx, *group, offsets)
	if err == nil {
		err = resp.Error()
	}
	switch {
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.RebalanceInProgress):
		return fmt.Errorf("group %s became active while resetting; its consumers own its offsets again: %w", *group, err)
	case err != nil:
		return fmt.Errorf("committing the new offsets: %w", err)
	}
	fmt.Fprintf(g.stdout, "committed %d offsets for group %s\n", len(plan), *group)
	return nil
}

// planReset computes each selected partition's new offset.
func (g *groupCmd) planReset(ctx context.Context, sel kadm.TopicsSet, current kadm.OffsetResponses, target resetTarget) ([]resetPlan, error) {
	names := sel.Topics()
	list := func(what string, fn func() (kadm.ListedOffsets, error)) (kadm.ListedOffsets, error) {
		l, err := fn()
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", what, err)
		}
		return l, nil
	}
	starts, err := list("start offsets", func() (kadm.ListedOffsets, error) { return g.adm.ListStartOffsets(ctx, names...) })
	if err != nil {
		return nil, err
	}
	ends, err := list("end offsets", func() (kadm.ListedOffsets, error) { return g.adm.ListEndOffsets(ctx, names...) })
	if err != nil {
		return nil, err
	}
	var byTime kadm.ListedOffsets
	if target.kind == "to-datetime" {
		byTime, err = list("offsets by time", func() (kadm.ListedOffsets, error) { return g.adm.ListOffsetsAfterMilli(ctx, target.atMs, names...) })
		if err != nil {
			return nil, err
		}
	}
	var plan []resetPlan
	for _, tp := range sel.Sorted() {
		for _, p := range tp.Partitions {
			cur := int64(-1)
			if o, ok := current.Lookup(tp.Topic, p); ok && o.Err == nil {
				cur = o.At
			}
			start, _ := starts.Lookup(tp.Topic, p)
			end, _ := ends.Lookup(tp.Topic, p)
			clamp := func(o int64) int64 { return max(start.Offset, min(end.Offset, o)) }
			var next int64
			switch target.kind {
			case "to-earliest":
				next = start.Offset
			case "to-latest":
				next = end.Offset
			case "to-datetime": // no record that late: the end
				next = end.Offset
				if o, ok := byTime.Lookup(tp.Topic, p); ok && o.Offset >= 0 {
					next = clamp(o.Offset)
				}
			case "to-offset":
				next = clamp(target.n)
			case "shift-by":
				if cur < 0 {
					return nil, fmt.Errorf("%s/%d has no committed offset to shift; use -to-offset, -to-earliest or -to-latest", tp.Topic, p)
				}
				shifted := cur + target.n
				switch { // saturate: a shift past either end clamps to it
				case target.n > 0 && shifted < cur:
					shifted = math.MaxInt64
				case target.n < 0 && shifted > cur:
					shifted = math.MinInt64
				}
				next = clamp(shifted)
			}
			plan = append(plan, resetPlan{topic: tp.Topic, partition: p, current: cur, next: next})
		}
	}
	return plan, nil
}

// checkInactive refuses a group with members: only an inactive group's
// offsets can be reset (its consumers would overwrite them), as in Kafka.
func (g *groupCmd) checkInactive(ctx context.Context, group string) error {
	described, err := g.adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Errorf("describing group %s: %w", group, err)
	}
	d, ok := described[group]
	switch {
	case !ok:
		return fmt.Errorf("describing group %s: no answer", group)
	case errors.Is(d.Err, kerr.GroupIDNotFound):
		return nil // a group that does not exist yet: Kafka lets offsets be set for it
	case d.Err != nil:
		return fmt.Errorf("describing group %s: %w", group, d.Err)
	case d.State != "Empty" && d.State != "Dead":
		return fmt.Errorf("group %s is not empty (state %s, %d members): stop its consumers first; "+
			"an active group's offsets cannot be reset", group, d.State, len(d.Members))
	}
	return nil
}

// selectPartitions resolves -topic and -all-topics against the cluster.
func (g *groupCmd) selectPartitions(ctx context.Context, topics topicFlag, all bool, current kadm.OffsetResponses) (kadm.TopicsSet, error) {
	sel := kadm.TopicsSet{}
	if all {
		current.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				sel.Add(o.Topic, o.Partition)
			}
		})
		if len(sel) == 0 {
			return nil, fmt.Errorf("-all-topics: the group has no committed offsets")
		}
		return sel, nil
	}
	var names []string
	for _, t := range topics {
		names = append(names, t.topic)
	}
	details, err := g.adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	for _, t := range topics {
		d, ok := details[t.topic]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("topic %s does not exist", t.topic)
		}
		if d.Err != nil {
			return nil, fmt.Errorf("topic %s: %w", t.topic, d.Err)
		}
		if t.partitions == nil {
			sel.Add(t.topic, d.Partitions.Numbers()...)
			continue
		}
		for _, p := range t.partitions {
			if _, ok := d.Partitions[p]; !ok {
				return nil, fmt.Errorf("topic %s has no partition %d (it has %d)", t.topic, p, len(d.Partitions))
			}
			sel.Add(t.topic, p)
		}
	}
	return sel, nil
}

// delete deletes groups that have no active members, with their offsets.
func (g *groupCmd) delete(args []string) error {
	groups, ctx, cancel, err := g.named(args, "GROUP...", "group")
	if err != nil {
		return err
	}
	defer cancel()
	resp, err := g.adm.DeleteGroups(ctx, groups...)
	if err != nil && len(resp) == 0 {
		return fmt.Errorf("deleting groups: %w", err)
	}
	failed := false
	for _, name := range groups {
		r, ok := resp[name]
		switch {
		case !ok:
			fmt.Fprintf(g.stderr, "%s: group %s: no answer (%v)\n", g.name, name, err)
		case r.Err == nil:
			fmt.Fprintf(g.stdout, "deleted group %s\n", name)
			continue
		case errors.Is(r.Err, kerr.GroupIDNotFound):
			fmt.Fprintf(g.stderr, "%s: group %s does not exist\n", g.name, name)
		case errors.Is(r.Err, kerr.NonEmptyGroup):
			fmt.Fprintf(g.stderr, "%s: group %s has active members; stop its consumers first\n", g.name, name)
		default:
			fmt.Fprintf(g.stderr, "%s: group %s: %v\n", g.name, name, r.Err)
		}
		failed = true
	}
	if failed {
		return errGroupFail
	}
	return nil
}
