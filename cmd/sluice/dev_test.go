package main

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// `sluice dev` as a process: it prints how long it took to be ready, the
// bootstrap addresses and a kcat example; a kgo producer (acks=all) and
// consumer work against it at once; SIGINT stops it (exit 0, one "broker
// stopped" line per broker); started again on its data directory it still
// holds the records, and with -fresh it holds nothing.
func TestDevCommand(t *testing.T) {
	dir := t.TempDir()
	start := func(extra ...string) (*proc, []string, time.Time) {
		t.Helper()
		began := time.Now()
		p := startProc(t, append([]string{"dev", "-port", "0", "-data-dir", dir}, extra...)...)
		p.waitOutput("try:  echo hello | kcat", 30*time.Second)
		m := regexp.MustCompile(`(?m)^bootstrap: (\S+)$`).FindStringSubmatch(p.output())
		if m == nil {
			t.Fatalf("no bootstrap line:\n%s", p.output())
		}
		seeds := strings.Split(m[1], ",")
		if len(seeds) != 3 {
			t.Fatalf("bootstrap %q: want 3 brokers", m[1])
		}
		if !regexp.MustCompile(`sluice dev: 3 brokers ready in \S+ \(cluster \S+, data in ` + regexp.QuoteMeta(dir) + `\)`).MatchString(p.output()) {
			t.Errorf("no ready line:\n%s", p.output())
		}
		return p, seeds, began
	}
	stop := func(p *proc) {
		t.Helper()
		if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		p.wait(30 * time.Second)
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit code %d after SIGINT, want 0:\n%s", code, p.output())
		}
		out := p.output()
		if !strings.Contains(out, "sluice dev: stopping") || strings.Count(out, `msg="broker stopped"`) != 3 {
			t.Errorf("want a stopping line and 3 \"broker stopped\" lines:\n%s", out)
		}
	}
	consume := func(seeds []string) []string {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("demo"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var got []string
		for len(got) < 3 && ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		return got
	}
	want := []string{"one", "two", "three"}

	p, seeds, began := start("-fresh")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("demo"),
		kgo.AllowAutoTopicCreation()) // as Kafka, sluice auto-creates for clients that ask
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, v := range want {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %q: %v", v, err)
		}
	}
	t.Logf("process start to three acks=all records acknowledged (topic auto-created): %v", time.Since(began))
	cl.Close()
	if got := consume(seeds); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("read %q, want %q", got, want)
	}
	if n := strings.Count(p.output(), `msg="broker started"`); n != 3 {
		t.Errorf("%d \"broker started\" lines, want 3:\n%s", n, p.output())
	}
	stop(p)

	// Again on the same data directory: the records are there.
	p, seeds, _ = start()
	if got := consume(seeds); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after a restart: read %q, want %q", got, want)
	}
	stop(p)

	// -fresh wipes it: the topic is gone.
	p, seeds, _ = start("-fresh")
	cl, err = kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("demo")
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	cl.Close()
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if len(resp.Topics) != 1 || !errors.Is(kerr.ErrorForCode(resp.Topics[0].ErrorCode), kerr.UnknownTopicOrPartition) {
		t.Errorf("after -fresh: metadata for demo %+v, want UNKNOWN_TOPIC_OR_PARTITION", resp.Topics)
	}
	stop(p)
}
