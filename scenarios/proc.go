package scenarios

import "sluice/sim"

// proc scenarios run the fault kinds of sim/faults_proc.go.
var proc = []sim.Scenario{
	{Name: "crash-in-fsync", Doc: "a broker loses power while its disk has syncs in flight (some synced, some not), and restarts",
		Faults: []sim.Weighted{fault("crash-in-fsync", 1)}},
	{Name: "crash-in-roll", Doc: "a broker loses power while a round that creates or seals a segment is in flight, and restarts",
		Faults: []sim.Weighted{fault("crash-in-roll", 1)}, EveryMs: [2]int64{300, 1000}},
	{Name: "crash-in-snapshot", Doc: "a broker's disk is wiped, and it loses power while it installs the snapshot its groups' leaders send it, then rejoins",
		Faults: []sim.Weighted{fault("crash-in-snapshot", 1)}, EveryMs: [2]int64{1000, 3000}},
	{Name: "skew-change", Doc: "brokers' clocks change rate mid-run (0.5–1.5× real time) and change back",
		Faults: []sim.Weighted{fault("skew-change", 1)}},
	{Name: "far-behind", Doc: "a broker paused or cut off for 5–15 s while the producers run, then catches up a long way",
		Faults: []sim.Weighted{fault("long-pause", 1)}, EveryMs: [2]int64{1000, 4000}},
	{Name: "far-behind-snapshot", Doc: "a broker paused or cut off for 5–15 s while the producers run and retention (retention.bytes 96 KiB, 32 KiB segments) deletes what it has not replicated: its groups' leaders catch it up with a raft snapshot, then the retained records",
		Faults: []sim.Weighted{fault("long-pause", 1)}, EveryMs: [2]int64{4000, 8000}, RetentionBytes: 96 << 10, SegmentBytes: 32 << 10},
	{Name: "leader-transfer", Doc: "leaderships of random raft groups move to another voter while the producers run",
		Faults: []sim.Weighted{fault("leader-transfer", 1)}, EveryMs: [2]int64{200, 1000}},
}
