package raftlog

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

func noise(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// A segment dropped by recovery (it followed a torn, unsealed one) is only
// removed after recovery's checkpoint. If recovery itself crashes after
// sealing the torn segment durably but before the checkpoint rename, the
// next recovery scans the dropped segment as live.
func TestRecoveryCrashKeepsDroppedSegmentsDropped(t *testing.T) {
	m := vfs.NewMem(1)
	var rule vfs.Rule = vfs.RuleFunc(func(vfs.Op) vfs.Injection { return vfs.Injection{} })
	x := vfs.Inject(m, rule)
	opts := Options{SegmentBytes: 8192}
	l, err := Open(x, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	r00, err := l.Append(Batch{Entries: []*pb.Entry{ent(1, 1, noise(7000, 9))}})
	mustRun(t, l, r00, err)
	// R0 rolls to S and puts entry 2 there.
	r0, err := l.Append(Batch{Entries: []*pb.Entry{ent(2, 1, noise(7000, 1))}})
	if err != nil {
		t.Fatal(err)
	}
	S := l.active()
	// R (built before R0 runs): entry 3 fits in S, entry 4 rolls S -> T.
	r, err := l.Append(Batch{Entries: []*pb.Entry{ent(3, 1, noise(100, 2)), ent(4, 1, noise(7000, 3))},
		HardState: &pb.HardState{Term: new(uint64(1)), Commit: new(uint64(4))}})
	if err != nil {
		t.Fatal(err)
	}
	T := l.active()
	if S == T {
		t.Fatal("no roll")
	}
	t.Logf("S gen %d, T gen %d", S.gen, T.gen)
	// R0 runs whole: its SyncDir (for S, and its checkpoint's) also makes T's name durable.
	if err := l.Complete(r0, r0.Run(x)); err != nil {
		t.Fatal(err)
	}
	// R: writes done, T synced, S not yet (parallel syncs), then power loss.
	if err := r.WriteAll(); err != nil {
		t.Fatal(err)
	}
	if err := T.f.Sync(); err != nil {
		t.Fatal(err)
	}
	m.CrashClean()

	// Recovery 1 drops T correctly, but dies on the checkpoint rename
	// (after its segment syncs and directory sync).
	x.SetRule(vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
		if op.Kind == vfs.OpRename && strings.HasSuffix(op.Path, "checkpoint.tmp") {
			return vfs.Injection{Err: errors.New("power lost")}
		}
		return vfs.Injection{}
	}))
	if _, err := Open(x, "p", opts); err == nil {
		t.Fatal("expected injected failure")
	} else {
		t.Logf("recovery 1: %v", err)
	}
	m.CrashClean()
	x.SetRule(vfs.RuleFunc(func(vfs.Op) vfs.Injection { return vfs.Injection{} }))
	names, _ := m.List("p")
	t.Logf("files: %v", names)

	// Recovery 2: an ordinary restart.
	l, err = Open(x, "p", opts)
	if err != nil {
		t.Fatalf("recovery 2 refuses to open: %v", err)
	}
	li, _ := l.LastIndex()
	t.Logf("last %d", li)
}
