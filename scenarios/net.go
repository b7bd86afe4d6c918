package scenarios

import "sluice/sim"

// net scenarios run the fault kinds of sim/faults_net.go: partitions
// chosen by role or at random, clogs, link shapes (delays, reordering,
// duplication, bounded queues) and client failures.
var net = []sim.Scenario{
	{Name: "leader-isolate", Doc: "the broker leading the most partitions is cut off on the minority for longer than an election timeout: its groups elect new leaders, its stale leadership must not acknowledge anything",
		Faults: []sim.Weighted{fault("leader-isolate", 1)}},
	{Name: "majority-minority", Doc: "5 brokers: a random minority of 1–2 is cut off from the majority (partitions with two replicas on the minority lose their quorum)",
		Faults: []sim.Weighted{fault("minority", 1)}, Nodes: 5},
	{Name: "random-halves", Doc: "5 brokers shuffled and split 2 | 3 (Jepsen's random halves)",
		Faults: []sim.Weighted{fault("halves", 1)}, Nodes: 5},
	{Name: "swizzle-clog", Doc: "FoundationDB's swizzle-clog: links clogged one by one, then unclogged in another order",
		Faults: []sim.Weighted{fault("swizzle-clog", 1)}},
	{Name: "heavy-tailed-clog", Doc: "one broker's links stall for Pareto-distributed times: mostly short, sometimes seconds",
		Faults: []sim.Weighted{fault("pareto-clog", 1)}},
	{Name: "exp-delay", Doc: "link latencies drawn from an exponential distribution: a long tail of late, reordered batches",
		Faults: []sim.Weighted{fault("exp-delay", 1)}},
	{Name: "reorder-dup", Doc: "links reorder and duplicate batches without losing any",
		Faults: []sim.Weighted{fault("reorder-dup", 1)}},
	{Name: "inflight-limit", Doc: "links carry at most a few batches in flight and drop (and report) the rest, as full TCP send queues do",
		Faults: []sim.Weighted{fault("inflight-limit", 1)}},
	{Name: "client-reset", Doc: "client connections to a broker reset in the middle of requests",
		Faults: []sim.Weighted{fault("client-reset", 1)}},
	{Name: "client-crash", Doc: "producers and consumers die mid-request and are replaced by new processes with new identities",
		Faults: []sim.Weighted{fault("client-crash", 1)}, EveryMs: [2]int64{300, 1500}},
	{Name: "member-stall", Doc: "consumer group members stall (no heartbeat, no commit) past the session timeout while they go on polling: the group moves on, and their late commits must be fenced (the stale-commit check)",
		Faults: []sim.Weighted{fault("member-stall", 1)}, EveryMs: [2]int64{1000, 4000}},
}
