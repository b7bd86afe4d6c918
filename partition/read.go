package partition

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
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
	if offset < p.LogStartOffset() || offset > p.leo {
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
	return batchesBelow(ents, hw, maxBytes), nil
}

// LogStartOffset is the first offset still retained (Kafka's log start
// offset): the base offset of the oldest entry on disk.
func (p *Partition) LogStartOffset() int64 {
	m, err := p.log.Meta(p.log.OldestIndex())
	if err != nil {
		// Nothing retained below the applied state's start.
		return p.marks[0].next
	}
	return m.BaseOffset
}

// LastStableOffset is the offset below which a read_committed consumer may
// read: the high watermark until transactions exist.
func (p *Partition) LastStableOffset() int64 {
	hw, _ := p.HighWatermark()
	return hw
}

// batchesBelow extracts whole batches below hw, at least one, up to
// maxBytes.
func batchesBelow(ents []*pb.Entry, hw int64, maxBytes int) [][]byte {
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
	return out
}

// FetchPlan is a cold fetch: segment reads (and decompression) to run off
// the event loop. Everything it returns is below the high watermark the
// leader had when it made the plan.
type FetchPlan struct {
	plan     *raftlog.ReadPlan
	hw       int64
	maxBytes int
}

// Execute runs the plan; safe from any goroutine.
func (f *FetchPlan) Execute() ([][]byte, error) {
	ents, err := f.plan.Execute()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
	}
	return batchesBelow(ents, f.hw, f.maxBytes), nil
}

// Fetch is Read for the event loop: records still in the log's tail cache
// are answered at once; older ones come back as a FetchPlan for the
// runtime to execute off the loop (DESIGN.md step 6).
func (p *Partition) Fetch(offset int64, maxBytes int) ([][]byte, *FetchPlan, error) {
	if p.err != nil {
		return nil, nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, p.err)
	}
	hw, ok := p.HighWatermark()
	if !p.isLeader() {
		return nil, nil, kerr.NotLeaderForPartition
	}
	if offset < p.LogStartOffset() || offset > p.leo {
		return nil, nil, kerr.OffsetOutOfRange
	}
	if !ok || offset >= hw {
		return nil, nil, nil
	}
	idx, found, err := p.log.FindOffset(offset)
	if err != nil || !found {
		if err != nil {
			p.stop(err)
			return nil, nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
		}
		return nil, nil, nil
	}
	last, _ := p.log.LastIndex()
	plan, err := p.log.PlanRead(idx, last+1, uint64(max(maxBytes, 1)))
	if err != nil {
		p.stop(err)
		return nil, nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
	}
	if plan != nil {
		return nil, &FetchPlan{plan: plan, hw: hw, maxBytes: maxBytes}, nil
	}
	batches, err := p.Read(offset, maxBytes)
	return batches, nil, err
}
