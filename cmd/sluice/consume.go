package main

// sluice consume: a topic's records to stdout, one value per line (as
// kafka-console-consumer.sh), until -n records, the end (-e) or an interrupt.
//
//	sluice consume -topic T [-group G] [-from-beginning] [-n N] [-e] [-key-sep :]
//
// Without -group it reads every partition directly; with one it joins the
// group and commits what it printed. -from-beginning starts at the log
// start where there is no committed offset (else at the end, as Kafka's
// console consumer does).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func runConsume(cmd *command, args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("sluice consume", stdout, stderr)
	topic := c.fs.String("topic", "", "the topic to read (required)")
	group := c.fs.String("group", "", "read as a member of this consumer group, committing what was printed")
	fromBeginning := c.fs.Bool("from-beginning", false, "start at the log start where there is no committed offset (default: the end)")
	n := c.fs.Int("n", 0, "stop after this many records (0: until interrupted); waits for them")
	atEnd := c.fs.Bool("e", false, "exit at the end: once every partition is read up to where it ended when the command started, as kcat -e (with -group, when it is the group's only member)")
	keySep := c.fs.String("key-sep", "", "print each record's key, this `separator`, then its value")
	pos, err := c.parse(args, "")
	if err == nil {
		switch {
		case len(pos) > 0:
			err = usageError{"unexpected arguments: " + strings.Join(pos, " ")}
		case *topic == "":
			err = usageError{"-topic is required"}
		case *n < 0:
			err = usageError{"-n is at least 0"}
		}
	}
	if err != nil {
		return c.exit(err)
	}
	return c.exit(consume(c, *topic, *group, *fromBeginning, *n, *atEnd, *keySep))
}

func consume(c *clientCmd, topic, group string, fromBeginning bool, n int, atEnd bool, keySep string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reset := kgo.NewOffset().AtEnd()
	if fromBeginning {
		reset = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(reset)}
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group), kgo.AutoCommitMarks())
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.connect(cctx, opts...); err != nil {
		return err
	}
	// A topic that does not exist would be waited for silently.
	if td, err := c.adm.ListTopics(cctx, topic); err != nil {
		return fmt.Errorf("topic %s: %w", topic, err)
	} else if t := td[topic]; t.Err != nil || !td.Has(topic) {
		return fmt.Errorf("topic %s: %v", topic, orUnknown(t.Err))
	}
	// -e: the partitions with records left to read, and where each ends.
	var ends map[int32]int64
	if atEnd {
		var err error
		if ends, err = unreadEnds(cctx, c, topic, group, fromBeginning); err != nil {
			return err
		}
	}
	w := bufio.NewWriter(c.stdout)
	printed := 0
	var failed error
	for failed == nil && (n == 0 || printed < n) && (!atEnd || len(ends) > 0) {
		fs := c.cl.PollRecords(ctx, n-printed)
		if ctx.Err() != nil {
			break // interrupted
		}
		fs.EachError(func(t string, p int32, err error) {
			if failed == nil && !errors.Is(err, context.Canceled) {
				failed = fmt.Errorf("topic %s partition %d: %w", t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if n > 0 && printed >= n {
				return
			}
			if keySep != "" {
				w.Write(r.Key)
				w.WriteString(keySep)
			}
			w.Write(r.Value)
			w.WriteByte('\n')
			printed++
			if end, ok := ends[r.Partition]; ok && r.Offset+1 >= end {
				delete(ends, r.Partition)
			}
			if group != "" {
				c.cl.MarkCommitRecords(r)
			}
		})
		if err := w.Flush(); err != nil {
			return fmt.Errorf("writing stdout: %w", err)
		}
	}
	if group != "" {
		cctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		if commitErr := c.cl.CommitMarkedOffsets(cctx); commitErr != nil && failed == nil {
			failed = fmt.Errorf("committing offsets of group %s: %w", group, commitErr)
		}
	}
	if failed != nil {
		return failed
	}
	fmt.Fprintf(c.stderr, "consumed %d records\n", printed)
	return nil
}

// unreadEnds returns, for each partition of topic that has records the
// consumer will read, the end offset it had now: where a consumer starts
// is its group's committed offset, else the log start (-from-beginning) or
// the end; a committed offset below the log start resets the same way.
func unreadEnds(ctx context.Context, c *clientCmd, topic, group string, fromBeginning bool) (map[int32]int64, error) {
	ends, err := c.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("topic %s: end offsets: %w", topic, err)
	}
	starts, err := c.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("topic %s: start offsets: %w", topic, err)
	}
	var committed kadm.OffsetResponses
	if group != "" {
		if committed, err = c.adm.FetchOffsets(ctx, group); err != nil {
			return nil, fmt.Errorf("group %s: committed offsets: %w", group, err)
		}
	}
	out := map[int32]int64{}
	var lerr error
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil {
			lerr = fmt.Errorf("topic %s partition %d: end offset: %w", topic, e.Partition, e.Err)
			return
		}
		s, _ := starts.Lookup(topic, e.Partition)
		from := e.Offset // the end: nothing to read
		if fromBeginning {
			from = s.Offset
		}
		if o, ok := committed.Lookup(topic, e.Partition); ok && o.Err == nil && o.At >= s.Offset {
			from = o.At
		}
		if from < e.Offset {
			out[e.Partition] = e.Offset
		}
	})
	return out, lerr
}
