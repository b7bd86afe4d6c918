package partition

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// randomValue is n incompressible bytes: a batch of one such record is
// stored raw, so its frame CRC is derived from the batch's own.
func randomValue(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return string(b)
}

// The CRC a produce entry hands the log is its batch's, and covers the
// entry's data from the batch's attributes on, also after the leader
// stamped the batch (offsets and epoch lie before the attributes;
// LogAppendTime recomputes the CRC).
func TestKnownCRCCoversTheEntryTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, appendTime := range []bool{false, true} {
		b := makeBatch(8, randomValue(rng, 1000), 1000)
		if _, err := validateBatch(b, 1<<20); err != nil {
			t.Fatal(err)
		}
		if appendTime {
			stampAppendTime(b, 5000)
		}
		stamp(b, 42, 7)
		data := encodeEnvelope(9, 5000, b)
		k := knownCRC(data)
		if k.Len != len(data)-envelopeBytes-21 || k.CRC != crc32.Checksum(data[len(data)-k.Len:], castagnoli) {
			t.Fatalf("LogAppendTime %v: known CRC %+v does not cover the last %d bytes of the entry", appendTime, k, k.Len)
		}
	}
}

// Batches large enough for the log to use their CRC (4 KiB and more),
// stamped with LogAppendTime or not, survive a power loss on every replica:
// recovery and the reads after it check every frame, so a known CRC that
// did not match its bytes would fail them.
func TestLargeBatchesStoredUnderTheirOwnCRC(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	c := newCluster(t, Config{MinInsyncReplicas: 3}, 1, 2, 3)
	for id := uint64(1); id <= 12; id++ {
		if id == 7 {
			for _, n := range c.ids {
				c.parts[n].SetTopicConfig(3, 0, true)
			}
		}
		c.waitLeader().Produce(ProduceRequest{ID: id, Batch: makeBatch(1, randomValue(rng, 6000), 1000), Acks: AcksAll})
		c.settle(id)
		if err := c.res[id].Err; err != nil {
			t.Fatalf("produce %d: %v", id, err)
		}
	}
	for _, n := range c.ids {
		got := c.diskRecords(n)
		if len(got) != 12 {
			t.Fatalf("node %d keeps %d batches after a power loss, want 12", n, len(got))
		}
		stamped := 0
		for off, b := range got {
			if len(b) < 4<<10 {
				t.Fatalf("a batch of %d bytes: too small to test the known CRC", len(b))
			}
			if crc32.Checksum(b[21:], castagnoli) != binary.BigEndian.Uint32(b[17:]) {
				t.Fatalf("node %d: the batch at offset %d fails its own CRC", n, off)
			}
			if binary.BigEndian.Uint16(b[21:])&attrLogAppendTime != 0 {
				stamped++
			}
		}
		if stamped != 6 {
			t.Fatalf("node %d: %d batches stamped with LogAppendTime, want 6", n, stamped)
		}
	}
}
