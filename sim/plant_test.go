//go:build plantbugs

package sim

import (
	"strings"
	"testing"

	"sluice/partition"
)

// The planted bug "wiped-votes" lets an amnesic replica vote and campaign:
// the simulator's identity check must catch it.
//
//	go test -tags plantbugs -run WipedVotes -v ./sim/
func TestPlantedWipedVotesCaught(t *testing.T) {
	partition.PlantedBug = "wiped-votes"
	defer func() { partition.PlantedBug = "" }()
	for seed := uint64(1); seed <= 100; seed++ {
		r := MustNew(Config{Seed: seed, DurationMs: 10000, Faults: true}).Run()
		for _, f := range r.Failures {
			if strings.Contains(f, "identity:") {
				t.Logf("caught after %d seed(s): %s", seed, f)
				return
			}
		}
	}
	t.Fatal("planted bug wiped-votes not caught in 100 seeds")
}
