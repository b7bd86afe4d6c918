package sim

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog"
	"sluice/raftlog/vfs"
)

func TestDiskFaultsFireAndHeal(t *testing.T) {
	for _, tc := range []struct {
		kind  string
		spans []string
	}{
		{"majority-power-loss", []string{"majority-power-loss"}},
		{"slow-disk-1s", []string{"slow-disk-1s"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			for _, w := range runKind(t, tc.kind, 6000, 1, 4, tc.spans...) {
				healed(t, w)
			}
		})
	}
}

// Damage fires, the damaged replica finds it (its broker, restarted on the
// disk, does not host the replica, or the replica stopped) in some seeds,
// and every damaged disk is replaced: the broker rejoined by the end.
func TestDamageFiresIsFoundAndRepaired(t *testing.T) {
	for _, kind := range []string{"sector-errors", "misdirected-write"} {
		t.Run(kind, func(t *testing.T) {
			var repairs, found int
			for seed := uint64(1); seed <= 8 && found == 0; seed++ {
				for _, w := range runKind(t, kind, 6000, seed, 1, kind) {
					healed(t, w)
					for _, sn := range w.nodes {
						for _, n := range sn.repairs {
							repairs++
							if n.stopped || n.refused || n.reads > 0 {
								found++
							}
						}
					}
					if w.statWipes == 0 {
						t.Errorf("seed %d: damage but no disk replaced", seed)
					}
				}
			}
			if found == 0 {
				t.Errorf("%s: the damage was never found in %d repairs", kind, repairs)
			}
		})
	}
}

// testLog writes entries 1..n to a log on m, one synced round each, and
// returns the path of its (single) segment.
func testLog(t *testing.T, m *vfs.Mem, rng *rand.Rand, n uint64) string {
	t.Helper()
	l, err := raftlog.Open(m, "p", raftlog.Options{SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= n; i++ {
		term := uint64(1)
		data := bytes.Repeat([]byte{byte(i)}, 100+rng.IntN(900))
		r, err := l.Append(raftlog.Batch{Entries: []*pb.Entry{{Index: &i, Term: &term, Data: data}},
			HardState: &pb.HardState{Term: &term, Commit: &i}})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Complete(r, r.Run(m)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	names, err := m.List("p")
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, name := range names {
		if len(name) > 4 && name[len(name)-4:] == ".seg" {
			segs = append(segs, vfs.Join("p", name))
		}
	}
	if len(segs) != 1 {
		t.Fatalf("want one segment, have %v", segs)
	}
	return segs[0]
}

// syncedBelow finds the sync marks raftlog writes: a log of many synced
// rounds is durable almost to its end, and a damaged first frame hides
// every mark.
func TestSyncedBelow(t *testing.T) {
	m := vfs.NewMem(1)
	seg := testLog(t, m, rand.New(rand.NewPCG(1, 2)), 40)
	size, _ := m.Stat(seg)
	got := syncedBelow(m, seg)
	if got <= size/2 || got > size {
		t.Fatalf("syncedBelow = %d of a %d-byte segment of 40 synced rounds", got, size)
	}
	if err := m.Misdirect(seg, 0, 512, 512); err != nil {
		t.Fatal(err)
	}
	if got := syncedBelow(m, seg); got != 0 {
		t.Fatalf("syncedBelow = %d with the first frame damaged", got)
	}
}

// The premise of the damage faults: raftlog reads damage below the point
// syncedBelow finds as corruption (or an I/O error), never as a torn tail
// it may cut silently. Misdirected writes drawn as the fault draws them
// make opening the log fail with ErrCorrupt.
func TestDamageBelowSyncMarkIsFound(t *testing.T) {
	damaged := 0
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 3))
		m := vfs.NewMem(seed)
		seg := testLog(t, m, rng, 50)
		w := MustNew(Config{Seed: seed})
		sn := &simNode{w: w, mem: m}
		size, _ := m.Stat(seg)
		d := &damage{misdirect: true, path: seg}
		if !w.applyDamage(sn, d, min(size, syncedBelow(m, seg))) {
			continue
		}
		damaged++
		_, err := raftlog.Open(m, "p", raftlog.Options{SegmentBytes: 1 << 20})
		if !errors.Is(err, raftlog.ErrCorrupt) {
			t.Errorf("seed %d: opening a log with a misdirected write below its sync marks: %v, want ErrCorrupt", seed, err)
		}
	}
	if damaged < 50 {
		t.Fatalf("only %d of 60 logs damaged", damaged)
	}
}

// A latent sector error fails every read that touches it, and only those.
func TestUnreadable(t *testing.T) {
	d := &damage{path: "p/1.seg", bad: []byteRange{{1024, 1536}}}
	for _, tc := range []struct {
		op   vfs.Op
		want bool
	}{
		{vfs.Op{Kind: vfs.OpRead, Path: "p/1.seg", Off: 0, Len: 1024}, false},
		{vfs.Op{Kind: vfs.OpRead, Path: "p/1.seg", Off: 0, Len: 1025}, true},
		{vfs.Op{Kind: vfs.OpRead, Path: "p/1.seg", Off: 1535, Len: 10}, true},
		{vfs.Op{Kind: vfs.OpRead, Path: "p/1.seg", Off: 1536, Len: 10}, false},
		{vfs.Op{Kind: vfs.OpRead, Path: "p/2.seg", Off: 1024, Len: 10}, false},
	} {
		if got := d.unreadable(tc.op); got != tc.want {
			t.Errorf("unreadable(%+v) = %v, want %v", tc.op, got, tc.want)
		}
	}
	if (*damage)(nil).unreadable(vfs.Op{Kind: vfs.OpRead, Path: "p/1.seg", Off: 1024, Len: 1}) {
		t.Error("no damage, yet unreadable")
	}
}
