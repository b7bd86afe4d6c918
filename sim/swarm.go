package sim

import (
	"fmt"
	"strings"
)

// Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012; FoundationDB's
// BUGGIFY): a run that draws from every fault at fixed rates explores a
// narrow band of behaviours, because faults mask each other (a cluster
// that keeps losing a broker never stresses a slow disk). In swarm mode the
// seed also decides which of the scenario's fault kinds are on at all, and
// at which relative rates and pace, and it perturbs ordinary configuration
// values — the knobs an operator could set (raft's in-flight window and
// message size, the segment size, the election timeout, the clients'
// rates) — toward their extremes. Nothing here is a test flag in
// production code: the knobs reach the brokers through node.Config, as
// they would from a config file. Every choice is printed (Result.Swarm),
// and the seed alone replays it.

// tuning is broker configuration the simulator passes through node.Config.
type tuning struct {
	segmentBytes  int64
	maxSizePerMsg uint64 // 0: the partition's default (1 MiB)
	maxInflight   int    // 0: the partition's default (256)
	electionTicks int    // 0: node's default (10)
}

func defaultTuning() tuning { return tuning{segmentBytes: 1 << 20} }

// swarm draws this seed's faults and knobs. It runs before setup, so the
// draws it makes are part of the seed's trace.
func (w *World) swarm() []string {
	var lines []string
	s := w.scenario
	var on []Weighted
	for _, f := range s.Faults {
		if w.rng.IntN(2) == 0 {
			on = append(on, Weighted{Fault: f.Fault, Weight: 1 + w.rng.IntN(4)})
		}
	}
	if len(on) == 0 && len(s.Faults) > 0 {
		f := s.Faults[w.rng.IntN(len(s.Faults))]
		on = append(on, Weighted{Fault: f.Fault, Weight: 1})
	}
	s.Faults = on
	lo := w.uniform(100, 1500)
	s.EveryMs = [2]int64{lo, lo + w.uniform(200, 3000)}
	s.Name += "+swarm"
	w.scenario = s
	lines = append(lines, "faults: "+s.String())

	pick := func(name string, opts []int64) int64 {
		v := opts[w.rng.IntN(len(opts))]
		lines = append(lines, fmt.Sprintf("%s=%d", name, v))
		return v
	}
	w.tuning.maxInflight = int(pick("raft.max-inflight-msgs", []int64{1, 2, 16, 256}))
	w.tuning.maxSizePerMsg = uint64(pick("raft.max-size-per-msg", []int64{1 << 10, 16 << 10, 1 << 20}))
	w.tuning.segmentBytes = pick("segment.bytes", []int64{16 << 10, 256 << 10, 1 << 20})
	w.tuning.electionTicks = int(pick("raft.election-ticks", []int64{3, 10, 30}))
	w.cfg.ProduceRate = int(pick("produce.rate", []int64{100, 1000, 4000}))
	w.cfg.FetchRate = int(pick("fetch.rate", []int64{100, 1000, 4000}))
	return []string{strings.Join(lines[:1], ""), strings.Join(lines[1:], " ")}
}
