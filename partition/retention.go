package partition

// Retention (Kafka's delete cleanup policy): a replica deletes its oldest
// closed segments once they are older than retention.ms (by the largest
// record timestamp they hold, as Kafka compares it) or while the log
// without them is still at least retention.bytes. The active segment is
// never deleted, and neither is anything not yet applied.
//
// Each replica decides on its own segments, as Kafka's replicas do. Before
// deleting, it compacts raft's log to the last entry deleted (compact.go),
// never further: a follower so far behind that its leader deleted what it
// needs receives the snapshot at that point and then every retained entry
// as ordinary appends, so it ends up holding what the leader retains. The
// log start offset moves to the first record kept.

// RetentionResult says what one Retain call deleted.
type RetentionResult struct {
	Segments int   // segments deleted
	Bytes    int64 // their size on disk
	// LogStart is the log start offset after the deletion.
	LogStart int64
}

// Retain applies retention at nowMs (the broker's clock, in ms) with the
// topic's retention.ms and retention.bytes (negative: unlimited). The
// writes it needs are part of the next Ready's output. It deletes nothing
// when the partition is stopped.
func (p *Partition) Retain(nowMs, retentionMs, retentionBytes int64) (RetentionResult, error) {
	if p.err != nil || (retentionMs < 0 && retentionBytes < 0) {
		return RetentionResult{}, nil
	}
	segs := p.log.Segments()
	var total int64
	for _, s := range segs {
		total += s.Bytes
	}
	var (
		res   RetentionResult
		upTo  uint64 // last entry of the segments to delete
		found bool
	)
	for _, s := range segs {
		if s.Active {
			break
		}
		empty := s.Last < s.First
		if !empty && s.Last > p.applied {
			break
		}
		expired := retentionMs >= 0 && (!s.HasRecords || s.MaxTimestamp <= nowMs-retentionMs)
		oversize := retentionBytes >= 0 && total-s.Bytes >= retentionBytes
		if !expired && !oversize {
			break
		}
		total -= s.Bytes
		res.Segments++
		res.Bytes += s.Bytes
		if !empty {
			upTo, found = s.Last, true
		}
	}
	if res.Segments == 0 {
		return res, nil
	}
	if found {
		w, err := p.Compact(upTo)
		if err != nil {
			return RetentionResult{}, err
		}
		if w != nil {
			p.out.Writes = append(p.out.Writes, w)
		}
	}
	first, _ := p.log.FirstIndex()
	r, err := p.log.DeleteBefore(first)
	if err != nil {
		p.stop(err)
		return RetentionResult{}, err
	}
	if r != nil {
		p.out.Writes = append(p.out.Writes, &Write{Round: r})
	}
	res.LogStart = p.LogStartOffset()
	return res, nil
}
