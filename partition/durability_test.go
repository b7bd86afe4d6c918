package partition

import (
	"bytes"
	"fmt"
	"testing"

	"sluice/raftlog"
)

// diskRecords reads every batch on node id's disk after a power loss: what
// survives if this is the only disk left.
func (c *cluster) diskRecords(id uint64) map[int64][]byte {
	c.t.Helper()
	c.fs[id].Crash()
	l, err := raftlog.Open(c.fs[id], "p0", raftlog.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	defer l.Close()
	last, _ := l.LastIndex()
	out := map[int64][]byte{}
	for lo := l.OldestIndex(); lo <= last; {
		ents, err := l.ReadEntries(lo, last+1, 1<<20)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, e := range ents {
			if _, _, b, ok := decodeEnvelope(e.GetData()); ok {
				out[stampedOffset(b)] = b
			}
		}
		lo = ents[len(ents)-1].GetIndex() + 1
	}
	return out
}

// Kafka's promise: with min.insync.replicas = RF = 3, an acknowledged
// record survives the loss of any two disks, even chosen adversarially after
// the ISR shrank.
func TestAcksAllSurvivesTwoLostDisks(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 3, ReplicaLagTicks: 10}, 1, 2, 3)
	acked := map[int64]string{}
	refused := 0
	var victim uint64
	for id := uint64(1); id <= 30; id++ {
		switch id {
		case 12, 22:
			// A follower goes down and the ISR shrinks: acks=all is refused,
			// or fails after append, never acknowledged short of 3 copies.
			victim = c.ids[int(id)%3]
			if c.parts[victim].isLeader() {
				victim = c.ids[(int(id)+1)%3]
			}
			c.crash(victim)
			for i := 0; i < 30; i++ {
				c.tick()
			}
		case 15, 25:
			// Adversary, after the ISR shrank: the lagging replica is the
			// only disk left. It must hold every acknowledged record.
			c.checkSurvivor(victim, acked)
			c.start(victim)
			for i := 0; i < 30; i++ {
				c.tick()
			}
		}
		c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(1, fmt.Sprintf("r%d", id), 1), Acks: AcksAll})
		c.settle(id)
		if r := c.res[id]; r.Err == nil {
			acked[r.BaseOffset] = fmt.Sprintf("r%d", id)
		} else {
			refused++
		}
	}
	if len(acked) < 20 || refused < 6 {
		t.Fatalf("%d records acknowledged, %d refused: want every write refused while a replica is down", len(acked), refused)
	}
	// Adversary at the end: keep the replica with the shortest log.
	survivor, shortest := uint64(0), int64(1<<62)
	for _, id := range c.ids {
		if n := c.parts[id].LogEndOffset(); n < shortest {
			survivor, shortest = id, n
		}
	}
	c.checkSurvivor(survivor, acked)
	t.Logf("all %d acknowledged records on every survivor checked", len(acked))
}

func (c *cluster) checkSurvivor(id uint64, acked map[int64]string) {
	c.t.Helper()
	disk := c.diskRecords(id)
	for off, v := range acked {
		if b, ok := disk[off]; !ok || !bytes.Contains(b, []byte(v)) {
			c.t.Fatalf("acknowledged record %q at offset %d is not on survivor %d's disk", v, off, id)
		}
	}
}

// With min.insync.replicas = 2 the same adversary can lose acknowledged
// records: those acknowledged while the third replica lagged.
func TestAcksAllWithMinISR2CanLoseToTwoLostDisks(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	for id := uint64(1); id <= 5; id++ {
		if r := c.send(id, makeBatch(1, fmt.Sprintf("r%d", id), 1)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	l := c.waitLeader()
	lagging := uint64(3)
	if l.cfg.ID == 3 {
		lagging = 2
	}
	for _, id := range c.ids {
		if id != lagging {
			c.net.Partition(id, lagging)
		}
	}
	c.cut = true
	var acked []int64
	for id := uint64(6); id <= 10; id++ {
		if r := c.send(id, makeBatch(1, fmt.Sprintf("r%d", id), 1)); r.Err == nil {
			acked = append(acked, r.BaseOffset)
		}
	}
	disk := c.diskRecords(lagging)
	lost := 0
	for _, off := range acked {
		if _, ok := disk[off]; !ok {
			lost++
		}
	}
	if len(acked) == 0 || lost != len(acked) {
		t.Fatalf("acknowledged %d while replica %d lagged; %d missing from its disk", len(acked), lagging, lost)
	}
	t.Logf("min.insync.replicas=2: %d acknowledged records exist only on the two wiped disks", lost)
}
