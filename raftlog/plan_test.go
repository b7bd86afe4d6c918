package raftlog

import (
	"math/rand/v2"
	"sync"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"sluice/raftlog/vfs"
)

// A plan reads exactly what ReadEntries reads, for cold ranges in sealed
// segments (with superseded frames) and in the active segment.
func TestReadPlanMatchesReadEntries(t *testing.T) {
	fs := vfs.NewMem(1)
	l := fillLog(t, fs, "p", 3000, Options{SegmentBytes: 256 << 10, TailCacheBytes: 64 << 10})
	// A conflicting append reaching into a sealed segment leaves superseded
	// frames behind.
	r, err := l.Append(Batch{Entries: []*pb.Entry{ent(2990, 2, []byte("x")), ent(2991, 2, []byte("y"))}})
	mustRun(t, l, r, err)
	rng := rand.New(rand.NewPCG(1, 2))
	last, _ := l.LastIndex()
	for k := 0; k < 300; k++ {
		lo := l.OldestIndex() + uint64(rng.IntN(int(last-l.OldestIndex())))
		hi := lo + 1 + uint64(rng.IntN(200))
		hi = min(hi, last+1)
		maxSize := uint64(1 + rng.IntN(64<<10))
		plan, err := l.PlanRead(lo, hi, maxSize)
		if err != nil {
			t.Fatal(err)
		}
		if plan == nil {
			if lo < l.tailFirst {
				t.Fatalf("no plan for cold index %d (tail from %d)", lo, l.tailFirst)
			}
			continue
		}
		got, err := plan.Execute()
		if err != nil {
			t.Fatal(err)
		}
		want, err := l.ReadEntries(lo, min(hi, l.tailFirst), maxSize)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || len(got) > len(want) {
			t.Fatalf("[%d,%d) max %d: plan read %d entries, ReadEntries %d", lo, hi, maxSize, len(got), len(want))
		}
		for i := range got {
			if !proto.Equal(got[i], want[i]) {
				t.Fatalf("[%d,%d): entry %d differs", lo, hi, got[i].GetIndex())
			}
		}
	}
}

// Plans run on another goroutine while the owner keeps appending.
func TestReadPlanConcurrentWithAppends(t *testing.T) {
	fs := vfs.OS()
	l := fillLog(t, fs, t.TempDir()+"/p", 2000, Options{SegmentBytes: 128 << 10, TailCacheBytes: 32 << 10})
	var plans []*ReadPlan
	for lo := uint64(1); lo < 1500; lo += 100 {
		p, err := l.PlanRead(lo, lo+50, 1<<20)
		if err != nil || p == nil {
			t.Fatalf("plan at %d: %v", lo, err)
		}
		plans = append(plans, p)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(plans))
	for _, p := range plans {
		wg.Add(1)
		go func(p *ReadPlan) {
			defer wg.Done()
			ents, err := p.Execute()
			if err == nil && len(ents) == 0 {
				t.Error("empty read")
			}
			errs <- err
		}(p)
	}
	data := make([]byte, 1<<10)
	for i := uint64(2001); i <= 2300; i++ {
		r, err := l.Append(Batch{Entries: []*pb.Entry{ent(i, 1, data)}})
		mustRun(t, l, r, err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
