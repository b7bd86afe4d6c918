//go:build plantbugs

package main

import (
	"strings"
	"testing"

	"sluice/node/groups"
	"sluice/partition"
	"sluice/sim"
)

// TestPlantedBugsAreCaught is the proof that the net has no holes: for
// each bug planted in the partition core (plant_bugs.go, present only in
// plantbugs builds), seeds run until the simulator or the checker flags
// the run. Each must be caught within 100 seeds.
//
//	go test -tags plantbugs -run PlantedBugs -v ./cmd/sluice/
func TestPlantedBugsAreCaught(t *testing.T) {
	for _, bug := range []string{"ack-before-fsync", "fetch-above-hw", "skip-truncate", "apply-before-commit"} {
		t.Run(bug, func(t *testing.T) {
			partition.PlantedBug = bug
			defer func() { partition.PlantedBug = "" }()
			for seed := uint64(1); seed <= 100; seed++ {
				r := sim.MustNew(sim.Config{Seed: seed, DurationMs: 10_000, Faults: true}).Run()
				// The checker must see it in the history; the simulator's
				// own findings (assertions that fired) are reported beside.
				if problems := judge(r.History); len(problems) > 0 {
					t.Logf("checker caught it after %d seed(s): %s", seed, firstLine(problems[0]))
					if len(r.Failures) > 0 {
						t.Logf("  the implementation's assertions fired too: %s", firstLine(r.Failures[0]))
					}
					return
				}
			}
			t.Fatalf("planted bug %q not caught in 100 seeds", bug)
		})
	}
}

// TestPlantedGroupBugsAreCaught does the same for bugs planted in the
// group coordinator (node/groups/plant_bugs.go): the consumer-group checks
// must catch each within 100 seeds.
func TestPlantedGroupBugsAreCaught(t *testing.T) {
	for _, bug := range []string{"commit-before-store", "no-replay"} {
		t.Run(bug, func(t *testing.T) {
			groups.PlantedBug = bug
			defer func() { groups.PlantedBug = "" }()
			for seed := uint64(1); seed <= 100; seed++ {
				r := sim.MustNew(sim.Config{Seed: seed, DurationMs: 10_000, Faults: true}).Run()
				if problems := judge(r.History); len(problems) > 0 {
					t.Logf("checker caught it after %d seed(s): %s", seed, firstLine(problems[0]))
					return
				}
			}
			t.Fatalf("planted bug %q not caught in 100 seeds", bug)
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
