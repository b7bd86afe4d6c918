package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"sluice/sim"
)

// All lists the catalogue, kitchen-sink first.
func All() []sim.Scenario {
	return slices.Concat([]sim.Scenario{sim.KitchenSink()}, base, net, proc, disk, cluster)
}

// Find returns the scenario named name.
func Find(name string) (sim.Scenario, error) {
	var names []string
	for _, s := range All() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return sim.Scenario{}, fmt.Errorf("no scenario %q (there are: %s)", name, strings.Join(names, ", "))
}

// baseScenarios run one of the original fault kinds alone (or a few that
// belong together).
var base = []sim.Scenario{
	{Name: "none", Doc: "no faults: the baseline every other scenario is compared with"},
	{Name: "crash-restart", Doc: "brokers crash (power loss or process crash) and restart, a minority at a time",
		Faults: []sim.Weighted{fault("crash", 1)}},
	{Name: "pause", Doc: "a broker stops for longer than an election timeout, then resumes with everything that arrived meanwhile",
		Faults: []sim.Weighted{fault("pause", 1)}},
	{Name: "isolate", Doc: "one broker cut off both ways (majority / minority)",
		Faults: []sim.Weighted{fault("isolate", 1)}},
	{Name: "one-way", Doc: "links dropped in one direction only",
		Faults: []sim.Weighted{fault("one-way", 1)}},
	{Name: "bridge", Doc: "A–B and B–C up, A–C down: B is the only bridge",
		Faults: []sim.Weighted{fault("bridge", 1)}},
	{Name: "lossy", Doc: "every link loses, duplicates and reorders batches",
		Faults: []sim.Weighted{fault("lossy", 1)}},
	{Name: "clog", Doc: "one broker's links stall: everything arrives, late",
		Faults: []sim.Weighted{fault("clog", 1)}},
	{Name: "stale-replays", Doc: "old appends and votes replayed on random links",
		Faults: []sim.Weighted{fault("stale", 1)}, EveryMs: [2]int64{100, 500}},
	{Name: "blackout", Doc: "every broker loses power at once (sync-before-ack: nothing acknowledged may be lost)",
		Faults: []sim.Weighted{fault("blackout", 1)}, EveryMs: [2]int64{2000, 6000}},
	{Name: "disk-errors", Doc: "EIO and ENOSPC on one broker's disk: its partitions stop, then reopen from disk",
		Faults: []sim.Weighted{fault("disk-error", 1)}},
	{Name: "slow-disk", Doc: "one broker's syncs take up to a second longer",
		Faults: []sim.Weighted{fault("slow-disk", 1)}},
	{Name: "flaky-reads", Doc: "bits flip on the way from one broker's disk (the stored bytes are intact)",
		Faults: []sim.Weighted{fault("flaky-reads", 1)}},
	{Name: "client-clog", Doc: "client connections to one broker stall",
		Faults: []sim.Weighted{fault("client-clog", 1)}},
	{Name: "wipe-rejoin", Doc: "one broker's disk replaced by an empty one; it rejoins every group under a new incarnation",
		Faults: []sim.Weighted{fault("wipe", 1)}, EveryMs: [2]int64{1000, 3000}},
	{Name: "many-partitions", Doc: "60 partitions on 3 brokers: one crash, pause or partition hits many raft groups at once",
		Faults: []sim.Weighted{fault("crash", 2), fault("pause", 1), fault("isolate", 1), fault("clog", 1), fault("wipe", 1)}, Partitions: 60},
}

func fault(name string, weight int) sim.Weighted { return sim.Weighted{Fault: name, Weight: weight} }

// cluster scenarios change the cluster's shape under load.
var cluster = []sim.Scenario{
	{Name: "reassign", Doc: "4 brokers, RF 3: partitions reassigned to other brokers under load (learner added, caught up, promoted; the leaving replica removed, a leaving leader handing over first)",
		Faults: []sim.Weighted{fault("reassign", 1)}, Nodes: 4, EveryMs: [2]int64{300, 1500}},
	{Name: "reassign-crash", Doc: "reassignments while brokers crash and get isolated (4 brokers, RF 3)",
		Faults: []sim.Weighted{fault("reassign", 2), fault("crash", 1), fault("isolate", 1), fault("pause", 1)}, Nodes: 4},
	{Name: "delete-records", Doc: "an operator deletes records below random offsets (DeleteRecords, often inside a batch) while leaders move, brokers crash and lose power (32 KiB segments, no retention: every log start seen must be an offset asked for)",
		Faults:       []sim.Weighted{fault("delete-records", 3), fault("leader-transfer", 1), fault("crash", 1), fault("crash-in-fsync", 1), fault("isolate", 1)},
		SegmentBytes: 32 << 10, RetentionBytes: -1},
}
