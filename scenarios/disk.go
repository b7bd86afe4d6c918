package scenarios

import "sluice/sim"

// disk scenarios run the fault kinds of sim/faults_disk.go.
var disk = []sim.Scenario{
	{Name: "majority-power-loss", Doc: "a majority of brokers (not all) lose power at once (sync-before-ack: nothing acknowledged may be lost)",
		Faults: []sim.Weighted{fault("majority-power-loss", 1)}, EveryMs: [2]int64{1500, 4000}},
	{Name: "sector-errors", Doc: "latent sector errors (reads fail with EIO) in one replica's segment file, a majority of every record's replicas intact; the disk is replaced",
		Faults: []sim.Weighted{fault("sector-errors", 1)}, EveryMs: [2]int64{1000, 3000}},
	{Name: "misdirected-write", Doc: "sectors of one replica's segment file written at the wrong offset, a majority of every record's replicas intact; the disk is replaced",
		Faults: []sim.Weighted{fault("misdirected-write", 1)}, EveryMs: [2]int64{1000, 3000}},
	{Name: "slow-disk-1s", Doc: "one broker's writes and syncs take about a second each",
		Faults: []sim.Weighted{fault("slow-disk-1s", 1)}},
	{Name: "large-records", Doc: "records of 6 KB of incompressible bytes, stored raw under frame CRCs derived from their batches' own, through power losses mid-fsync and mid-roll, torn writes, flipped bits on read and sector errors (64 KiB segments, retention.bytes 1 MiB)",
		Faults:     []sim.Weighted{fault("crash", 2), fault("crash-in-fsync", 1), fault("crash-in-roll", 1), fault("flaky-reads", 1), fault("sector-errors", 1)},
		ValueBytes: 6000, SegmentBytes: 64 << 10, RetentionBytes: 1 << 20},
}
