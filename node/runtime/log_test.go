package runtime_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"sluice/node/runtime"
)

// Each broker logs one "broker started" and one "broker stopped" line, and
// one "leadership changed" line, naming the new leader and term, for each
// change of leader it sees in a group it hosts.
func TestBrokerLogLines(t *testing.T) {
	logs := newLogLines()
	c, err := runtime.StartDev(runtime.DevOptions{Brokers: 3, DataDir: t.TempDir(), Logger: slog.New(logs)})
	if err != nil {
		t.Fatalf("StartDev: %v", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()
	adm := newAdmin(t, c)
	createTopic(t, adm, "logs", 1, 3)
	leader := waitLeaders(t, adm, "logs", 1).Partitions[0].Leader
	for id := 1; id <= 3; id++ {
		if got := logs.matching("broker started", fmt.Sprintf("broker=%d", id)); len(got) != 1 {
			t.Errorf("broker %d: %d \"broker started\" lines, want 1: %q", id, len(got), got)
		}
	}
	before := len(logs.matching("leadership changed", "topic=logs"))
	if before == 0 {
		t.Error("no \"leadership changed\" line for the new topic's first leader")
	}
	c.StopBroker(leader)
	waitFor(t, 30*time.Second, "a new leader of logs/0", func() bool {
		l := waitLeaders(t, adm, "logs", 1).Partitions[0].Leader
		return l != leader
	})
	// Both remaining replicas log the change (one line each), naming the
	// new leader.
	waitFor(t, 10*time.Second, "the leadership change logged by both remaining brokers", func() bool {
		return len(logs.matching("leadership changed", "topic=logs")) >= before+2
	})
	for _, l := range logs.matching("leadership changed", "topic=logs") {
		if len(logs.matching(l)) != 1 {
			t.Errorf("line logged more than once: %q", l)
		}
	}
	if got := logs.matching("broker stopped", fmt.Sprintf("broker=%d", leader)); len(got) != 1 {
		t.Errorf("stopped broker %d: %d \"broker stopped\" lines, want 1: %q", leader, len(got), got)
	}
	c.Stop()
	stopped = true
	for id := 1; id <= 3; id++ {
		if got := logs.matching("broker stopped", fmt.Sprintf("broker=%d", id)); len(got) != 1 {
			t.Errorf("broker %d: %d \"broker stopped\" lines, want 1: %q", id, len(got), got)
		}
	}
}
