package partition

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// withHeaderMaxTimestamp sets a batch header's max timestamp and makes its
// CRC32C valid again.
func withHeaderMaxTimestamp(b []byte, ts int64) []byte {
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// A batch whose header claims a max timestamp its records do not have
// (CRC valid) is stored with its records' own, as Kafka's LogValidator
// does: retention.ms of an hour keeps records written seconds ago (found
// by review: the header's 0 was trusted, and retention deleted them).
func TestHeaderMaxTimestampIsTheRecords(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	now := int64(1_700_000_000_000)
	c.nowMs = now
	rnd := rand.New(rand.NewPCG(21, 22))
	for k := range 40 { // 40 x 8 KiB: several closed 64 KiB segments
		id := uint64(k + 1)
		b := withHeaderMaxTimestamp(makeBatch(1, incompressible(rnd, 8000), now), 0)
		c.waitLeader().Produce(ProduceRequest{ID: id, Batch: b, Acks: AcksAll})
		c.settle(id)
		if r := c.res[id]; r.Err != nil {
			t.Fatalf("produce %d: %v", id, r.Err)
		}
	}
	l := c.waitLeader()
	c.retainAll(3_600_000, -1) // the records were written seconds ago
	if got := l.LogStartOffset(); got != 0 {
		t.Errorf("retention.ms=1h deleted records stamped seconds ago: log start %d, want 0", got)
	}
}

// Kafka 4.0 (KIP-1030) rejects a CreateTime record more than
// message.timestamp.after.max.ms (default 1 h) ahead of the broker's clock
// with INVALID_TIMESTAMP. sluice accepts it; the segment holding it then
// never expires, and as retention deletes only a prefix of segments, time
// retention stops for the whole partition.
