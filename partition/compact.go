package partition

import (
	"fmt"

	"go.etcd.io/raft/v3/confchange"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// Compact moves raft's first index to index+1 by recording a snapshot of
// the partition's state at index (next offset, epoch cache, producer
// state, member incarnations) and the membership at index. Records stay on
// disk until retention deletes their segments, and compaction must never
// pass the first entry retention keeps: a replica that receives the
// snapshot gets the records after it as ordinary appends, so every replica
// holds every retained record (retention.go). It returns the write to run
// (nil when there is nothing to do).
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
	data, cs, err := p.stateAt(index)
	if err != nil {
		return nil, err
	}
	r, err := p.log.Compact(index, cs, data)
	if err != nil {
		p.stop(err)
		return nil, err
	}
	p.noteUnsynced() // the compaction round synced what relaxed writes left
	return &Write{Round: r}, nil
}

// stateAt derives the applied state and the membership at index: the last
// snapshot's, advanced through the entries after it exactly as apply
// advances them. The membership must be the one at index, not the current
// one: a replica installing the snapshot applies the conf changes after
// index again.
func (p *Partition) stateAt(index uint64) ([]byte, *pb.ConfState, error) {
	snap, err := p.log.Snapshot()
	if err != nil {
		return nil, nil, err
	}
	st := &Partition{cfg: p.cfg}
	si := snap.GetMetadata().GetIndex()
	st.applied = si
	if data := snap.GetData(); len(data) > 0 {
		if err := st.decodeSnapshot(data); err != nil {
			return nil, nil, fmt.Errorf("partition: %v: snapshot state: %w", p.cfg.Group, err)
		}
	}
	conf, err := newConfReplay(snap.GetMetadata().GetConfState())
	if err != nil {
		return nil, nil, fmt.Errorf("partition: %v: snapshot membership: %w", p.cfg.Group, err)
	}
	for lo := si + 1; lo <= index; {
		ents, err := p.log.ReadEntries(lo, index+1, 4<<20)
		if err != nil {
			return nil, nil, fmt.Errorf("partition: %v: read for compaction: %w", p.cfg.Group, err)
		}
		for _, e := range ents {
			switch e.GetType() {
			case pb.EntryConfChange, pb.EntryConfChangeV2:
				cc, err := decodeConfChange(e)
				if err != nil {
					return nil, nil, fmt.Errorf("partition: %v: conf change at %d: %w", p.cfg.Group, e.GetIndex(), err)
				}
				if err := conf.apply(cc, e.GetIndex()); err != nil {
					return nil, nil, fmt.Errorf("partition: %v: replay conf change at %d: %w", p.cfg.Group, e.GetIndex(), err)
				}
				if e.GetType() == pb.EntryConfChangeV2 {
					st.noteConfChange(cc) // as apply does
				}
			}
			st.noteEpoch(e.GetTerm(), e.GetIndex(), st.appliedNext)
			if start, ok := decodeLogStart(e); ok {
				st.logStart = max(st.logStart, start)
			}
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
	data := encodeApplied(st.applied, st.appliedNext, st.appliedMs, st.logStart, st.epochs, &st.producers)
	return append(data, st.encodeMembers()...), conf.trk.ConfState(), nil
}

// decodeSnapshot reads a compaction snapshot's data: the applied state,
// then the member incarnations (absent from the applied-state record).
func (p *Partition) decodeSnapshot(b []byte) error {
	rest, err := p.decodeAppliedRest(b)
	if err != nil {
		return err
	}
	return p.decodeMembers(rest)
}

func decodeConfChange(e *pb.Entry) (*pb.ConfChangeV2, error) {
	if e.GetType() == pb.EntryConfChange {
		var cc pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return nil, err
		}
		return cc.AsV2(), nil
	}
	var cc pb.ConfChangeV2
	if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
		return nil, err
	}
	return &cc, nil
}

// confReplay applies conf changes to a membership the way raft's
// applyConfChange does, without a raft node.
type confReplay struct{ trk tracker.ProgressTracker }

func newConfReplay(cs *pb.ConfState) (*confReplay, error) {
	r := &confReplay{trk: tracker.MakeProgressTracker(1, 0)}
	cfg, prs, err := confchange.Restore(confchange.Changer{Tracker: r.trk, LastIndex: 1}, cs)
	if err != nil {
		return nil, err
	}
	r.trk.Config, r.trk.Progress = cfg, prs
	return r, nil
}

func (r *confReplay) apply(cc *pb.ConfChangeV2, index uint64) error {
	ch := confchange.Changer{Tracker: r.trk, LastIndex: index}
	var (
		cfg tracker.Config
		prs tracker.ProgressMap
		err error
	)
	if cc.LeaveJoint() {
		cfg, prs, err = ch.LeaveJoint()
	} else if autoLeave, ok := cc.EnterJoint(); ok {
		cfg, prs, err = ch.EnterJoint(autoLeave, cc.GetChanges()...)
	} else {
		cfg, prs, err = ch.Simple(cc.GetChanges()...)
	}
	if err != nil {
		return err
	}
	r.trk.Config, r.trk.Progress = cfg, prs
	return nil
}
