package partition

// The leader epoch cache: for each raft term that appended entries, the
// first offset of that term. Derived at append on every replica (so it is
// rolled back with a truncated suffix), persisted with the applied state.

import (
	"encoding/binary"
	"fmt"
)

type epochStart struct {
	epoch uint64 // raft term
	start int64  // first offset of the term
	index uint64 // first raft index of the term
}

// noteEpoch records that entry index of term begins at offset start.
func (p *Partition) noteEpoch(term, index uint64, start int64) {
	if n := len(p.epochs); n > 0 && p.epochs[n-1].epoch >= term {
		return
	}
	p.epochs = append(p.epochs, epochStart{epoch: term, start: start, index: index})
}

// truncateEpochs drops epochs that began at or after index.
func (p *Partition) truncateEpochs(index uint64) {
	k := len(p.epochs)
	for k > 0 && p.epochs[k-1].index >= index {
		k--
	}
	p.epochs = p.epochs[:k]
}

// OffsetForLeaderEpoch answers Kafka's OffsetForLeaderEpoch as its
// LeaderEpochFileCache.endOffsetFor does: for the latest epoch, it and the
// log end offset; above it, (-1, -1); below every cached epoch, the epoch
// asked and the start of the earliest cached one; otherwise the largest
// epoch at most epoch (terms skip numbers) and the start of the next.
func (p *Partition) OffsetForLeaderEpoch(epoch int32) (leaderEpoch int32, endOffset int64) {
	e := uint64(epoch)
	if epoch < 0 || len(p.epochs) == 0 {
		return -1, -1
	}
	last := len(p.epochs) - 1
	switch {
	case e == p.epochs[last].epoch:
		return epoch, p.leo
	case e > p.epochs[last].epoch:
		return -1, -1
	case e < p.epochs[0].epoch:
		return epoch, p.epochs[0].start
	}
	for i := last - 1; i >= 0; i-- {
		if p.epochs[i].epoch <= e {
			return int32(p.epochs[i].epoch), p.epochs[i+1].start
		}
	}
	return -1, -1
}

func encodeEpochs(dst []byte, es []epochStart) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(es)))
	for _, e := range es {
		dst = binary.LittleEndian.AppendUint64(dst, e.epoch)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.start))
		dst = binary.LittleEndian.AppendUint64(dst, e.index)
	}
	return dst
}

func decodeEpochs(b []byte) ([]epochStart, []byte, error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("partition: epoch cache truncated")
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if n > len(b)/24 {
		return nil, nil, fmt.Errorf("partition: epoch cache claims %d epochs in %d bytes", n, len(b))
	}
	es := make([]epochStart, n)
	for i := range es {
		es[i] = epochStart{
			epoch: binary.LittleEndian.Uint64(b), start: int64(binary.LittleEndian.Uint64(b[8:])),
			index: binary.LittleEndian.Uint64(b[16:]),
		}
		b = b[24:]
	}
	return es, b, nil
}
