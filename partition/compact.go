package partition

import (
	"fmt"
)

// Compact moves raft's first index to index+1 by recording a snapshot of
// the partition's state at index (next offset, epoch cache, producer
// state). Records stay on disk until retention deletes their segments, and
// compaction must never pass the first entry retention keeps: a replica
// that receives the snapshot gets the records after it as ordinary
// appends, so every replica holds every retained record. It returns the
// write to run (nil when there is nothing to do).
func (p *Partition) Compact(index uint64) (*Write, error) {
	if p.err != nil {
		return nil, p.err
	}
	first, _ := p.log.FirstIndex()
	if index < first {
		return nil, nil
	}
	if index > p.applied {
		return nil, fmt.Errorf("partition: %v: compact to %d beyond applied %d", p.cfg.Group, index, p.applied)
	}
	data, err := p.stateAt(index)
	if err != nil {
		return nil, err
	}
	r, err := p.log.Compact(index, nil, data)
	if err != nil {
		p.stop(err)
		return nil, err
	}
	p.noteUnsynced() // the compaction round synced what relaxed writes left
	return &Write{Round: r}, nil
}

// stateAt derives the applied state at index: the last snapshot's state
// advanced through the entries after it, exactly as apply advances it.
func (p *Partition) stateAt(index uint64) ([]byte, error) {
	snap, err := p.log.Snapshot()
	if err != nil {
		return nil, err
	}
	st := &Partition{cfg: p.cfg}
	si := snap.GetMetadata().GetIndex()
	st.applied = si
	if data := snap.GetData(); len(data) > 0 {
		if err := st.decodeApplied(data); err != nil {
			return nil, fmt.Errorf("partition: %v: snapshot state: %w", p.cfg.Group, err)
		}
	}
	for lo := si + 1; lo <= index; {
		ents, err := p.log.ReadEntries(lo, index+1, 4<<20)
		if err != nil {
			return nil, fmt.Errorf("partition: %v: read for compaction: %w", p.cfg.Group, err)
		}
		for _, e := range ents {
			st.noteEpoch(e.GetTerm(), e.GetIndex(), st.appliedNext)
			if _, clockMs, b, ok := decodeEnvelope(e.GetData()); ok && entryCount(e) > 0 {
				st.appliedMs = max(st.appliedMs, clockMs)
				if bp, ok := producerOf(b); ok {
					st.producers.apply(bp, e.GetIndex(), st.appliedNext, clockMs)
				}
				st.appliedNext += headerInfo(b).count
			}
			st.applied = e.GetIndex()
		}
		lo = ents[len(ents)-1].GetIndex() + 1
	}
	st.producers.expire(st.appliedMs, p.cfg.ProducerExpiryMs)
	return encodeApplied(st.applied, st.appliedNext, st.appliedMs, st.epochs, &st.producers), nil
}
