package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"sluice/node"
	"sluice/node/groups"
	broker "sluice/node/runtime"
)

// TestGroupCLI runs sluice group against an in-process cluster: a group
// with one member and known lag is listed and described; reset-offsets
// refuses while the member is there, then plans without changing anything
// and commits with -execute; delete removes the group.
func TestGroupCLI(t *testing.T) {
	const topic, group = "cli", "cli-g"
	c, err := broker.StartDev(broker.DevOptions{DataDir: t.TempDir(),
		Groups: node.GroupConfig{OffsetsPartitions: 3, Coordinator: groups.Config{InitialRebalanceDelayMs: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := func(opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	adm := kadm.NewClient(client())
	if _, err := adm.CreateTopic(ctx, 2, 3, nil, topic); err != nil {
		t.Fatal(err)
	}
	// 100 records in partition 0 and 60 in partition 1, record i stamped
	// base + i seconds.
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	prod := client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for i := range 160 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(min(i/100, 1)), Value: []byte("v"),
			Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	committed := func() map[int32]int64 {
		t.Helper()
		r, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			err = r.Error()
		}
		if err != nil {
			t.Fatalf("FetchOffsets: %v", err)
		}
		out := map[int32]int64{}
		r.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
		return out
	}
	wantCommitted := func(what string, p0, p1 int64) {
		t.Helper()
		if got := committed(); got[0] != p0 || got[1] != p1 || len(got) != 2 {
			t.Fatalf("%s: committed %v, want 0:%d 1:%d", what, got, p0, p1)
		}
	}
	var o kadm.Offsets
	o.AddOffset(topic, 0, 40, -1)
	o.AddOffset(topic, 1, 10, -1)
	if err := adm.CommitAllOffsets(ctx, group, o); err != nil {
		t.Fatal(err)
	}

	// A member that reads but never commits: the lag stays 60 and 50.
	member := client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(), kgo.ClientID("cli-test-member"))
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		member.PollFetches(ctx)
	}()
	<-polled
	state := func() string {
		d, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return err.Error()
		}
		return d[group].State
	}
	waitUntil(t, "the group to be stable", func() bool { return state() == "Stable" })

	gcli := func(wantStatus int, args ...string) (string, string) {
		t.Helper()
		args = append([]string{"group", args[0], "-bootstrap", strings.Join(c.Bootstrap(), ",")}, args[1:]...)
		status, out, errOut := runArgs(args...)
		if status != wantStatus {
			t.Fatalf("sluice %s: status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), status, wantStatus, out, errOut)
		}
		return out, errOut
	}
	wantLines := func(what, out string, patterns ...string) {
		t.Helper()
		for _, p := range patterns {
			if !regexp.MustCompile(`(?m)` + p).MatchString(out) {
				t.Errorf("%s: no line matches %q in:\n%s", what, p, out)
			}
		}
	}

	out, _ := gcli(exitOK, "list")
	wantLines("list", out, `^GROUP\s+STATE\s+PROTOCOL-TYPE\s+MEMBERS$`, `^cli-g\s+Stable\s+consumer\s+1$`)

	out, _ = gcli(exitOK, "describe", group)
	wantLines("describe", out,
		`^GROUP cli-g\s+state Stable\s+protocol consumer/\S+\s+coordinator \d\s+members 1$`,
		`^\S+\s+-\s+cli-test-member\s+/127\.0\.0\.1\s+cli\[0,1\]$`,
		`^cli\s+0\s+40\s+100\s+60\s+\S+\s+cli-test-member\s+/127\.0\.0\.1$`,
		`^cli\s+1\s+10\s+60\s+50\s+`,
		`^total lag 110 records`)
	_, errOut := gcli(1, "describe", "no-such-group")
	wantLines("describe of an unknown group", errOut, `group no-such-group does not exist`)

	_, errOut = gcli(1, "reset-offsets", "-group", group, "-topic", topic, "-to-earliest", "-execute")
	wantLines("reset-offsets on an active group", errOut, `group cli-g is not empty \(state Stable, 1 members\): stop its consumers first`)
	wantCommitted("after the refused reset", 40, 10)
	_, errOut = gcli(1, "delete", group)
	wantLines("delete of an active group", errOut, `group cli-g has active members`)

	member.Close() // leaves the group
	waitUntil(t, "the group to be empty", func() bool { return state() == "Empty" })

	out, _ = gcli(exitOK, "reset-offsets", "-group", group, "-topic", topic, "-to-earliest")
	wantLines("dry run", out, `^cli-g\s+cli\s+0\s+40\s+0$`, `^cli-g\s+cli\s+1\s+10\s+0$`, `^dry run: nothing changed`)
	wantCommitted("after the dry run", 40, 10)

	out, _ = gcli(exitOK, "reset-offsets", "-group", group, "-topic", topic+":0", "-to-offset", "70", "-execute")
	wantLines("-to-offset", out, `^cli-g\s+cli\s+0\s+40\s+70$`, `^committed 1 offsets for group cli-g$`)
	wantCommitted("after -to-offset 70 on partition 0", 70, 10)

	gcli(exitOK, "reset-offsets", "-group", group, "-all-topics", "-shift-by", "-20", "-execute")
	wantCommitted("after -shift-by -20", 50, 0) // clamped at the log start

	gcli(exitOK, "reset-offsets", "-group", group, "-topic", topic, "-to-latest", "-execute")
	wantCommitted("after -to-latest", 100, 60)

	gcli(exitOK, "reset-offsets", "-group", group, "-topic", topic+":1", "-to-datetime", "2000-01-01T00:00:00Z", "-execute")
	wantCommitted("after -to-datetime long ago", 100, 0)

	out, _ = gcli(exitOK, "reset-offsets", "-group", group, "-topic", topic+":0", "-to-datetime", "2024-01-01T00:00:39.5Z", "-execute")
	wantLines("-to-datetime within the log", out, `^cli-g\s+cli\s+0\s+100\s+40$`)
	wantCommitted("after -to-datetime of record 40", 40, 0)
	gcli(exitOK, "reset-offsets", "-group", group, "-topic", topic+":1", "-to-datetime", "2100-01-01T00:00:00Z", "-execute")
	wantCommitted("after -to-datetime past every record", 40, 60)

	out, _ = gcli(exitOK, "describe", group)
	wantLines("describe of the empty group", out, `^GROUP cli-g\s+state Empty`, `^cli\s+0\s+40\s+100\s+60\s+-`, `^cli\s+1\s+60\s+60\s+0\s+-`)

	out, _ = gcli(exitOK, "delete", group)
	wantLines("delete", out, `^deleted group cli-g$`)
	if got := committed(); len(got) != 0 {
		t.Fatalf("offsets after delete: %v", got)
	}
	_, errOut = gcli(1, "delete", group)
	wantLines("delete again", errOut, `group cli-g does not exist`)

	// Command-line mistakes are usage errors, named.
	for _, bad := range [][]string{
		{"reset-offsets", "-topic", topic, "-to-earliest"},
		{"reset-offsets", "-group", group, "-to-earliest"},
		{"reset-offsets", "-group", group, "-topic", topic},
		{"reset-offsets", "-group", group, "-topic", topic, "-to-earliest", "-to-offset", "3"},
		{"reset-offsets", "-group", group, "-topic", topic, "-to-datetime", "yesterday"},
		{"reset-offsets", "-group", group, "-topic", topic + ":x", "-to-earliest"},
		{"describe"},
		{"frob"},
	} {
		gcli(exitUsage, bad...)
	}
	_, errOut = gcli(1, "reset-offsets", "-group", group, "-topic", "no-such-topic", "-to-earliest")
	wantLines("unknown topic", errOut, `topic no-such-topic does not exist`)
}

// TestGroupCLIUnreachable: no broker is one clear error, quickly.
func TestGroupCLIUnreachable(t *testing.T) {
	status, _, errOut := runArgs("group", "list", "-bootstrap", "127.0.0.1:1", "-timeout", "3s")
	if status != 1 || !strings.Contains(errOut, "cannot reach the cluster at 127.0.0.1:1") || strings.Contains(errOut, "goroutine") {
		t.Fatalf("status %d, stderr:\n%s", status, errOut)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGroupHelp(t *testing.T) {
	if status, out, _ := runArgs("help", "group"); status != exitOK || !strings.Contains(out, "reset-offsets -group G") {
		t.Fatalf("help group: status %d, output:\n%s", status, out)
	}
	if status, _, errOut := runArgs("group"); status != exitUsage || !strings.Contains(errOut, "usage: sluice group") {
		t.Fatalf("group: status %d, stderr:\n%s", status, errOut)
	}
	if status, _, errOut := runArgs("group", "reset-offsets", "-h"); status != exitOK || !strings.Contains(errOut, "-shift-by") {
		t.Fatalf("group reset-offsets -h: status %d, stderr:\n%s", status, errOut)
	}
}
