package scenarios

import (
	"testing"

	"sluice/sim"
)

// The catalogue is well formed: unique names, a doc line each, fault
// kinds that exist.
func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range All() {
		if seen[s.Name] {
			t.Errorf("scenario %s listed twice", s.Name)
		}
		seen[s.Name] = true
		if s.Doc == "" {
			t.Errorf("scenario %s has no doc line", s.Name)
		}
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
	}
	for _, f := range sim.FaultNames() {
		if f[1] == "" {
			t.Errorf("fault kind %s has no doc line", f[0])
		}
	}
	if _, err := Find("no-such-scenario"); err == nil {
		t.Error("Find of an unknown scenario: no error")
	}
}

// Every scenario runs alone, and its faults fire: within a few short
// seeds the run's timeline holds a fault of the scenario's kinds, and the
// simulator sees no violation of its own.
func TestEveryScenarioRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario")
	}
	for _, s := range All() {
		kinds := map[string]bool{}
		for _, f := range s.Faults {
			kinds[f.Fault] = true
		}
		fired := len(kinds) == 0
		for seed := uint64(1); seed <= 5 && !fired; seed++ {
			r := sim.MustNew(sim.Config{Seed: seed, DurationMs: 6000, LivenessMs: 20_000, Faults: true, Scenario: s}).Run()
			for _, f := range r.Failures {
				t.Errorf("scenario %s seed %d: %.400s", s.Name, seed, f)
			}
			for _, sp := range r.Timeline {
				fired = fired || sp.Kind != ""
			}
		}
		if !fired {
			t.Errorf("scenario %s: no fault fired in 5 seeds of 6 s", s.Name)
		}
	}
}
