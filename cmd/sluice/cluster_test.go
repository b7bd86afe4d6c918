package main

import (
	"regexp"
	"strings"
	"testing"

	broker "sluice/node/runtime"
)

// sluice cluster status: healthy with every broker up and every partition
// led and in sync (exit 0); with a broker stopped it says which, and
// exits 1.
func TestClusterStatus(t *testing.T) {
	c, err := broker.StartDev(broker.DevOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	boot := strings.Join(c.Bootstrap(), ",")
	if status, _, errOut := runArgs("topic", "create", "st", "-partitions", "3", "-replication-factor", "3", "-bootstrap", boot); status != 0 {
		t.Fatalf("topic create: %s", errOut)
	}
	var out string
	waitUntil(t, "a healthy status", func() bool {
		var status int
		status, out, _ = runArgs("cluster", "status", "-bootstrap", boot)
		return status == exitOK
	})
	for _, want := range []string{
		`cluster [^:]+: controller [1-3], 3 of 3 brokers up, 3 partitions in 1 topics`,
		`(?m)^BROKER +ADDRESS +STATE +LEADS +HOSTS +IN-SYNC$`,
		`(?m)^1 +127\.0\.0\.1:[0-9]+ +up +[0-3] +3 +3$`,
		`offline partitions \(no leader\): 0`,
		`under-replicated partitions \(fewer in sync than replicas\): 0`,
		`status: healthy`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("status output does not match %q:\n%s", want, out)
		}
	}

	c.StopBroker(3)
	status, out, _ := runArgs("cluster", "status", "-bootstrap", boot, "-timeout", "10s")
	if status != 1 || !regexp.MustCompile(`(?m)^3 +127\.0\.0\.1:[0-9]+ +DOWN `).MatchString(out) ||
		!strings.Contains(out, "2 of 3 brokers up") || !strings.Contains(out, "status: DEGRADED") {
		t.Fatalf("with broker 3 stopped: status %d, output:\n%s", status, out)
	}
}
