package main

// sluice partition: move partitions between brokers (issue 8).
//
//	sluice partition reassign TOPIC PARTITION -replicas 2,3,4 [-wait]
//	sluice partition reassign TOPIC PARTITION -cancel
//	sluice partition reassignments

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const partitionUsage = `usage: sluice partition <reassign|reassignments> [flags]

  reassign TOPIC PARTITION -replicas 2,3,4 [-wait]
                move a partition to these brokers (the first listed is its
                preferred leader): new replicas join as learners, catch up
                and are promoted; then the old ones are removed and delete
                their data. -wait waits until it is done; -cancel instead
                goes back to the replicas it started from
  reassignments list the reassignments under way: replicas, adding, removing

Every subcommand takes -bootstrap (default 127.0.0.1:9092) and -timeout.
`

func runPartition(_ *command, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, partitionUsage)
		return exitUsage
	}
	c := newClientCmd("sluice partition "+args[0], stdout, stderr)
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, partitionUsage)
		return exitOK
	case "reassign":
		return c.exit(partitionReassign(c, args[1:]))
	case "reassignments":
		return c.exit(partitionReassignments(c, args[1:]))
	}
	fmt.Fprintf(stderr, "sluice partition: unknown subcommand %q\n\n%s", args[0], partitionUsage)
	return exitUsage
}

func partitionReassign(c *clientCmd, args []string) error {
	replicas := c.fs.String("replicas", "", "the brokers to move the partition to, comma-separated")
	cancel := c.fs.Bool("cancel", false, "cancel the partition's reassignment under way")
	wait := c.fs.Bool("wait", false, "wait until the reassignment is done (bounded by -timeout)")
	pos, err := c.parse(args, "TOPIC PARTITION")
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError{"name a topic and a partition"}
	}
	topic := pos[0]
	p, err := strconv.ParseInt(pos[1], 10, 32)
	if err != nil || p < 0 {
		return usageError{fmt.Sprintf("partition %q is not a partition number", pos[1])}
	}
	var ids []int32
	switch {
	case *cancel && *replicas != "":
		return usageError{"-replicas and -cancel exclude each other"}
	case !*cancel && *replicas == "":
		return usageError{"-replicas is required (or -cancel)"}
	case !*cancel:
		for _, s := range strings.Split(*replicas, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			if err != nil {
				return usageError{fmt.Sprintf("-replicas: %q is not a broker id", s)}
			}
			ids = append(ids, int32(id))
		}
	}
	ctx, done := c.context()
	defer done()
	if err := c.connect(ctx); err != nil {
		return err
	}
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = int32(c.timeout.Milliseconds())
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = int32(p), ids
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err == nil && len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 {
		op := resp.Topics[0].Partitions[0]
		if err = kerr.ErrorForCode(op.ErrorCode); err != nil && op.ErrorMessage != nil {
			err = fmt.Errorf("%w: %s", err, *op.ErrorMessage)
		}
	}
	if err != nil {
		return fmt.Errorf("%s/%d: %w", topic, p, err)
	}
	what := fmt.Sprintf("reassigning %s/%d to %v", topic, p, ids)
	if *cancel {
		what = fmt.Sprintf("cancelling the reassignment of %s/%d", topic, p)
	}
	if !*wait {
		fmt.Fprintf(c.stdout, "%s (sluice partition reassignments shows its progress)\n", what)
		return nil
	}
	fmt.Fprintf(c.stdout, "%s ...\n", what)
	start := time.Now()
	for {
		pending, err := reassignmentsOf(ctx, c, topic)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(pending, func(r reassignment) bool { return r.partition == int32(p) }) {
			fmt.Fprintf(c.stdout, "done in %v\n", time.Since(start).Round(time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s/%d: still reassigning after %v", topic, p, c.timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type reassignment struct {
	topic                      string
	partition                  int32
	replicas, adding, removing []int32
}

// reassignmentsOf lists the reassignments under way (of topic, or all).
func reassignmentsOf(ctx context.Context, c *clientCmd, topic string) ([]reassignment, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = int32(c.timeout.Milliseconds())
	if topic != "" {
		rt := kmsg.NewListPartitionReassignmentsRequestTopic()
		rt.Topic = topic
		md, err := c.adm.ListTopics(ctx, topic)
		if err != nil {
			return nil, err
		}
		for _, p := range md[topic].Partitions.Sorted() {
			rt.Partitions = append(rt.Partitions, p.Partition)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, c.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return nil, fmt.Errorf("listing reassignments: %w", err)
	}
	var out []reassignment
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, reassignment{t.Topic, p.Partition, p.Replicas, p.AddingReplicas, p.RemovingReplicas})
		}
	}
	return out, nil
}

func partitionReassignments(c *clientCmd, args []string) error {
	ctx, cancel, err := c.bare(args)
	if err != nil {
		return err
	}
	defer cancel()
	list, err := reassignmentsOf(ctx, c, "")
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "no reassignment under way")
		return nil
	}
	ids := func(v []int32) string {
		s := make([]string, len(v))
		for i, id := range v {
			s[i] = strconv.Itoa(int(id))
		}
		if len(s) == 0 {
			return "-"
		}
		return strings.Join(s, ",")
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tREPLICAS\tADDING\tREMOVING")
	for _, r := range list {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", r.topic, r.partition, ids(r.replicas), ids(r.adding), ids(r.removing))
	}
	return w.Flush()
}
