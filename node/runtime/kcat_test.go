package runtime_test

// Round trips through kcat (librdkafka) against an in-process cluster.

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// kcatPath finds kcat, or skips the test.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("install kcat (apt-get install kcat) to run this test")
	}
	return p
}

// runKcat runs kcat with stdin and returns its standard output, failing
// the test on an error or after 60 s.
func runKcat(t *testing.T, kcat, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	defer func() { t.Logf("kcat %s: %v", args[0], time.Since(start)) }()
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v (ctx: %v)\nstderr:\n%s", strings.Join(args, " "), err, ctx.Err(), stderr.String())
	}
	return stdout.String()
}

// TestKcatRoundTrip produces keyed lines with kcat -P -K: to a topic that
// kcat's metadata request auto-creates (as `sluice dev` suggests), reads
// them back with kcat -C -e, and lists the topic with kcat -L.
func TestKcatRoundTrip(t *testing.T) {
	kcat := kcatPath(t)
	c := startCluster(t, 3)
	addr := strings.Join(c.Bootstrap(), ",")

	lines := []string{
		"k1:hello",
		"k2:world",
		"k1:again, with k1",
		"k3:spaces and = signs: a=b",
		"k4:ünïcödé ✓",
		"k5:",
	}
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"default", nil},
		{"idempotent", []string{"-X", "enable.idempotence=true"}},
		{"lz4", []string{"-z", "lz4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "kcat-" + tc.name
			args := append([]string{"-P", "-b", addr, "-t", topic, "-K:"}, tc.extra...)
			runKcat(t, kcat, strings.Join(lines, "\n")+"\n", args...)

			var want strings.Builder
			for _, l := range lines {
				k, v, _ := strings.Cut(l, ":")
				fmt.Fprintf(&want, "%s=%s\n", k, v)
			}
			got := runKcat(t, kcat, "", "-C", "-b", addr, "-t", topic, "-e", "-f", "%k=%s\n")
			if got != want.String() {
				t.Errorf("kcat -C read\n%s\nwant\n%s", got, want.String())
			}

			// Offsets and partition: one partition (the default for
			// auto-created topics), offsets 0..n-1.
			want.Reset()
			for i, l := range lines {
				k, _, _ := strings.Cut(l, ":")
				fmt.Fprintf(&want, "0:%d:%s\n", i, k)
			}
			got = runKcat(t, kcat, "", "-C", "-b", addr, "-t", topic, "-e", "-f", "%p:%o:%k\n")
			if got != want.String() {
				t.Errorf("kcat -C read\n%s\nwant\n%s", got, want.String())
			}

			// Reading from an offset.
			got = runKcat(t, kcat, "", "-C", "-b", addr, "-t", topic, "-o", "4", "-e", "-f", "%o %s\n")
			if want := "4 ünïcödé ✓\n5 \n"; got != want {
				t.Errorf("kcat -C -o 4 read %q, want %q", got, want)
			}

			meta := runKcat(t, kcat, "", "-L", "-b", addr, "-t", topic)
			if !strings.Contains(meta, "3 brokers:") || !strings.Contains(meta, fmt.Sprintf("topic \"%s\" with 1 partitions:", topic)) {
				t.Errorf("kcat -L:\n%s", meta)
			}
			if !strings.Contains(meta, "partition 0, leader ") {
				t.Errorf("kcat -L shows no leader for partition 0:\n%s", meta)
			}
		})
	}
}

// TestKcatGroup consumes with kcat's balanced consumer (-G, librdkafka's
// group protocol): a group reads everything, commits on exit, and a second
// run of the same group gets only what was produced since.
func TestKcatGroup(t *testing.T) {
	kcat := kcatPath(t)
	const topic, group = "kcat-group", "kcat-g"
	c := startGroupCluster(t, 3, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 4, 3)
	waitLeaders(t, adm, topic, 4)
	addr := strings.Join(c.Bootstrap(), ",")
	var in strings.Builder
	for i := range 200 {
		fmt.Fprintf(&in, "v%d\n", i)
	}
	runKcat(t, kcat, in.String(), "-P", "-b", addr, "-t", topic)
	consume := func() []string {
		out := runKcat(t, kcat, "", "-b", addr, "-G", group, "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", "%s\n", topic)
		return strings.Fields(out)
	}
	if got := consume(); len(got) != 200 {
		t.Fatalf("the group read %d records, want 200", len(got))
	}
	runKcat(t, kcat, "late1\nlate2\nlate3\n", "-P", "-b", addr, "-t", topic)
	got := consume()
	slices.Sort(got)
	if !slices.Equal(got, []string{"late1", "late2", "late3"}) {
		t.Fatalf("the group's second run read %d records (%.5q...), want only the 3 produced since", len(got), got)
	}
}
