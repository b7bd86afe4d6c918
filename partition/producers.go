package partition

// Idempotent producer state: per producer id, its epoch, the sequence
// ranges and offsets of its last maxProducerBatches batches, and the
// replicated time of its last write (the leader's clock stamp in the
// proposal envelope, so every replica expires producers identically).
//
// Applied state lives in producers; batches appended but not yet applied
// (and proposals not yet appended) are consulted from the tail, so the
// leader's checks see its uncommitted log too.

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

const (
	// maxProducerBatches is how many recent batches per producer are
	// remembered for duplicate detection (Kafka keeps 5, the most a client
	// may have in flight with idempotence).
	maxProducerBatches = 5
	// DefaultProducerExpiryMs is Kafka's producer.id.expiration.ms default.
	DefaultProducerExpiryMs = 24 * 60 * 60 * 1000
)

// producerBatch is one remembered batch.
type producerBatch struct {
	firstSeq, lastSeq int32
	base              int64
}

type producerState struct {
	id       int64
	epoch    int16
	batches  []producerBatch // oldest first
	lastMs   int64           // replicated time of the last write
	lastSeen uint64          // raft index of the last write
}

// batchProducer reads the idempotence fields of a batch header.
type batchProducer struct {
	id       int64
	epoch    int16
	firstSeq int32
	lastSeq  int32
}

func producerOf(b []byte) (batchProducer, bool) {
	id := int64(binary.BigEndian.Uint64(b[43:]))
	if id < 0 {
		return batchProducer{}, false
	}
	first := int32(binary.BigEndian.Uint32(b[53:]))
	delta := int32(binary.BigEndian.Uint32(b[23:]))
	return batchProducer{
		id: id, epoch: int16(binary.BigEndian.Uint16(b[51:])),
		firstSeq: first, lastSeq: seqAdd(first, delta),
	}, true
}

// seqAdd adds with Kafka's wraparound: sequences wrap from MaxInt32 to 0.
func seqAdd(seq, n int32) int32 {
	s := int64(seq) + int64(n)
	if s > 1<<31-1 {
		s -= 1 << 31
	}
	return int32(s)
}

// producerTable is the applied producer state, sorted by id.
type producerTable struct {
	ps []producerState
}

func (t *producerTable) find(id int64) *producerState {
	i, ok := slices.BinarySearchFunc(t.ps, id, func(p producerState, id int64) int {
		switch {
		case p.id < id:
			return -1
		case p.id > id:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return &t.ps[i]
}

// apply records a committed batch of producer bp at index, base offset, at
// replicated time nowMs.
func (t *producerTable) apply(bp batchProducer, index uint64, base int64, nowMs int64) {
	p := t.find(bp.id)
	if p == nil {
		i, _ := slices.BinarySearchFunc(t.ps, bp.id, func(p producerState, id int64) int {
			if p.id < id {
				return -1
			}
			return 1
		})
		t.ps = slices.Insert(t.ps, i, producerState{id: bp.id})
		p = &t.ps[i]
	}
	if bp.epoch != p.epoch {
		p.epoch = bp.epoch
		p.batches = p.batches[:0]
	}
	p.batches = append(p.batches, producerBatch{firstSeq: bp.firstSeq, lastSeq: bp.lastSeq, base: base})
	if n := len(p.batches); n > maxProducerBatches {
		p.batches = append(p.batches[:0], p.batches[n-maxProducerBatches:]...)
	}
	p.lastMs = max(p.lastMs, nowMs)
	p.lastSeen = index
}

// expire forgets producers idle for longer than expiryMs at replicated time
// nowMs.
func (t *producerTable) expire(nowMs, expiryMs int64) {
	t.ps = slices.DeleteFunc(t.ps, func(p producerState) bool { return nowMs-p.lastMs > expiryMs })
}

// checkSequence decides a new batch against the producer's last known state
// (epoch, batches). dupBase >= 0 means the batch is a duplicate of one
// already in the log at that base offset.
func checkSequence(known bool, epoch int16, batches []producerBatch, bp batchProducer) (dupBase int64, err error) {
	if !known {
		if bp.firstSeq != 0 {
			return -1, fmt.Errorf("%w: producer %d has no state and starts at sequence %d", kerr.UnknownProducerID, bp.id, bp.firstSeq)
		}
		return -1, nil
	}
	switch {
	case bp.epoch < epoch:
		return -1, fmt.Errorf("%w: producer %d epoch %d is older than %d", kerr.InvalidProducerEpoch, bp.id, bp.epoch, epoch)
	case bp.epoch > epoch:
		if bp.firstSeq != 0 {
			return -1, fmt.Errorf("%w: producer %d new epoch %d starts at sequence %d", kerr.OutOfOrderSequenceNumber, bp.id, bp.epoch, bp.firstSeq)
		}
		return -1, nil
	}
	for _, b := range batches {
		if b.firstSeq == bp.firstSeq && b.lastSeq == bp.lastSeq {
			return b.base, nil
		}
	}
	if len(batches) == 0 {
		if bp.firstSeq != 0 {
			return -1, fmt.Errorf("%w: producer %d expected sequence 0, got %d", kerr.OutOfOrderSequenceNumber, bp.id, bp.firstSeq)
		}
		return -1, nil
	}
	if want := seqAdd(batches[len(batches)-1].lastSeq, 1); bp.firstSeq != want {
		return -1, fmt.Errorf("%w: producer %d expected sequence %d, got %d", kerr.OutOfOrderSequenceNumber, bp.id, want, bp.firstSeq)
	}
	return -1, nil
}

// encode writes the table as: count u32, then per producer id i64, epoch
// i16, lastMs i64, lastSeen u64, n u8, n × (firstSeq i32, lastSeq i32, base i64).
func (t *producerTable) encode(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(t.ps)))
	for _, p := range t.ps {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(p.id))
		dst = binary.LittleEndian.AppendUint16(dst, uint16(p.epoch))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(p.lastMs))
		dst = binary.LittleEndian.AppendUint64(dst, p.lastSeen)
		dst = append(dst, byte(len(p.batches)))
		for _, b := range p.batches {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(b.firstSeq))
			dst = binary.LittleEndian.AppendUint32(dst, uint32(b.lastSeq))
			dst = binary.LittleEndian.AppendUint64(dst, uint64(b.base))
		}
	}
	return dst
}

func (t *producerTable) decode(b []byte) ([]byte, error) {
	bad := fmt.Errorf("partition: producer state truncated")
	if len(b) < 4 {
		return nil, bad
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if n > len(b)/27 {
		return nil, fmt.Errorf("partition: producer state claims %d producers in %d bytes", n, len(b))
	}
	t.ps = make([]producerState, 0, n)
	for i := 0; i < n; i++ {
		if len(b) < 27 {
			return nil, bad
		}
		p := producerState{
			id: int64(binary.LittleEndian.Uint64(b)), epoch: int16(binary.LittleEndian.Uint16(b[8:])),
			lastMs: int64(binary.LittleEndian.Uint64(b[10:])), lastSeen: binary.LittleEndian.Uint64(b[18:]),
		}
		k := int(b[26])
		b = b[27:]
		if k > maxProducerBatches || len(b) < k*16 {
			return nil, bad
		}
		for j := 0; j < k; j++ {
			p.batches = append(p.batches, producerBatch{
				firstSeq: int32(binary.LittleEndian.Uint32(b)), lastSeq: int32(binary.LittleEndian.Uint32(b[4:])),
				base: int64(binary.LittleEndian.Uint64(b[8:])),
			})
			b = b[16:]
		}
		t.ps = append(t.ps, p)
	}
	return b, nil
}
