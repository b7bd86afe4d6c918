package partition

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Read returns whole record batches from offset on, up to maxBytes but at
// least one batch (KIP-74), all below the high watermark. Only the leader
// serves reads; a new leader serves none until its high watermark is
// current (KIP-207). Reads that reach cold segments happen here, on the
// caller's goroutine.
func (p *Partition) Read(offset int64, maxBytes int) ([][]byte, error) {
	if p.err != nil {
		return nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, p.err)
	}
	hw, ok := p.HighWatermark()
	if !p.isLeader() {
		return nil, kerr.NotLeaderForPartition
	}
	if offset < 0 || offset > p.leo {
		return nil, kerr.OffsetOutOfRange
	}
	if !ok || offset >= hw {
		return nil, nil
	}
	idx, found, err := p.log.FindOffset(offset)
	if err != nil {
		p.stop(err)
		return nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
	}
	if !found {
		return nil, nil
	}
	last, _ := p.log.LastIndex()
	ents, err := p.log.ReadEntries(idx, last+1, uint64(max(maxBytes, 1)))
	if err != nil {
		p.stop(err)
		return nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
	}
	var out [][]byte
	size := 0
	for _, e := range ents {
		_, _, b, ok := decodeEnvelope(e.GetData())
		if !ok {
			continue
		}
		if stampedOffset(b) >= hw || (len(out) > 0 && size+len(b) > maxBytes) {
			break
		}
		out = append(out, b)
		size += len(b)
	}
	return out, nil
}
