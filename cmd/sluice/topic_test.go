package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"sluice/node"
	"sluice/node/groups"
	broker "sluice/node/runtime"
)

// TestTopicCLI runs sluice topic, produce, consume and cluster against an
// in-process cluster: create with configs, list, describe (configs that
// differ from defaults), alter-config (a bad value refused), produce lines
// with keys, consume them back directly and as a group (which commits),
// describe the cluster, delete the topic; errors are one line with a
// non-zero status.
func TestTopicCLI(t *testing.T) {
	c, err := broker.StartDev(broker.DevOptions{DataDir: t.TempDir(),
		Groups: node.GroupConfig{OffsetsPartitions: 1, Coordinator: groups.Config{InitialRebalanceDelayMs: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	boot := strings.Join(c.Bootstrap(), ",")
	ok := func(want string, args ...string) string {
		t.Helper()
		status, out, errOut := runArgs(append(args, "-bootstrap", boot)...)
		if status != exitOK {
			t.Fatalf("%s: status %d, stderr:\n%s", strings.Join(args, " "), status, errOut)
		}
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("%s: output does not match %q:\n%s", strings.Join(args, " "), want, out)
		}
		return out
	}
	fails := func(status int, want string, args ...string) {
		t.Helper()
		got, out, errOut := runArgs(append(args, "-bootstrap", boot)...)
		if got != status || !regexp.MustCompile(want).MatchString(errOut) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 && status == 1 {
			t.Fatalf("%s: status %d (want %d), stdout %q, stderr:\n%s", strings.Join(args, " "), got, status, out, errOut)
		}
	}

	ok(`created topic cli: 2 partitions, replication factor 3`,
		"topic", "create", "cli", "-partitions", "2", "-replication-factor", "3", "-config", "retention.ms=60000", "-config", "cleanup.policy=compact")
	fails(1, `topic cli: TOPIC_ALREADY_EXISTS`, "topic", "create", "cli")
	fails(1, `topic bad: INVALID_CONFIG.*retention.ms`, "topic", "create", "bad", "-config", "retention.ms=soon")
	fails(2, `-config: "nonsense" is not name=value`, "topic", "create", "x", "-config", "nonsense")
	// The create is answered once the broker that took it applied it; the
	// others apply it a little later, and leaders are elected after that.
	// Wait until every broker lists the topic and describes it whole
	// (describe asks any broker: three answers in a row).
	listRe := regexp.MustCompile(`(?m)^cli +2 +3 +[0-9a-f]{32}$`)
	descRe := regexp.MustCompile(`(?s)Topic: cli .*Partitions: 2 +Replication factor: 3\nConfigs: cleanup.policy=compact retention.ms=60000\n.*PARTITION +LEADER +EPOCH +REPLICAS +ISR\n0 +[1-3] +[0-9]+ +[1-3],[1-3],[1-3] +1,2,3\n`)
	waitUntil(t, "cli listed and described with leaders and full ISRs by every broker", func() bool {
		for range 3 {
			st, out, _ := runArgs("topic", "list", "-bootstrap", boot)
			if st != exitOK || !listRe.MatchString(out) {
				return false
			}
			st, out, _ = runArgs("topic", "describe", "cli", "-bootstrap", boot)
			if st != exitOK || !descRe.MatchString(out) {
				return false
			}
		}
		return true
	})
	fails(1, `topic nope: UNKNOWN_TOPIC_OR_PARTITION`, "topic", "describe", "nope")

	ok(`altered topic cli`, "topic", "alter-config", "cli", "-set", "retention.ms=120000", "-delete", "cleanup.policy", "-set", "max.message.bytes=100000")
	fails(1, `topic cli: INVALID_CONFIG.*max.message.bytes`, "topic", "alter-config", "cli", "-set", "max.message.bytes=lots")
	ok(`the change is valid \(not made\)`, "topic", "alter-config", "cli", "-set", "flush.ms=10", "-validate-only")
	fails(2, `nothing to change`, "topic", "alter-config", "cli")
	waitUntil(t, "the alter on every broker", func() bool {
		for range 3 { // describe asks any broker
			_, out, _ := runArgs("topic", "describe", "cli", "-bootstrap", boot)
			if !strings.Contains(out, "Configs: max.message.bytes=100000 retention.ms=120000\n") {
				return false
			}
		}
		return true
	})

	saved := stdin
	stdin = strings.NewReader("k1:one\nk2:two\nthree\n")
	t.Cleanup(func() { stdin = saved })
	status, _, errOut := runArgs("produce", "-topic", "cli", "-key-sep", ":", "-bootstrap", boot)
	if status != exitOK || !strings.Contains(errOut, "produced 3 records to cli") {
		t.Fatalf("produce: status %d, stderr:\n%s", status, errOut)
	}
	out := ok(`.`, "consume", "-topic", "cli", "-from-beginning", "-n", "3", "-key-sep", "=")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !sameSet(lines, []string{"k1=one", "k2=two", "=three"}) {
		t.Fatalf("consumed %q", lines)
	}
	out = ok(`.`, "consume", "-topic", "cli", "-group", "cli-g", "-from-beginning", "-n", "3")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); !sameSet(lines, []string{"one", "two", "three"}) {
		t.Fatalf("consumed as a group %q", lines)
	}
	// -e ends at the end the topic had (found by a README walkthrough: -n
	// with fewer records waited for ever): from the start, all three; as
	// the group, which committed them all, none; from the end, none.
	out = ok(`.`, "consume", "-topic", "cli", "-from-beginning", "-e")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); !sameSet(lines, []string{"one", "two", "three"}) {
		t.Fatalf("consumed to the end %q", lines)
	}
	ok(`^$`, "consume", "-topic", "cli", "-group", "cli-g", "-from-beginning", "-e")
	ok(`^$`, "consume", "-topic", "cli", "-e")
	ok(`(?m)^cli-g +Empty`, "group", "list")
	ok(`(?m)^cli +[01] +[0-9]+ +[0-9]+ +0`, "group", "describe", "cli-g") // committed: no lag
	fails(1, `topic nope: UNKNOWN_TOPIC_OR_PARTITION`, "consume", "-topic", "nope", "-n", "1")
	fails(2, `-topic is required`, "produce")

	// DeleteRecords: every partition up to its end, then past the end.
	out = ok(`(?m)^topic cli partition 0: low watermark [0-3]\ntopic cli partition 1: low watermark [0-3]$`,
		"topic", "delete-records", "cli", "-offset", "-1")
	var w0, w1 int
	if _, err := fmt.Sscanf(out, "topic cli partition 0: low watermark %d\ntopic cli partition 1: low watermark %d", &w0, &w1); err != nil || w0+w1 != 3 {
		t.Fatalf("low watermarks %d and %d (%v), want 3 records between them", w0, w1, err)
	}
	ok(`^$`, "consume", "-topic", "cli", "-from-beginning", "-e") // nothing left above the log start
	fails(1, `topic cli partition 1: OFFSET_OUT_OF_RANGE`, "topic", "delete-records", "cli", "-partition", "1", "-offset", "4")
	fails(2, `-offset is required`, "topic", "delete-records", "cli")
	fails(2, `-offset -5: give an offset`, "topic", "delete-records", "cli", "-offset", "-5")
	fails(1, `topic nope: UNKNOWN_TOPIC_OR_PARTITION`, "topic", "delete-records", "nope", "-offset", "1")
	// Named partitions skip the metadata check: the broker's error is shown,
	// not kadm's shard bookkeeping ("request DeleteRecords has 1 separate
	// shard errors").
	fails(1, `^sluice topic delete-records: topic nope: UNKNOWN_TOPIC_OR_PARTITION`, "topic", "delete-records", "nope", "-partition", "0", "-offset", "1")

	ok(`(?s)Cluster ID: `+regexp.QuoteMeta(c.ClusterID())+`\nController: [1-3]\n.*BROKER +ADDRESS +ROLE +DATA-DIR +REPLICAS +BYTES\n1 +127\.0\.0\.1:[0-9]+ +broker.* [0-9]+ +[0-9]+\n`,
		"cluster", "describe")

	ok(`deleted topic cli`, "topic", "delete", "cli")
	fails(1, `topic cli: UNKNOWN_TOPIC_OR_PARTITION`, "topic", "delete", "cli")
	for _, args := range [][]string{{"topic", "list"}, {"cluster", "describe"}, {"produce", "-topic", "x"}, {"consume", "-topic", "x"}} {
		status, _, errOut := runArgs(append(args, "-bootstrap", "127.0.0.1:1", "-timeout", "2s")...)
		if status != 1 || !strings.Contains(errOut, "cannot reach the cluster at 127.0.0.1:1") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v, no cluster: status %d, stderr:\n%s", args, status, errOut)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestTopicHelp(t *testing.T) {
	for _, sub := range []string{"topic", "cluster"} {
		if status, out, _ := runArgs("help", sub); status != exitOK || !strings.Contains(out, "usage: sluice "+sub) {
			t.Fatalf("help %s: status %d, output:\n%s", sub, status, out)
		}
		if status, _, errOut := runArgs(sub); status != exitUsage || !strings.Contains(errOut, "usage: sluice "+sub) {
			t.Fatalf("%s: status %d, stderr:\n%s", sub, status, errOut)
		}
	}
	if status, _, errOut := runArgs("topic", "create", "-h"); status != exitOK || !strings.Contains(errOut, "-replication-factor") {
		t.Fatalf("topic create -h: status %d, stderr:\n%s", status, errOut)
	}
	if status, _, errOut := runArgs("consume", "-h"); status != exitOK || !strings.Contains(errOut, "-from-beginning") {
		t.Fatalf("consume -h: status %d, stderr:\n%s", status, errOut)
	}
}
