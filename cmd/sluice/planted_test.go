//go:build plantbugs

package main

import (
	"strings"
	"testing"

	"sluice/node/groups"
	"sluice/partition"
	"sluice/scenarios"
	"sluice/sim"
)

// plantedCases pairs each planted bug with the scenario whose faults
// expose it: a bug that loses unsynced acknowledged entries needs power
// losses, one in truncation needs leaders deposed on a minority, one in
// applying needs quorums lost and regained, one in a coordinator needs
// it to crash, one in retention needs retention and leaders moving. Kitchen-sink finds them too, but more slowly: the point is
// that the net has no holes, not that one schedule finds everything.
var plantedCases = []struct {
	bug, scenario string
	group         bool // planted in node/groups rather than partition
}{
	{"ack-before-fsync", "majority-power-loss", false},
	{"fetch-above-hw", "kitchen-sink", false},
	{"skip-truncate", "majority-minority", false},
	{"apply-before-commit", "majority-minority", false},
	{"log-start-per-replica", "large-records", false},
	{"delete-records-local", "delete-records", false},
	{"commit-before-store", "crash-restart", true},
	{"no-replay", "crash-restart", true},
	{"latest-log-end", "kitchen-sink", false},
	{"fenced-commit", "member-stall", true},
	{"delete-records-one-more", "delete-records", false},
	{"delete-records-no-op", "delete-records", false},
}

// TestPlantedBugsAreCaught is the proof that the net has no holes: for
// each bug planted in the partition core or the group coordinator
// (plant_bugs.go files, present only in plantbugs builds), seeds of its
// scenario run until the checker flags the run from the history alone.
// Each must be caught within 100 seeds.
//
//	go test -tags plantbugs -run PlantedBugs -v ./cmd/sluice/
func TestPlantedBugsAreCaught(t *testing.T) {
	for _, tc := range plantedCases {
		t.Run(tc.bug, func(t *testing.T) {
			if tc.group {
				groups.PlantedBug = tc.bug
				defer func() { groups.PlantedBug = "" }()
			} else {
				partition.PlantedBug = tc.bug
				defer func() { partition.PlantedBug = "" }()
			}
			sc, err := scenarios.Find(tc.scenario)
			if err != nil {
				t.Fatal(err)
			}
			for seed := uint64(1); seed <= 100; seed++ {
				r := sim.MustNew(sim.Config{Seed: seed, DurationMs: 10_000, Faults: true, Scenario: sc}).Run()
				// The checker must see it in the history; the simulator's
				// own findings (assertions that fired) are reported beside.
				if problems := judge(r.History); len(problems) > 0 {
					t.Logf("checker caught it in scenario %s after %d seed(s): %s", tc.scenario, seed, firstLine(problems[0]))
					if len(r.Failures) > 0 {
						t.Logf("  the implementation's assertions fired too: %s", firstLine(r.Failures[0]))
					}
					return
				}
			}
			t.Fatalf("planted bug %q not caught in 100 seeds of %s", tc.bug, tc.scenario)
		})
	}
}

// judge describes a history's violations.
func judge(h *sim.History) []string {
	problems, _ := judgeResult(h)
	return problems
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}
