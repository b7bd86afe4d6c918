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
}
