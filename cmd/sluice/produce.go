package main

// sluice produce: lines from stdin to a topic, one record each (as
// kafka-console-producer.sh), acks=all and idempotent (kgo's defaults).
//
//	sluice produce -topic T [-key-sep :] < lines

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// stdin is what sluice produce reads (tests replace it).
var stdin io.Reader = os.Stdin

// maxLineBytes bounds one input line (one record).
const maxLineBytes = 1 << 20

func runProduce(cmd *command, args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("sluice produce", stdout, stderr)
	topic := c.fs.String("topic", "", "the topic to write to (required)")
	keySep := c.fs.String("key-sep", "", "split each line at the first `separator` into key and value (lines without it have no key)")
	pos, err := c.parse(args, "< lines")
	if err == nil {
		switch {
		case len(pos) > 0:
			err = usageError{"unexpected arguments: " + strings.Join(pos, " ")}
		case *topic == "":
			err = usageError{"-topic is required"}
		}
	}
	if err != nil {
		return c.exit(err)
	}
	return c.exit(produceLines(c, *topic, *keySep, stdin))
}

func produceLines(c *clientCmd, topic, keySep string, in io.Reader) error {
	// -timeout bounds reaching the cluster and each record's delivery, not
	// the whole run: stdin may be a long stream.
	if err := c.connect(context.Background(), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(),
		kgo.RecordDeliveryTimeout(c.timeout)); err != nil {
		return err
	}
	var (
		mu       sync.Mutex
		firstErr error
		acked    int
		wg       sync.WaitGroup
	)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	lines := 0
	for sc.Scan() {
		line := sc.Text()
		r := &kgo.Record{Value: []byte(line)}
		if keySep != "" {
			if k, v, ok := strings.Cut(line, keySep); ok {
				r.Key, r.Value = []byte(k), []byte(v)
			}
		}
		lines++
		wg.Add(1)
		// Produce blocks while the client buffers MaxBufferedRecords.
		c.cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if err == nil {
				acked++
			}
		})
	}
	scanErr := sc.Err()
	if err := c.cl.Flush(context.Background()); err != nil && firstErr == nil {
		firstErr = err
	}
	wg.Wait()
	switch {
	case scanErr != nil:
		return fmt.Errorf("reading stdin after %d lines: %v (%d records produced)", lines, scanErr, acked)
	case firstErr != nil:
		return fmt.Errorf("topic %s: %v (%d of %d records produced)", topic, firstErr, acked, lines)
	}
	fmt.Fprintf(c.stderr, "produced %d records to %s\n", acked, topic)
	return nil
}
