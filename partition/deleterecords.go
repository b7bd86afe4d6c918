package partition

// DeleteRecords (Kafka's KIP-107): a client moves the log start offset
// forward, to any offset up to the high watermark. It is the same
// replicated log start that retention moves (retention.go): the leader
// proposes a log-start entry, and the request completes once it is
// applied, with the new log start (Kafka's low watermark). Records below it
// are gone for every reader at once; a replica's segments go once they lie
// wholly below it. A log start inside a batch is kept as given: a fetch
// from it returns the whole batch, and clients skip the records before
// their fetch offset, as with Kafka.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.etcd.io/raft/v3"
)

// DeleteResult completes a DeleteRecords request.
type DeleteResult struct {
	ID uint64
	// LowWatermark is the log start offset after the deletion.
	LowWatermark int64
	Err          error
}

type pendingDelete struct {
	id     uint64
	offset int64
	term   uint64
}

// maxPendingDeletes bounds the DeleteRecords requests waiting on one
// partition; more are refused with a retriable error.
const maxPendingDeletes = 64

// DeleteRecords asks to move the log start offset to offset (-1: the high
// watermark). It completes in a later Output's Deletes: at once when the
// log start is already there, else once the leader's proposal is applied.
// An offset above the high watermark is OFFSET_OUT_OF_RANGE.
func (p *Partition) DeleteRecords(id uint64, offset int64) {
	fail := func(err error) {
		p.out.Deletes = append(p.out.Deletes, DeleteResult{ID: id, LowWatermark: -1, Err: err})
	}
	if err := p.notLeading(); err != nil {
		fail(err)
		return
	}
	hw, ok := p.HighWatermark()
	if !ok {
		// A new leader: its log start may be stale. Clients retry this
		// one (franz-go retries no other here).
		fail(kerr.NotLeaderForPartition)
		return
	}
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		fail(kerr.OffsetOutOfRange)
		return
	}
	start, err := p.LogStart()
	if err != nil {
		fail(err)
		return
	}
	if offset <= start {
		p.out.Deletes = append(p.out.Deletes, DeleteResult{ID: id, LowWatermark: start})
		return
	}
	if planted("delete-records-no-op") {
		// Answered as done; nothing moves.
		p.out.Deletes = append(p.out.Deletes, DeleteResult{ID: id, LowWatermark: offset})
		return
	}
	if planted("delete-records-local") {
		// The leader moves its own log start, unreplicated.
		p.logStart = offset
		p.out.Deletes = append(p.out.Deletes, DeleteResult{ID: id, LowWatermark: offset})
		return
	}
	if len(p.deletes) >= maxPendingDeletes {
		fail(kerr.RequestTimedOut)
		return
	}
	if planted("delete-records-one-more") && offset < hw {
		offset++ // one record more than asked
	}
	_, term, err := p.proposeLogStart(offset)
	if errors.Is(err, raft.ErrProposalDropped) {
		fail(kerr.NotLeaderForPartition)
		return
	}
	if err != nil {
		fail(err)
		return
	}
	p.deletes = append(p.deletes, pendingDelete{id: id, offset: offset, term: term})
}

// resolveDeletes completes the DeleteRecords requests whose log start is
// applied, and fails those of a term this replica no longer leads: their
// proposal may be lost (the client retries).
func (p *Partition) resolveDeletes() {
	if len(p.deletes) == 0 {
		return
	}
	lead, term := p.Leader()
	leading := lead == p.cfg.ID
	keep := p.deletes[:0]
	for _, d := range p.deletes {
		switch {
		case p.err != nil:
			p.out.Deletes = append(p.out.Deletes, DeleteResult{ID: d.id, LowWatermark: -1, Err: p.storageErr()})
		case p.logStart >= d.offset:
			p.out.Deletes = append(p.out.Deletes, DeleteResult{ID: d.id, LowWatermark: p.LogStartOffset()})
		case !leading || term != d.term:
			p.out.Deletes = append(p.out.Deletes, DeleteResult{ID: d.id, LowWatermark: -1, Err: kerr.NotLeaderForPartition})
		default:
			keep = append(keep, d)
		}
	}
	clear(p.deletes[len(keep):])
	p.deletes = keep
}

// AbandonDeletes fails every waiting DeleteRecords request with
// NOT_LEADER_OR_FOLLOWER: the caller is closing this replica. Their
// log-start entries may still be applied later, by this group's next
// leader; the clients retry.
func (p *Partition) AbandonDeletes() []DeleteResult {
	out := p.out.Deletes // made this turn, not yet taken by a Ready
	p.out.Deletes = nil
	for _, d := range p.deletes {
		out = append(out, DeleteResult{ID: d.id, LowWatermark: -1, Err: kerr.NotLeaderForPartition})
	}
	p.deletes = nil
	return out
}
