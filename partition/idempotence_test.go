package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// idemBatch is makeBatch with producer id, epoch and first sequence set.
func idemBatch(n int, value string, pid int64, epoch int16, seq int32) []byte {
	b := makeBatch(n, value, 1000)
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	putBE32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

func (c *cluster) send(id uint64, batch []byte) ProduceResult {
	c.t.Helper()
	c.waitLeader().Produce(ProduceRequest{ID: id, Batch: batch, Acks: AcksAll})
	c.settle(id)
	return c.res[id]
}

func TestIdempotentRetriesAcrossLeaderChange(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	var offsets []int64
	for k := int32(0); k < 4; k++ {
		r := c.send(uint64(k+1), idemBatch(2, fmt.Sprintf("s%d", k), 7, 0, k*2))
		if r.Err != nil {
			t.Fatalf("batch %d: %v", k, r.Err)
		}
		offsets = append(offsets, r.BaseOffset)
	}
	// The leader crashes; the client retries its last two batches against
	// the new leader: same offsets, nothing appended twice.
	l := c.waitLeader()
	c.crash(l.cfg.ID)
	for i := 0; i < 30; i++ {
		c.tick()
	}
	c.start(l.cfg.ID)
	for k := int32(2); k < 4; k++ {
		r := c.send(uint64(100+k), idemBatch(2, fmt.Sprintf("s%d", k), 7, 0, k*2))
		if r.Err != nil || r.BaseOffset != offsets[k] {
			t.Fatalf("retry of batch %d: offset %d err %v, want offset %d", k, r.BaseOffset, r.Err, offsets[k])
		}
	}
	next := c.send(200, idemBatch(1, "s4", 7, 0, 8))
	if next.Err != nil || next.BaseOffset != offsets[3]+2 {
		t.Fatalf("next batch: %+v, want offset %d", next, offsets[3]+2)
	}
	batches, err := c.waitLeader().Read(0, 1<<30)
	if err != nil || len(batches) != 5 {
		t.Fatalf("log holds %d batches (%v), want 5: a retry was appended twice", len(batches), err)
	}
}

func TestIdempotenceErrors(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2, ProducerExpiryMs: 10_000}, 1, 2, 3)
	if r := c.send(1, idemBatch(1, "a", 9, 3, 0)); r.Err != nil {
		t.Fatal(r.Err)
	}
	cases := []struct {
		name  string
		batch []byte
		want  error
	}{
		{"gap", idemBatch(1, "x", 9, 3, 5), kerr.OutOfOrderSequenceNumber},
		{"stale epoch", idemBatch(1, "x", 9, 2, 1), kerr.InvalidProducerEpoch},
		{"new epoch not at 0", idemBatch(1, "x", 9, 4, 1), kerr.OutOfOrderSequenceNumber},
		{"unknown producer mid-stream", idemBatch(1, "x", 10, 0, 3), kerr.UnknownProducerID},
	}
	for i, tc := range cases {
		r := c.send(uint64(10+i), tc.batch)
		if !errors.Is(r.Err, tc.want) {
			t.Fatalf("%s: got %v, want %v", tc.name, r.Err, tc.want)
		}
	}
	if r := c.send(20, idemBatch(1, "b", 9, 3, 1)); r.Err != nil {
		t.Fatalf("in-order batch after rejections: %v", r.Err)
	}
	// Idle for longer than the expiry (replicated time, stamped by the
	// leader): the producer is forgotten.
	for i := 0; i < 200; i++ {
		c.tick() // 100 ms each
	}
	if r := c.send(21, idemBatch(1, "z", 11, 0, 0)); r.Err != nil { // another producer moves time
		t.Fatal(r.Err)
	}
	if r := c.send(22, idemBatch(1, "c", 9, 3, 2)); !errors.Is(r.Err, kerr.UnknownProducerID) {
		t.Fatalf("after expiry: got %v, want UNKNOWN_PRODUCER_ID", r.Err)
	}
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	type span struct {
		epoch      int32
		start, end int64
	}
	var spans []span
	id := uint64(0)
	for round := 0; round < 3; round++ {
		l := c.waitLeader()
		_, term := l.Leader()
		start := l.LogEndOffset()
		for k := 0; k < 3; k++ {
			id++
			if r := c.send(id, makeBatch(2, "e", 1)); r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		spans = append(spans, span{int32(term), start, c.waitLeader().LogEndOffset()})
		c.crash(l.cfg.ID)
		for i := 0; i < 30; i++ {
			c.tick()
		}
		c.start(l.cfg.ID)
	}
	l := c.waitLeader()
	for i, s := range spans {
		e, end := l.OffsetForLeaderEpoch(s.epoch)
		if e != s.epoch {
			t.Fatalf("epoch %d: answered epoch %d", s.epoch, e)
		}
		want := s.end
		if i == len(spans)-1 {
			// Later epochs appended nothing but their no-op: the end is the
			// start of the next epoch, which is the same offset.
			want = s.end
		}
		if end != want {
			t.Fatalf("epoch %d: end offset %d, want %d (spans %+v)", s.epoch, end, want, spans)
		}
	}
	// Kafka's edges (LeaderEpochFileCache.endOffsetFor): below every
	// cached epoch, the epoch asked and the earliest one's start; above the
	// latest, (-1, -1).
	if e, end := l.OffsetForLeaderEpoch(0); e != 0 || end != 0 {
		t.Fatalf("epoch before the first: %d %d, want 0 0", e, end)
	}
	_, term := l.Leader()
	if e, end := l.OffsetForLeaderEpoch(int32(term) + 5); e != -1 || end != -1 {
		t.Fatalf("future epoch: %d %d, want -1 -1", e, end)
	}
}
