package sim

import (
	"fmt"
	"slices"
	"strings"
)

// A Scenario is a fault schedule, written as data: which faults the nemesis
// draws and how often (Faults, by weight), and the cluster it runs on. The
// named catalogue lives in package scenarios (`sluice sim -scenario NAME`);
// KitchenSink, the default, mixes every fault. A fault is a faultKind: a
// name, a line of documentation, and the code that starts it on a broker
// drawn at random (it heals itself, and may decline when starting it would
// take more than a minority of brokers down).

// Scenario is one named fault schedule.
type Scenario struct {
	Name string
	Doc  string
	// Faults the nemesis draws, by weight. Empty: no faults (a baseline).
	Faults []Weighted
	// EveryMs: the nemesis starts a fault every EveryMs[0]–EveryMs[1]
	// virtual milliseconds (default 500–2,000).
	EveryMs [2]int64
	// Overrides of the run's configuration, applied where the run's own
	// Config leaves the field zero.
	Nodes, Partitions, RF int
	// RetentionBytes and SegmentBytes: the workload topic's
	// retention.bytes and segment.bytes (Config's).
	RetentionBytes, SegmentBytes int64
	// ValueBytes: Config's.
	ValueBytes int
}

// Weighted is a fault kind and its relative weight in a scenario.
type Weighted struct {
	Fault  string
	Weight int
}

// faultKind is one fault the nemesis can start.
type faultKind struct {
	name, doc string
	// start begins the fault on sn (drawn at random; a fault that needs
	// other brokers draws them itself). It heals itself.
	start func(w *World, sn *simNode)
}

// faultKinds is every fault, in a fixed order (the determinism lint
// forbids ranging over maps whose order leaks).
func faultKinds() []faultKind {
	return slices.Concat(baseFaults, netFaults, procFaults, diskFaults, clusterFaults)
}

func findFault(name string) (faultKind, bool) {
	for _, f := range faultKinds() {
		if f.name == name {
			return f, true
		}
	}
	return faultKind{}, false
}

// FaultNames lists every fault kind with its documentation.
func FaultNames() [][2]string {
	var out [][2]string
	for _, f := range faultKinds() {
		out = append(out, [2]string{f.name, f.doc})
	}
	return out
}

// KitchenSink draws every fault kind, one every 0.5–2 s: the default
// scenario. The weights of the first fourteen kinds are the simulator's
// original nemesis, so its seeds kept their traces when scenarios became
// data.
func KitchenSink() Scenario {
	s := Scenario{Name: "kitchen-sink", Doc: "every fault kind, mixed: one every 0.5–2 s"}
	for _, f := range faultKinds() {
		if f.name == "delete-records" {
			continue // a no-op without retention (its own scenario has it)
		}
		wt := 1
		if f.name == "crash" {
			wt = 2
		}
		s.Faults = append(s.Faults, Weighted{f.name, wt})
	}
	return s
}

// Validate checks that every fault the scenario names exists.
func (s Scenario) Validate() error {
	for _, f := range s.Faults {
		if _, ok := findFault(f.Fault); !ok {
			return fmt.Errorf("sim: scenario %s: no fault kind %q", s.Name, f.Fault)
		}
		if f.Weight <= 0 {
			return fmt.Errorf("sim: scenario %s: fault %s has weight %d", s.Name, f.Fault, f.Weight)
		}
	}
	return nil
}

// String describes the scenario's faults and weights on one line.
func (s Scenario) String() string {
	var parts []string
	for _, f := range s.Faults {
		parts = append(parts, fmt.Sprintf("%s×%d", f.Fault, f.Weight))
	}
	if len(parts) == 0 {
		parts = append(parts, "no faults")
	}
	every := s.every()
	return fmt.Sprintf("%s [%s; one every %d–%d ms]", s.Name, strings.Join(parts, " "), every[0], every[1])
}

// every is EveryMs with its default.
func (s Scenario) every() [2]int64 {
	if s.EveryMs == [2]int64{} {
		return [2]int64{500, 2000}
	}
	return s.EveryMs
}

// FaultSpan is one fault on the run's timeline.
type FaultSpan struct {
	Kind           string
	Nodes          []uint64 // the brokers it hit (empty: the whole network)
	StartNs, EndNs int64    // EndNs == StartNs: instantaneous
}

// span records a fault on the timeline.
func (w *World) span(kind string, dNs int64, nodes ...uint64) {
	w.timeline = append(w.timeline, FaultSpan{Kind: kind, Nodes: nodes, StartNs: w.nowNs, EndNs: w.nowNs + dNs})
}

// nemesis starts one fault of the scenario, drawn by weight.
func (w *World) nemesis() {
	sn := w.nodes[w.rng.IntN(len(w.nodes))]
	total := 0
	for _, f := range w.scenario.Faults {
		total += f.Weight
	}
	if total == 0 {
		return
	}
	k := w.rng.IntN(total)
	for _, f := range w.scenario.Faults {
		if k < f.Weight {
			fk, _ := findFault(f.Fault)
			fk.start(w, sn)
			return
		}
		k -= f.Weight
	}
}

// minorityDown: a fault that takes sn down may start (at most a minority
// of brokers is down at once).
func (w *World) minorityDown(sn *simNode) bool {
	return w.down() < (w.cfg.Nodes-1)/2 && sn.n != nil
}
