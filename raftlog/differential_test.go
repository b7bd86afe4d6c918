package raftlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

func TestDifferentialMemoryStorage(t *testing.T) {
	for seed := uint64(0); seed < longSeeds(t, 300, 3000); seed++ {
		if err := diffRun(t, seed); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

func diffRun(t *testing.T, seed uint64) (rerr error) {
	defer func() {
		if p := recover(); p != nil {
			rerr = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 7))
	fs := vfs.NewMem(seed)
	opts := Options{SegmentBytes: int64(1024 + rng.IntN(4096)), TailCacheBytes: int64(1 + rng.IntN(2000)), IndexIntervalBytes: int64(64 + rng.IntN(1024))}
	l, err := Open(fs, "p", opts)
	if err != nil {
		return err
	}
	ms := raft.NewMemoryStorage()
	term := uint64(1)
	commit := uint64(0)
	var trace []string
	run := func(r *Round, err error) error {
		if err != nil {
			return err
		}
		if r == nil {
			return nil
		}
		return l.Complete(r, r.Run(fs))
	}
	check := func(where string) error {
		f1, _ := ms.FirstIndex()
		l1, _ := ms.LastIndex()
		f2, e2 := l.FirstIndex()
		l2, _ := l.LastIndex()
		if f1 != f2 || l1 != l2 || e2 != nil {
			return fmt.Errorf("%s: first/last model %d/%d log %d/%d %v; trace %v", where, f1, l1, f2, l2, e2, trace)
		}
		for i := f1 - 1; i <= l1+1; i++ {
			t1, err1 := ms.Term(i)
			t2, err2 := l.Term(i)
			if t1 != t2 || !errors.Is(err2, err1) && !(err1 == nil && err2 == nil) {
				return fmt.Errorf("%s: Term(%d) model %d %v log %d %v; trace %v", where, i, t1, err1, t2, err2, trace)
			}
		}
		if l1 >= f1 {
			lo := f1 + uint64(rng.IntN(int(l1-f1+1)))
			hi := lo + 1 + uint64(rng.IntN(int(l1-lo+1)))
			max := uint64(rng.IntN(3000))
			e1, err1 := ms.Entries(lo, hi, max)
			e2, err2 := l.Entries(lo, hi, max)
			if err1 != nil || err2 != nil || len(e1) != len(e2) {
				return fmt.Errorf("%s: Entries(%d,%d,%d) model %d %v log %d %v; trace %v", where, lo, hi, max, len(e1), err1, len(e2), err2, trace)
			}
			for k := range e1 {
				if e1[k].GetIndex() != e2[k].GetIndex() || e1[k].GetTerm() != e2[k].GetTerm() || !bytes.Equal(e1[k].GetData(), e2[k].GetData()) {
					return fmt.Errorf("%s: entry %d differs; trace %v", where, e1[k].GetIndex(), trace)
				}
			}
		}
		return nil
	}
	for step := 0; step < 60; step++ {
		f, _ := ms.FirstIndex()
		last, _ := ms.LastIndex()
		switch op := rng.IntN(20); {
		case op < 10: // append, maybe conflicting
			start := last + 1
			if rng.IntN(3) == 0 && last > commit {
				start = commit + 1 + uint64(rng.IntN(int(last-commit)))
				term++
			}
			n := 1 + rng.IntN(6)
			var es []*pb.Entry
			for k := 0; k < n; k++ {
				sz := rng.IntN(400)
				d := make([]byte, sz)
				for j := range d {
					d[j] = byte(rng.Uint32())
				}
				es = append(es, ent(start+uint64(k), term, d))
			}
			trace = append(trace, fmt.Sprintf("app[%d..%d]t%d", start, start+uint64(n)-1, term))
			if err := ms.Append(es); err != nil {
				return err
			}
			if err := run(l.Append(Batch{Entries: es, HardState: &pb.HardState{Term: new(term), Commit: new(commit)}})); err != nil {
				return fmt.Errorf("append: %v trace %v", err, trace)
			}
			if rng.IntN(2) == 0 {
				nl, _ := ms.LastIndex()
				back := uint64(rng.IntN(3))
				if nl >= back && nl-back > commit {
					commit = nl - back
				}
			}
		case op < 12: // compact
			if commit >= f {
				idx := f + uint64(rng.IntN(int(commit-f+1)))
				trace = append(trace, fmt.Sprintf("compact%d", idx))
				tm, _ := ms.Term(idx)
				if _, err := ms.CreateSnapshot(idx, &pb.ConfState{}, []byte("d")); err != nil {
					return err
				}
				ms.Compact(idx)
				_ = tm
				if err := run(l.Compact(idx, &pb.ConfState{}, []byte("d"))); err != nil {
					return fmt.Errorf("compact: %v trace %v", err, trace)
				}
			}
		case op < 14: // retention
			idx := uint64(rng.IntN(int(last + 2)))
			trace = append(trace, fmt.Sprintf("del%d", idx))
			if err := run(l.DeleteBefore(idx)); err != nil {
				return fmt.Errorf("delete: %v trace %v", err, trace)
			}
		case op < 15: // reset snapshot
			term++
			idx := commit + 1 + uint64(rng.IntN(20))
			snap := &pb.Snapshot{Data: []byte("s"), Metadata: &pb.SnapshotMetadata{Index: new(idx), Term: new(term), ConfState: &pb.ConfState{}}}
			trace = append(trace, fmt.Sprintf("reset%d", idx))
			if err := ms.ApplySnapshot(snap); err != nil {
				return err
			}
			commit = idx
			if err := run(l.Append(Batch{Snapshot: snap, HardState: &pb.HardState{Term: new(term), Commit: new(commit)}})); err != nil {
				return fmt.Errorf("reset: %v trace %v", err, trace)
			}
		case op < 17: // clean reopen
			trace = append(trace, "reopen")
			l.Close()
			if rng.IntN(2) == 0 {
				names, _ := fs.List("p")
				for _, n := range names {
					if strings.HasSuffix(n, ".idx") {
						fs.Remove("p/" + n)
					}
				}
				fs.SyncDir("p")
				trace = append(trace, "noidx")
			}
			if l, err = Open(fs, "p", opts); err != nil {
				return fmt.Errorf("reopen: %v trace %v", err, trace)
			}
		default: // power loss after all rounds completed
			trace = append(trace, "crash")
			l.Close()
			fs.Crash()
			if l, err = Open(fs, "p", opts); err != nil {
				return fmt.Errorf("reopen after crash: %v trace %v", err, trace)
			}
		}
		if err := check(fmt.Sprint("step ", step)); err != nil {
			return err
		}
	}
	return nil
}
