package partition

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
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

// On a CreateTime topic a batch whose client set the LogAppendTime bit is
// stored as CreateTime with its records' own max timestamp (found by a
// second review: the bit let a header claiming the epoch through, and
// retention deleted records written now).
func TestClientLogAppendTimeBitCleared(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	now := int64(1_700_000_000_000)
	c.nowMs = now
	rnd := rand.New(rand.NewPCG(21, 22))
	for k := range 40 {
		id := uint64(k + 1)
		b := makeBatch(1, incompressible(rnd, 8000), now)
		binary.BigEndian.PutUint16(b[21:], binary.BigEndian.Uint16(b[21:])|attrLogAppendTime)
		c.waitLeader().Produce(ProduceRequest{ID: id, Batch: withHeaderMaxTimestamp(b, 0), Acks: AcksAll})
		c.settle(id)
		if r := c.res[id]; r.Err != nil {
			t.Fatalf("produce %d: %v", id, r.Err)
		}
	}
	l := c.waitLeader()
	c.retainAll(3_600_000, -1)
	if got := l.LogStartOffset(); got != 0 {
		t.Errorf("retention.ms=1h deleted records stamped seconds ago: log start %d, want 0", got)
	}
	bs, err := l.Read(0, 1<<20)
	if err != nil || len(bs) == 0 {
		t.Fatalf("read: %d batches, %v", len(bs), err)
	}
	if attrs := binary.BigEndian.Uint16(bs[0][21:]); attrs&attrLogAppendTime != 0 {
		t.Errorf("stored batch attributes %#x: the LogAppendTime bit kept", attrs)
	}
	if got := headerInfo(bs[0]).maxTimestamp; got != now {
		t.Errorf("stored max timestamp %d, want the record's %d", got, now)
	}
}

// A CreateTime record stamped more than an hour ahead of the leader's clock
// is INVALID_TIMESTAMP (Kafka 4.0's message.timestamp.after.max.ms default,
// KIP-1030): it would hold its segment, and every later one, back from time
// retention. Found by review.
func TestFutureTimestampRefused(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	now := int64(1_700_000_000_000)
	c.nowMs = now
	c.tick()
	if r := c.send(1, makeBatch(1, "x", now+10*3_600_000)); !errors.Is(r.Err, kerr.InvalidTimestamp) {
		t.Errorf("a record 10 h ahead: %+v, want INVALID_TIMESTAMP", r)
	}
	if r := c.send(2, makeBatch(1, "y", now+30*60*1000)); r.Err != nil {
		t.Errorf("a record 30 min ahead: %v, want it accepted", r.Err)
	}
}
