package main

import (
	"testing"

	"sluice/scenarios"
	"sluice/sim"
)

// The far-behind-snapshot scenario: a broker paused or cut off while
// retention deletes what it has not replicated is caught up by raft
// snapshots (the simulator counts them), records really are deleted (the
// final read starts above offset 0), and the checker finds no violation,
// excusing only records below the log start.
func TestSimFarBehindSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs simulations")
	}
	s, err := scenarios.Find("far-behind-snapshot")
	if err != nil {
		t.Fatal(err)
	}
	snapshots, expired := 0, 0
	for seed := uint64(1); seed <= 3; seed++ {
		r := sim.MustNew(sim.Config{Seed: seed, DurationMs: 20_000, Faults: true, Scenario: s}).Run()
		for _, f := range r.Failures {
			t.Errorf("seed %d: %.400s", seed, f)
		}
		violations, res := judgeResult(r.History)
		for _, v := range violations {
			t.Errorf("seed %d: %.400s", seed, v)
		}
		if !r.History.Retention {
			t.Fatal("the scenario's history does not say retention is on")
		}
		deleted := false
		for _, p := range r.History.Polls {
			deleted = deleted || (p.Final && p.LogStart > 0)
		}
		if !deleted {
			t.Errorf("seed %d: no final read started above offset 0: retention deleted nothing", seed)
		}
		snapshots += r.Stats.Snapshots
		expired += res.Stats.Expired
		t.Logf("seed %d: %d snapshots delivered, %d acknowledged records deleted before any read; %s", seed, r.Stats.Snapshots, res.Stats.Expired, res)
	}
	if snapshots == 0 {
		t.Error("no replica was caught up from a snapshot in 3 seeds")
	}
}
