package partition

// Read errors inside raft. etcd raft reads the log through its Storage
// (entries to apply or send, terms to match, the first and last index) and
// panics on any error other than compaction or unavailability. A read can
// fail for real — EIO, or a corrupt record (a bit flipped on the way from
// the disk: raftlog then stops the log) — and DESIGN.md step 7 says such an
// error stops the partition, which the broker reopens from disk, and never
// crashes the broker. So the Storage notes the error before raft sees it,
// and every call into raft that may read the log recovers raft's panic when
// (and only when) such an error was noted, and stops the partition. The
// RawNode is never used again: the reopened partition builds a new one.

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

func (s storage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	ents, err := s.Log.Entries(lo, hi, maxSize)
	return ents, s.p.noteReadErr(err)
}

func (s storage) Term(i uint64) (uint64, error) {
	t, err := s.Log.Term(i)
	return t, s.p.noteReadErr(err)
}

func (s storage) FirstIndex() (uint64, error) {
	i, err := s.Log.FirstIndex()
	return i, s.p.noteReadErr(err)
}

func (s storage) LastIndex() (uint64, error) {
	i, err := s.Log.LastIndex()
	return i, s.p.noteReadErr(err)
}

// noteReadErr records a read error raft will not survive.
func (p *Partition) noteReadErr(err error) error {
	if err != nil && p.readErr == nil && !errors.Is(err, raft.ErrCompacted) && !errors.Is(err, raft.ErrUnavailable) &&
		!errors.Is(err, raft.ErrSnapOutOfDate) && !errors.Is(err, raft.ErrSnapshotTemporarilyUnavailable) {
		p.readErr = err
	}
	return err
}

// recoverRead is deferred by every method that calls into raft: a panic
// after a read error stops the partition; any other panic goes on.
func (p *Partition) recoverRead() {
	if p.readErr == nil {
		return
	}
	if v := recover(); v != nil {
		p.stopOnRead()
	}
}

func (p *Partition) stopOnRead() {
	p.stop(fmt.Errorf("raft could not read the log: %w", p.readErr))
}
