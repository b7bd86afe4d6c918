package partition

// Retention (Kafka's delete cleanup policy): the leader finds its oldest
// closed segments that are older than retention.ms (by the largest record
// timestamp they hold, as Kafka compares it) or that the log can lose while
// still holding at least retention.bytes, and proposes moving the log start
// offset to the first record after them. The active segment counts too
// (its file goes once it is closed); nothing not yet applied goes.
//
// The log start offset is replicated state: a log-start entry in the raft
// log, applied by every replica in order (like Kafka's DeleteRecords, which
// followers learn from their leader). Each replica then deletes its closed
// segments whose records all lie below it (Ready), so the offset a client
// was told never goes back when leadership moves. It did when each replica
// applied the policy to its own segments: replicas cut their segments at
// different places (hard states and state records fall between entries
// differently), so a new leader could still hold, and serve, records below
// the log start its predecessor reported, after a consumer had reset past
// them (the simulator's large-records scenario, -swarm seed 222).
//
// Before deleting, a replica compacts raft's log to the last entry deleted
// (compact.go), never further: a follower so far behind that its leader
// deleted what it needs receives the snapshot at that point and then every
// retained entry as ordinary appends, so it ends up holding what the leader
// retains.

import (
	"encoding/binary"
	"errors"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// RetentionResult says what one replica deleted below the log start.
type RetentionResult struct {
	Segments int   // segments deleted
	Bytes    int64 // their size on disk
	// LogStart is the log start offset after the deletion.
	LogStart int64
}

// A log-start entry's data: logStartTag | offset i64 (little-endian). It is
// shorter than any produce envelope, so decodeEnvelope never takes it for
// one, and it holds no records.
const (
	logStartTag   = 'S'
	logStartBytes = 9
)

func encodeLogStart(offset int64) []byte {
	b := make([]byte, logStartBytes)
	b[0] = logStartTag
	binary.LittleEndian.PutUint64(b[1:], uint64(offset))
	return b
}

// decodeLogStart reads a log-start entry.
func decodeLogStart(e *pb.Entry) (int64, bool) {
	d := e.GetData()
	if e.GetType() != pb.EntryNormal || len(d) != logStartBytes || d[0] != logStartTag {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint64(d[1:])), true
}

// Retain applies retention at nowMs (the broker's clock, in ms) with the
// topic's retention.ms and retention.bytes (negative: unlimited). On the
// leader it proposes the log start offset the policy allows, never above
// the high watermark, when that is beyond the current one, and returns it
// (0: nothing proposed); followers, and a leader whose high watermark is
// not current yet, do nothing. Segments are deleted once the entry is
// applied (Ready).
func (p *Partition) Retain(nowMs, retentionMs, retentionBytes int64) (int64, error) {
	if p.err != nil || (retentionMs < 0 && retentionBytes < 0) || !p.isLeader() {
		return 0, nil
	}
	hw, ok := p.HighWatermark()
	if !ok {
		return 0, nil
	}
	segs := p.log.Segments()
	var total int64
	for _, s := range segs {
		total += s.Bytes
	}
	var start int64 // the offset after the segments that may go (0: none)
	for _, s := range segs {
		// The active segment counts too, as in Kafka (which rolls it to
		// delete it): once every record in it is expired and below the
		// high watermark, the log start moves past them, so a partition
		// that never fills a segment still loses expired records. Its file
		// goes when it is closed (deleteBelowStart's waitRoll).
		var next int64
		if s.Last >= s.First { // not empty
			if s.Last > p.applied {
				break
			}
			// Only what every client can read goes, as in Kafka:
			// records at or above the high watermark stay (with
			// min.insync.replicas above a quorum it can lag the
			// applied index).
			if next = p.offsetAfter(s.Last); next > hw {
				break
			}
		}
		expired := retentionMs >= 0 && (!s.HasRecords || s.MaxTimestamp <= nowMs-retentionMs)
		oversize := retentionBytes >= 0 && total-s.Bytes >= retentionBytes
		if !expired && !oversize {
			break
		}
		total -= s.Bytes
		start = max(start, next)
	}
	if p.err != nil {
		return 0, p.storageErr()
	}
	if start <= p.logStart {
		return 0, nil
	}
	proposed, _, err := p.proposeLogStart(start)
	if errors.Is(err, raft.ErrProposalDropped) {
		return 0, nil // leadership is moving; the next leader decides
	}
	if err != nil || !proposed {
		return 0, err
	}
	return start, nil
}

// proposeLogStart proposes moving the log start to offset, unless this
// leader already proposed as far in its term; it returns whether it
// proposed, and the term. raft.ErrProposalDropped: leadership is moving.
func (p *Partition) proposeLogStart(offset int64) (proposed bool, term uint64, err error) {
	_, term = p.Leader()
	if p.startTerm != term {
		p.startProposed, p.startTerm = 0, term
	}
	if offset <= p.startProposed {
		return false, term, nil
	}
	p.Wake()
	if err := p.rn.Propose(encodeLogStart(offset)); err != nil {
		return false, term, err
	}
	p.startProposed = offset
	return true, term, nil
}

// deleteBelowStart deletes this replica's oldest closed segments whose
// records all lie below the replicated log start, compacting raft's log
// first; the writes go out with this Ready. What it deleted is
// Output.Deleted. Ready calls it when the log start moved, or when a
// segment wholly below it was active and another segment has appeared.
func (p *Partition) deleteBelowStart() {
	var (
		res   RetentionResult
		upTo  uint64
		found bool
		done  = true // every segment that can go went
	)
	p.waitRoll = false
	for _, s := range p.log.Segments() {
		if s.Active {
			// A follower's active segment may hold nothing at or above
			// the log start (it cut its segments elsewhere): it goes once
			// it is closed.
			p.waitRoll = s.Last >= s.First && p.offsetAfter(s.Last) <= p.logStart
			break
		}
		if s.Last >= s.First { // not empty
			if p.offsetAfter(s.Last) > p.logStart {
				break
			}
			if s.Last > p.applied {
				// Records below the log start are applied before it;
				// empty entries after them may not be yet.
				done = false
				break
			}
			upTo, found = s.Last, true
		}
		res.Segments++
		res.Bytes += s.Bytes
	}
	if p.err != nil {
		return
	}
	if done {
		p.deletedTo = p.logStart
	}
	if res.Segments == 0 {
		return
	}
	if found {
		w, err := p.Compact(upTo)
		if err != nil {
			p.stop(err)
			return
		}
		if w != nil {
			p.out.Writes = append(p.out.Writes, w)
		}
	}
	first, _ := p.log.FirstIndex()
	r, err := p.log.DeleteBefore(first)
	if err != nil {
		p.stop(err)
		return
	}
	if r != nil {
		p.out.Writes = append(p.out.Writes, &Write{Round: r})
	}
	res.LogStart = p.LogStartOffset()
	p.out.Deleted = res
}
