package sim

import (
	"slices"
	"testing"

	"sluice/transport"
)

// hosting maps each workload partition to the brokers hosting a replica.
func hosting(w *World) map[transport.GroupID][]uint64 {
	out := map[transport.GroupID][]uint64{}
	for _, sn := range w.nodes {
		if sn.n == nil {
			continue
		}
		for _, pi := range sn.n.Partitions() {
			if pi.Topic == w.topic {
				out[pi.Group] = append(out[pi.Group], sn.id)
			}
		}
	}
	return out
}

// Reassignments under load move replicas between the 4 brokers: at the
// end of a run every partition is hosted by exactly RF brokers, some of
// them others than at the start, and the run is clean.
func TestReassignScenario(t *testing.T) {
	s := Scenario{Name: "reassign", Doc: "test", Faults: []Weighted{{Fault: "reassign", Weight: 1}}, Nodes: 4, EveryMs: [2]int64{300, 1500}}
	before := MustNew(Config{Seed: 1, DurationMs: 500, Scenario: s})
	before.Run()
	w := MustNew(Config{Seed: 1, DurationMs: 10_000, Faults: true, Scenario: s})
	r := w.Run()
	if len(r.Failures) > 0 {
		t.Fatalf("failures: %v", r.Failures)
	}
	n := 0
	for _, sp := range r.Timeline {
		if sp.Kind == "reassign" {
			n++
		}
	}
	if n < 5 {
		t.Fatalf("%d reassignments in 10 s", n)
	}
	start, end := hosting(before), hosting(w)
	moved := 0
	for g, ids := range end {
		if len(ids) != w.cfg.RF {
			t.Errorf("partition %d hosted by %v at the end, want %d brokers", g.Partition, ids, w.cfg.RF)
		}
		if !slices.Equal(ids, start[g]) {
			moved++
		}
	}
	if moved == 0 {
		t.Errorf("no partition moved in %d reassignments: %v", n, end)
	}
	t.Logf("%d reassignments, %d of %d partitions on other brokers than at the start", n, moved, len(end))
}

// DeleteRecords under load, with no retention (RetentionBytes -1): the
// history records every request and its answer, answers report exactly a
// log start some request asked for, and polls see log starts above 0 — the
// inputs of the checker's unrequested-log-start, so it is exercised.
func TestDeleteRecordsScenario(t *testing.T) {
	s := Scenario{Name: "delete-records", Doc: "test", Faults: []Weighted{{Fault: "delete-records", Weight: 1}},
		EveryMs: [2]int64{300, 1000}, SegmentBytes: 32 << 10, RetentionBytes: -1}
	r := MustNew(Config{Seed: 3, DurationMs: 10_000, Faults: true, Scenario: s}).Run()
	if len(r.Failures) > 0 {
		t.Fatalf("failures: %v", r.Failures)
	}
	h := r.History
	if !h.Retention || !h.DeleteOnly {
		t.Fatalf("Retention %v, DeleteOnly %v: want both", h.Retention, h.DeleteOnly)
	}
	asked := map[[2]int64]bool{}
	answered := 0
	for _, d := range h.Deletes {
		asked[[2]int64{int64(d.Partition), d.Offset}] = true
		if d.Complete >= 0 {
			answered++
			if d.LowWatermark < d.Offset {
				t.Errorf("delete of partition %d to %d answered with log start %d", d.Partition, d.Offset, d.LowWatermark)
			}
		}
	}
	seen := 0
	for _, p := range h.Polls {
		if p.Outcome == OK && p.LogStart > 0 {
			seen++
			if !asked[[2]int64{int64(p.Partition), p.LogStart}] {
				t.Errorf("partition %d: a poll saw log start %d, which no delete asked for", p.Partition, p.LogStart)
			}
		}
	}
	if answered < 5 || seen == 0 {
		t.Fatalf("%d deletes (%d answered), %d polls with a log start above 0: the run does not exercise deletion", len(h.Deletes), answered, seen)
	}
	t.Logf("%d deletes (%d answered), %d polls saw a log start above 0", len(h.Deletes), answered, seen)
}
