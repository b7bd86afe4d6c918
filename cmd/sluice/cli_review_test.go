package main

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"sluice/node"
	"sluice/node/groups"
	broker "sluice/node/runtime"
)

func cliCluster(t *testing.T) (*broker.Cluster, string) {
	c, err := broker.StartDev(broker.DevOptions{DataDir: t.TempDir(),
		Groups: node.GroupConfig{OffsetsPartitions: 1, Coordinator: groups.Config{InitialRebalanceDelayMs: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c, strings.Join(c.Bootstrap(), ",")
}

// topic create refuses -partitions beyond 10,000 (found by review: large
// values wrapped around int32 and created another topic).
func TestTopicCreatePartitionsRange(t *testing.T) {
	_, boot := cliCluster(t)
	status, out, errOut := runArgs("topic", "create", "wrap", "-partitions", "4294967298", "-bootstrap", boot)
	if status != exitUsage {
		t.Fatalf("status %d (want 2, a usage error), stdout %q stderr %q", status, out, errOut)
	}
}

// A dry run must change nothing: afterwards no group appears.
func TestResetDryRunCreatesNoGroup(t *testing.T) {
	_, boot := cliCluster(t)
	if s, _, e := runArgs("topic", "create", "t", "-partitions", "1", "-bootstrap", boot); s != 0 {
		t.Fatal(e)
	}
	s, out, e := runArgs("group", "reset-offsets", "-group", "ghost", "-topic", "t", "-to-earliest", "-bootstrap", boot)
	t.Logf("dry run: %d %q %q", s, out, e)
	_, out, _ = runArgs("group", "list", "-bootstrap", boot)
	if strings.Contains(out, "ghost") {
		t.Fatalf("dry run created the group:\n%s", out)
	}
}

// A broker that accepts but never answers: -timeout 1s bounds the wait (10 s allowed: a loaded machine).
func TestSilentBootstrapBoundedByTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, args := range [][]string{{"topic", "list"}, {"consume", "-topic", "x"}, {"produce", "-topic", "x"}, {"group", "list"}} {
		start := time.Now()
		status, _, errOut := runArgs(append(args, "-bootstrap", ln.Addr().String(), "-timeout", "1s")...)
		if el := time.Since(start); el > 10*time.Second || status != 1 {
			t.Errorf("%v: status %d after %v, stderr %q", args, status, el, errOut)
		}
	}
}

// A -timeout of zero or less is a usage error, not "cannot reach the
// cluster" (found by review).
func TestClientTimeoutPositive(t *testing.T) {
	_, boot := cliCluster(t)
	for _, to := range []string{"0", "-5s"} {
		s, out, e := runArgs("topic", "list", "-bootstrap", boot, "-timeout", to)
		t.Logf("-timeout %s: %d %q %q", to, s, out, e)
		if s != exitUsage || strings.Contains(e, "cannot reach the cluster") {
			t.Errorf("-timeout %s: status %d, stderr %q; want a usage error (status 2) about -timeout", to, s, e)
		}
	}
}

// reset-offsets -shift-by saturates: a huge forward shift clamps to the
// log end, not (overflowing) to the start (found by review).
func TestShiftBySaturates(t *testing.T) {
	_, boot := cliCluster(t)
	if s, _, e := runArgs("topic", "create", "s", "-partitions", "1", "-bootstrap", boot); s != 0 {
		t.Fatal(e)
	}
	saved := stdin
	t.Cleanup(func() { stdin = saved })
	stdin = strings.NewReader("1\n2\n3\n")
	if s, _, e := runArgs("produce", "-topic", "s", "-bootstrap", boot); s != 0 {
		t.Fatal(e)
	}
	if s, _, e := runArgs("consume", "-topic", "s", "-group", "G", "-from-beginning", "-n", "1", "-bootstrap", boot); s != 0 {
		t.Fatal(e)
	}
	s, out, e := runArgs("group", "reset-offsets", "-group", "G", "-topic", "s", "-shift-by", "9223372036854775807", "-bootstrap", boot)
	t.Logf("%d %q %q", s, out, e)
	if !regexp.MustCompile(`(?m)^G +s +0 +1 +3 *$`).MatchString(out) {
		t.Fatalf("shifting forward from 1 should clamp to the end (3):\n%s", out)
	}
}
