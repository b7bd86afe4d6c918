package partition

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.etcd.io/raft/v3"
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
		return nil, p.storageErr()
	}
	hw, ok := p.HighWatermark()
	if !p.isLeader() {
		return nil, kerr.NotLeaderForPartition
	}
	start, err := p.LogStart()
	if err != nil {
		return nil, err
	}
	if offset < start || offset > p.leo {
		return nil, kerr.OffsetOutOfRange
	}
	if planted("fetch-above-hw") {
		hw, ok = p.leo, true
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
// offset): the replicated log start (retention.go), or the base offset of
// the oldest entry on disk when that is later (a replica caught up by a
// snapshot holds nothing before it). A leader's is current once its high
// watermark is (HighWatermark's ok): it has then applied every log start
// its predecessors committed. When the log can
// no longer be read (it stopped on a read error) the partition stops too,
// and callers must check Err: the applied state's start, the answer when
// nothing is retained, would send a consumer below it to
// OFFSET_OUT_OF_RANGE and reset it past records still on disk (found by
// the simulator: a sector error on the leader, then a group member skipped
// 123 records). LogStart returns that error.
func (p *Partition) LogStartOffset() int64 {
	m, err := p.log.Meta(p.log.OldestIndex())
	if err != nil {
		if !errors.Is(err, raft.ErrCompacted) && !errors.Is(err, raft.ErrUnavailable) {
			p.stop(err)
		}
		// Nothing retained below the applied state's start.
		return max(p.marks[0].next, p.replicatedStart())
	}
	return max(m.BaseOffset, p.replicatedStart())
}

func (p *Partition) replicatedStart() int64 {
	if planted("log-start-per-replica") {
		return 0
	}
	return p.logStart
}

// LogStart is LogStartOffset, or the storage error that stopped the
// partition: what a caller deciding OFFSET_OUT_OF_RANGE must use.
func (p *Partition) LogStart() (int64, error) {
	start := p.LogStartOffset()
	if p.err != nil {
		return 0, p.storageErr()
	}
	return start, nil
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
	minOne   bool
}

// Execute runs the plan; safe from any goroutine.
func (f *FetchPlan) Execute() ([][]byte, error) {
	ents, err := f.plan.Execute()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
	}
	return fitFirst(batchesBelow(ents, f.hw, f.maxBytes), f.maxBytes, f.minOne), nil
}

// fitFirst drops batches whose first alone exceeds maxBytes, unless minOne
// (batchesBelow keeps the first whole; only it can exceed maxBytes).
func fitFirst(batches [][]byte, maxBytes int, minOne bool) [][]byte {
	if !minOne && len(batches) > 0 && len(batches[0]) > maxBytes {
		return nil
	}
	return batches
}

// Fetch is Read for the event loop: records still in the log's tail cache
// are answered at once; older ones come back as a FetchPlan for the
// runtime to execute off the loop (DESIGN.md step 6). With minOne the
// first batch comes whole even beyond maxBytes (KIP-74, for the first
// partition of a response with data); without it nothing beyond maxBytes
// does, as Kafka's minOneMessage.
func (p *Partition) Fetch(offset int64, maxBytes int, minOne bool) ([][]byte, *FetchPlan, error) {
	if p.err != nil {
		return nil, nil, p.storageErr()
	}
	hw, ok := p.HighWatermark()
	if !p.isLeader() {
		return nil, nil, kerr.NotLeaderForPartition
	}
	if planted("fetch-above-hw") {
		hw, ok = p.leo, true
	}
	start, err := p.LogStart()
	if err != nil {
		return nil, nil, err
	}
	if offset < start || offset > p.leo {
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
		return nil, &FetchPlan{plan: plan, hw: hw, maxBytes: maxBytes, minOne: minOne}, nil
	}
	batches, err := p.Read(offset, maxBytes)
	return fitFirst(batches, maxBytes, minOne), nil, err
}

// ReadApplied returns whole batches from offset on, below the applied
// offset, on any replica (leader or follower). It is for state machines
// replicated through a partition — the broker's metadata log — whose every
// replica applies the same committed batches in order. Reads happen on the
// caller's goroutine.
func (p *Partition) ReadApplied(offset int64, maxBytes int) ([][]byte, error) {
	if p.err != nil {
		return nil, p.storageErr()
	}
	if offset >= p.appliedNext {
		return nil, nil
	}
	start, err := p.LogStart()
	if err != nil {
		return nil, err
	}
	if offset < start {
		return nil, kerr.OffsetOutOfRange
	}
	idx, found, err := p.log.FindOffset(offset)
	if err != nil {
		p.stop(err)
		return nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
	}
	if !found || idx > p.applied {
		return nil, nil
	}
	ents, err := p.log.ReadEntries(idx, p.applied+1, uint64(max(maxBytes, 1)))
	if err != nil {
		p.stop(err)
		return nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
	}
	return batchesBelow(ents, p.appliedNext, maxBytes), nil
}

// AppliedOffset is the offset after the last applied record.
func (p *Partition) AppliedOffset() int64 { return p.appliedNext }

// OffsetForTimestamp answers ListOffsets by timestamp on the leader: the
// first offset below the high watermark whose record timestamp is at least
// ts, with that timestamp; found is false when there is none. It decodes
// (and decompresses) the one batch that holds it.
func (p *Partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	if p.err != nil {
		return 0, 0, false, p.storageErr()
	}
	if !p.isLeader() {
		return 0, 0, false, kerr.NotLeaderForPartition
	}
	hw, ok := p.HighWatermark()
	if !ok {
		return 0, 0, false, kerr.OffsetNotAvailable
	}
	idx, ok, err := p.log.FindTimestamp(ts)
	if err == nil && ok && p.logStart > 0 {
		// Entries below the log start may still be on disk (the segment
		// holding it stays): search from the log start's entry.
		var sidx uint64
		var found bool
		if sidx, found, err = p.log.FindOffset(p.logStart); found && sidx > idx {
			idx = sidx
		}
	}
	if err != nil {
		p.stop(err)
		return 0, 0, false, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
	}
	last, _ := p.log.LastIndex()
	for ok && idx <= last {
		ents, err := p.log.ReadEntries(idx, idx+1, 1)
		if err != nil {
			p.stop(err)
			return 0, 0, false, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
		}
		if len(ents) == 0 {
			break
		}
		_, _, b, isBatch := decodeEnvelope(ents[0].GetData())
		// Records below the log start are gone, though their batch may
		// still be on disk (or straddle it, after DeleteRecords).
		if isBatch && stampedOffset(b)+headerInfo(b).count > p.logStart {
			if stampedOffset(b) >= hw {
				break
			}
			off, rts, hit, err := firstAtOrAfter(b, ts, p.logStart)
			if err != nil {
				return 0, 0, false, err
			}
			if hit {
				return off, rts, true, nil
			}
		}
		idx++
	}
	return 0, 0, false, nil
}

// MaxTimestamp answers ListOffsets with MAX_TIMESTAMP (KIP-734): the offset
// and timestamp of the record with the largest timestamp below the high
// watermark (the first such record on ties); found is false on an empty
// partition.
func (p *Partition) MaxTimestamp() (offset, timestamp int64, found bool, err error) {
	if p.err != nil {
		return 0, 0, false, p.storageErr()
	}
	if !p.isLeader() {
		return 0, 0, false, kerr.NotLeaderForPartition
	}
	hw, ok := p.HighWatermark()
	if !ok {
		return 0, 0, false, kerr.OffsetNotAvailable
	}
	// The segments are taken newest first, and one whose largest
	// timestamp is below the best found so far is skipped unread: with
	// timestamps that grow, only the active segment is read. (An entry of
	// an older segment with the same timestamp wins, being first.) Each
	// segment read is read once, in order (MetaRange); the batch that
	// DeleteRecords cut, whose records before the log start do not count,
	// is read after the scan, as MetaRange's callback must not read.
	first, last, start := p.log.OldestIndex(), p.applied, p.logStart
	best, bestIdx := int64(-1), uint64(0)
	better := func(ts int64, i uint64) bool {
		return bestIdx == 0 || ts > best || ts == best && i < bestIdx
	}
	var cut uint64
	segs := p.log.Segments()
	for k := len(segs) - 1; k >= 0 && first != 0; k-- {
		s := segs[k]
		if !s.HasRecords || s.Last < s.First || s.Last < first || s.First > last || bestIdx != 0 && s.MaxTimestamp < best {
			continue
		}
		err := p.log.MetaRange(max(s.First, first), min(s.Last, last), func(i uint64, m raftlog.EntryMeta) bool {
			switch {
			case m.Count == 0 || m.BaseOffset >= hw || m.NextOffset() <= start:
			case m.BaseOffset < start:
				cut = i
			case better(m.MaxTimestamp, i):
				best, bestIdx = m.MaxTimestamp, i
			}
			return true
		})
		if err != nil {
			return 0, 0, false, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
		}
	}
	if cut != 0 {
		b, err := p.batchAt(cut)
		if err != nil {
			return 0, 0, false, err
		}
		_, t, found, err := latestAtOrAfter(b, start)
		if err != nil {
			return 0, 0, false, err
		}
		if found && better(t, cut) {
			best, bestIdx = t, cut
		}
	}
	if bestIdx == 0 {
		return 0, 0, false, nil
	}
	b, err := p.batchAt(bestIdx)
	if err != nil {
		return 0, 0, false, err
	}
	return firstAtOrAfter(b, best, start)
}

// batchAt reads the batch of produce entry idx.
func (p *Partition) batchAt(idx uint64) ([]byte, error) {
	ents, err := p.log.ReadEntries(idx, idx+1, 1)
	if err != nil || len(ents) == 0 {
		return nil, fmt.Errorf("%w: read entry %d: %v", kerr.KafkaStorageError, idx, err)
	}
	_, _, b, ok := decodeEnvelope(ents[0].GetData())
	if !ok {
		return nil, fmt.Errorf("%w: entry %d holds no batch", kerr.KafkaStorageError, idx)
	}
	return b, nil
}

// firstAtOrAfter finds the first record of batch b at offset minOff or
// later with a timestamp at least ts.
func firstAtOrAfter(b []byte, ts, minOff int64) (offset, timestamp int64, found bool, err error) {
	err = recordTimes(b, func(off, t int64) bool {
		if off >= minOff && t >= ts {
			offset, timestamp, found = off, t, true
			return false
		}
		return true
	})
	return offset, timestamp, found, err
}

// latestAtOrAfter finds the record of batch b at offset minOff or later
// with the largest timestamp (the first such on ties).
func latestAtOrAfter(b []byte, minOff int64) (offset, timestamp int64, found bool, err error) {
	err = recordTimes(b, func(off, t int64) bool {
		if off >= minOff && (!found || t > timestamp) {
			offset, timestamp, found = off, t, true
		}
		return true
	})
	return offset, timestamp, found, err
}

// recordTimes calls fn with each record's offset and timestamp, in order,
// until fn returns false. A LogAppendTime batch gives every record its max
// timestamp.
func recordTimes(b []byte, fn func(off, ts int64) bool) error {
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		return fmt.Errorf("%w: stored batch: %v", kerr.CorruptMessage, err)
	}
	if rb.Attributes&attrLogAppendTime != 0 {
		for d := int64(0); d <= int64(rb.LastOffsetDelta); d++ {
			if !fn(rb.FirstOffset+d, rb.MaxTimestamp) {
				return nil
			}
		}
		return nil
	}
	raw := rb.Records
	if codec := rb.Attributes & attrCodecMask; codec != 0 {
		var err error
		if raw, err = inflate(codec, rb.Records); err != nil {
			return fmt.Errorf("%w: stored batch codec %d: %v", kerr.CorruptMessage, codec, err)
		}
	}
	for n := int32(0); n < rb.NumRecords && len(raw) > 0; n++ {
		var r kmsg.Record
		size, used := binary.Varint(raw)
		if used <= 0 || size < 0 || int64(len(raw)-used) < size {
			return fmt.Errorf("%w: stored record %d", kerr.CorruptMessage, n)
		}
		if err := r.ReadFrom(raw[:used+int(size)]); err != nil {
			return fmt.Errorf("%w: stored record %d: %v", kerr.CorruptMessage, n, err)
		}
		raw = raw[used+int(size):]
		if !fn(rb.FirstOffset+int64(r.OffsetDelta), rb.FirstTimestamp+r.TimestampDelta64) {
			return nil
		}
	}
	return nil
}

// Committed is raft's commit index on this replica.
func (p *Partition) Committed() uint64 { return p.rn.BasicStatus().HardState.GetCommit() }

// OldestIndex is the first raft index still in the log.
func (p *Partition) OldestIndex() uint64 { return p.log.OldestIndex() }

// Entries reads raw raft entries in [lo, hi), up to maxBytes (at least
// one): for checks that compare replicas entry by entry (the simulator's
// log-matching check).
func (p *Partition) Entries(lo, hi, maxBytes uint64) ([]*pb.Entry, error) {
	return p.log.ReadEntries(lo, hi, maxBytes)
}
