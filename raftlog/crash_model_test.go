package raftlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

type mentry struct {
	term uint64
	data []byte
}

// simple model: entries from first..; snapIndex = first-1
type model struct {
	snapIdx, snapTerm uint64
	ents              []mentry // index snapIdx+1+k
}

func (m *model) clone() *model {
	c := *m
	c.ents = append([]mentry(nil), m.ents...)
	return &c
}
func (m *model) last() uint64 { return m.snapIdx + uint64(len(m.ents)) }
func (m *model) put(i uint64, e mentry) {
	k := i - m.snapIdx - 1
	m.ents = append(m.ents[:k], e)
}

// longSeeds is short in the default run; RAFTLOG_LONG=1 runs the long
// sweep (and -short an even shorter one).
func longSeeds(t *testing.T, normal, long uint64) uint64 {
	switch {
	case os.Getenv("RAFTLOG_LONG") != "":
		return long
	case testing.Short():
		return normal / 10
	}
	return normal
}

// TestCrashModel runs random workloads with rounds in flight, partial
// parallel syncs, power loss and process crashes (also during recovery),
// resets, compaction and retention, and checks every recovery against a
// model: nothing a completed round wrote is lost, nothing superseded comes
// back.
func TestCrashModel(t *testing.T) {
	for seed := uint64(0); seed < longSeeds(t, 600, 8000); seed++ {
		if err := crashRun(seed); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

func crashRun(seed uint64) (rerr error) {
	defer func() {
		if p := recover(); p != nil {
			rerr = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 99))
	mem := vfs.NewMem(seed)
	var rule vfs.Rule
	fs := vfs.Inject(mem, vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
		if rule != nil {
			return rule.Inject(op)
		}
		return vfs.Injection{}
	}))
	opts := Options{SegmentBytes: int64(1024 + rng.IntN(4096)), TailCacheBytes: int64(1 + rng.IntN(2000))}
	l, err := Open(fs, "p", opts)
	if err != nil {
		return err
	}
	m := &model{}
	hsTerm, hsVote := uint64(0), uint64(0)
	term := uint64(1)
	var trace []string
	mk := func(start uint64, n int, tm uint64) []*pb.Entry {
		var es []*pb.Entry
		for k := 0; k < n; k++ {
			d := make([]byte, rng.IntN(600))
			for j := range d {
				d[j] = byte(rng.Uint32())
			}
			es = append(es, ent(start+uint64(k), tm, d))
		}
		return es
	}
	for iter := 0; iter < 12; iter++ {
		// Completed rounds.
		for k := rng.IntN(6); k > 0; k-- {
			if rng.IntN(10) == 0 {
				term++
				idx := m.snapIdx + 1 + uint64(rng.IntN(len(m.ents)+5))
				if idx <= m.snapIdx {
					idx = m.snapIdx + 1
				}
				trace = append(trace, fmt.Sprintf("RESET%d", idx))
				hsTerm, hsVote = term, 1
				snap := &pb.Snapshot{Data: []byte("s"), Metadata: &pb.SnapshotMetadata{Index: new(idx), Term: new(term), ConfState: &pb.ConfState{}}}
				r, err := l.Append(Batch{Snapshot: snap, HardState: &pb.HardState{Term: new(term), Vote: new(uint64(1)), Commit: new(idx)}})
				if err != nil {
					return err
				}
				if err := l.Complete(r, r.Run(fs)); err != nil {
					return err
				}
				m = &model{snapIdx: idx, snapTerm: term}
				continue
			}
			start := m.last() + 1
			if rng.IntN(4) == 0 && len(m.ents) > 0 {
				start = m.snapIdx + 1 + uint64(rng.IntN(len(m.ents)))
				term++
			}
			es := mk(start, 1+rng.IntN(5), term)
			hsTerm, hsVote = term, uint64(1+rng.IntN(3))
			trace = append(trace, fmt.Sprintf("A[%d..%d]t%d", start, start+uint64(len(es))-1, term))
			r, err := l.Append(Batch{Entries: es, HardState: &pb.HardState{Term: new(hsTerm), Vote: new(hsVote)}})
			if err != nil {
				return err
			}
			if err := l.Complete(r, r.Run(fs)); err != nil {
				return err
			}
			for _, e := range es {
				m.put(e.GetIndex(), mentry{e.GetTerm(), e.GetData()})
			}
			if rng.IntN(5) == 0 && len(m.ents) > 2 {
				idx := m.snapIdx + 1 + uint64(rng.IntN(len(m.ents)-1))
				trace = append(trace, fmt.Sprintf("C%d", idx))
				r, err := l.Compact(idx, nil, []byte("x"))
				if err != nil {
					return err
				}
				if err := l.Complete(r, r.Run(fs)); err != nil {
					return err
				}
				k := idx - m.snapIdx
				m.snapTerm = m.ents[k-1].term
				m.ents = m.ents[k:]
				m.snapIdx = idx
				if rng.IntN(2) == 0 {
					r, err := l.DeleteBefore(idx + 1)
					if err != nil {
						return err
					}
					if r != nil {
						if err := l.Complete(r, r.Run(fs)); err != nil {
							return err
						}
					}
				}
			}
		}
		durable := m.clone()
		dTerm, dVote := hsTerm, hsVote
		// In-flight rounds.
		states := []*model{durable}
		var roundEnd []int
		var rounds []*Round
		cur := durable.clone()
		for k := rng.IntN(4); k > 0; k-- {
			if rng.IntN(6) == 0 {
				term++
				idx := cur.snapIdx + 1 + uint64(rng.IntN(len(cur.ents)+5))
				if idx <= cur.snapIdx {
					idx = cur.snapIdx + 1
				}
				trace = append(trace, fmt.Sprintf("reset%d", idx))
				snap := &pb.Snapshot{Data: []byte("s"), Metadata: &pb.SnapshotMetadata{Index: new(idx), Term: new(term), ConfState: &pb.ConfState{}}}
				r, err := l.Append(Batch{Snapshot: snap, HardState: &pb.HardState{Term: new(term), Vote: new(uint64(9)), Commit: new(idx)}})
				if err != nil {
					return err
				}
				rounds = append(rounds, r)
				cur = &model{snapIdx: idx, snapTerm: term}
				states = append(states, cur.clone())
				roundEnd = append(roundEnd, len(states)-1)
				continue
			}
			start := cur.last() + 1
			if rng.IntN(3) == 0 && len(cur.ents) > 0 {
				start = cur.snapIdx + 1 + uint64(rng.IntN(len(cur.ents)))
				term++
			}
			es := mk(start, 1+rng.IntN(5), term)
			trace = append(trace, fmt.Sprintf("a[%d..%d]t%d", start, start+uint64(len(es))-1, term))
			r, err := l.Append(Batch{Entries: es, HardState: &pb.HardState{Term: new(term), Vote: new(uint64(9))}})
			if err != nil {
				return err
			}
			rounds = append(rounds, r)
			for _, e := range es {
				cur.put(e.GetIndex(), mentry{e.GetTerm(), e.GetData()})
				states = append(states, cur.clone())
			}
			roundEnd = append(roundEnd, len(states)-1)
		}
		minState := 0
		if len(rounds) > 1 && rng.IntN(2) == 0 {
			p := 1 + rng.IntN(len(rounds)-1)
			for _, r := range rounds[:p] {
				if err := l.Complete(r, r.Run(fs)); err != nil {
					return err
				}
			}
			trace = append(trace, fmt.Sprintf("ran%d", p))
			minState = roundEnd[p-1]
			dVote = 9
			rounds = rounds[p:]
		}
		for _, r := range rounds {
			if err := r.WriteAll(); err != nil {
				return err
			}
		}
		var files []vfs.File
		seen := map[vfs.File]bool{}
		for _, r := range rounds {
			for _, f := range r.Syncs {
				if !seen[f] {
					seen[f] = true
					files = append(files, f)
				}
			}
		}
		synced := 0
		for _, f := range files {
			if rng.IntN(2) == 0 {
				f.Sync()
				if rng.IntN(3) == 0 {
					fs.SyncDir("p")
				}
				synced++
			}
		}
		if synced == len(files) && rng.IntN(2) == 0 {
			for _, r := range rounds {
				for _, d := range r.SyncDirs {
					fs.SyncDir(d)
				}
			}
			for _, r := range rounds {
				if rng.IntN(2) == 0 {
					break
				}
				r.ReplaceFiles(fs)
			}
		}
		trace = append(trace, "crash")
		l.Close()
		if rng.IntN(4) == 0 {
			mem.ProcessCrash()
		} else {
			mem.Crash()
		}
		if rng.IntN(2) == 0 {
			n := rng.IntN(40)
			trace = append(trace, fmt.Sprintf("recoverycrash@%d", n))
			rule = vfs.After(n, vfs.RuleFunc(func(vfs.Op) vfs.Injection { return vfs.Injection{Err: errors.New("dead")} }))
			if l2, err := Open(fs, "p", opts); err == nil {
				l2.Close()
			}
			rule = nil
			if rng.IntN(2) == 0 {
				mem.Crash()
			} else {
				mem.CrashClean()
			}
		}
		l, err = Open(fs, "p", opts)
		if err != nil {
			return fmt.Errorf("reopen: %v; trace %v", err, trace)
		}
		// Compare.
		fi, _ := l.FirstIndex()
		li, _ := l.LastIndex()
		var got []*pb.Entry
		if li >= fi {
			got, err = l.Entries(fi, li+1, 1<<40)
			if err != nil {
				return fmt.Errorf("entries: %v; trace %v", err, trace)
			}
		}
		match := -1
		for j, s := range states {
			if j < minState {
				continue
			}
			if s.snapIdx+1 != fi || s.last() != li {
				continue
			}
			ok := true
			for k, e := range got {
				if e.GetTerm() != s.ents[k].term || !bytes.Equal(e.GetData(), s.ents[k].data) {
					ok = false
					break
				}
			}
			if ok {
				match = j
				break
			}
		}
		if match < 0 {
			return fmt.Errorf("recovered [%d,%d] matches no state (durable [%d,%d]); trace %v", fi, li, durable.snapIdx+1, durable.last(), trace)
		}
		hs, _, _ := l.InitialState()
		if hs.GetTerm() < dTerm || (hs.GetTerm() == dTerm && hs.GetVote() != dVote && hs.GetVote() != 9) {
			return fmt.Errorf("hard state %v, durable term %d vote %d; trace %v", hs, dTerm, dVote, trace)
		}
		if st, _ := l.Term(fi - 1); st != states[match].snapTerm {
			return fmt.Errorf("snapshot term %d want %d", st, states[match].snapTerm)
		}
		m = states[match].clone()
		hsTerm, hsVote = hs.GetTerm(), hs.GetVote()
		if term < hsTerm {
			term = hsTerm
		}
		_ = raft.ErrCompacted
	}
	return nil
}
