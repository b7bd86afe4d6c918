package sim

import (
	"crypto/rand"
	"slices"
	"testing"
)

// netKinds are the fault kinds of faults_net.go.
func netKinds() []string {
	var out []string
	for _, f := range netFaults {
		out = append(out, f.name)
	}
	return out
}

// liveWorld is a world set up and running its workload in the fault
// phase, without a nemesis: the test starts faults itself.
func liveWorld(t *testing.T, nodes int) *World {
	t.Helper()
	w := MustNew(Config{Seed: 5, Nodes: nodes, DurationMs: 60_000, Faults: true, Scenario: Scenario{Name: "by-hand"}})
	old := rand.Reader
	rand.Reader = seededReader{w}
	t.Cleanup(func() { rand.Reader = old })
	w.setup()
	w.faulting = true
	w.startWorkload(w.cfg.DurationMs * 1e6)
	w.runUntil(w.nowNs + 500e6)
	return w
}

// netState is what the network faults change, read at one moment.
type netState struct {
	cut, clogged, shaped                 int // links
	expDelayed, reorderDups, limitDrops  int // batches so far
	resets, deadClients, replacedClients int
	cutAcross                            bool // every link across the last span's side is cut
}

func (w *World) netState(side []uint64) netState {
	s := netState{expDelayed: w.net.statExpDelayed, reorderDups: w.net.statReorderDups, limitDrops: w.net.statLimitDrops,
		resets: w.statResets, cutAcross: len(side) > 0}
	for _, k := range w.allLinks() {
		l := w.net.link(k[0], k[1])
		if l.cut {
			s.cut++
		}
		if l.clogUntil > w.nowNs {
			s.clogged++
		}
		if w.nowNs < max(l.expUntilNs, l.reorderUntilNs, l.limitUntilNs) {
			s.shaped++
		}
		if slices.Contains(side, k[0]) != slices.Contains(side, k[1]) && !l.cut {
			s.cutAcross = false
		}
	}
	for _, c := range w.clients {
		if c.dead {
			s.deadClients++
			if c.successor != nil {
				s.replacedClients++
			}
		}
	}
	return s
}

// Every network fault kind starts (a span on the timeline, its effect
// visible halfway through it) and heals itself while the fault phase goes
// on: no link cut, clogged or shaped once its span is over (and the
// swizzle's last unclog with it), nothing more delayed, duplicated or
// dropped by it afterwards, a crashed client replaced.
func TestNetFaultsStartAndHeal(t *testing.T) {
	for _, kind := range netKinds() {
		t.Run(kind, func(t *testing.T) {
			nodes := 3
			if kind == "minority" || kind == "halves" {
				nodes = 5
			}
			w := liveWorld(t, nodes)
			leads := map[uint64]int{}
			for _, sn := range w.nodes {
				for _, pi := range sn.n.Partitions() {
					if pi.Leader == sn.id {
						leads[sn.id]++
					}
				}
			}
			before := w.netState(nil)
			var stallGen int32 // the members' highest generation before the fault
			for _, m := range w.members {
				stallGen = max(stallGen, m.gen)
			}
			f, _ := findFault(kind)
			f.start(w, w.nodes[0])
			if len(w.timeline) != 1 || w.timeline[0].Kind != kind {
				t.Fatalf("timeline after starting %s: %+v", kind, w.timeline)
			}
			sp := w.timeline[0]
			w.runUntil(sp.StartNs + (sp.EndNs-sp.StartNs)/2)
			mid := w.netState(sp.Nodes)
			w.runUntil(sp.EndNs + 1)
			end := w.netState(sp.Nodes)
			w.runUntil(w.nowNs + 300e6)
			after := w.netState(sp.Nodes)
			t.Logf("span %+v\nbefore %+v\nmid    %+v\nend    %+v\nafter  %+v", sp, before, mid, end, after)

			if after.cut != 0 || after.clogged != 0 || after.shaped != 0 {
				t.Errorf("links not healed after the span: %+v", after)
			}
			switch kind {
			case "leader-isolate", "minority", "halves":
				if !mid.cutAcross || mid.cut == 0 {
					t.Errorf("halfway, the links across side %v are not all cut: %+v", sp.Nodes, mid)
				}
				want := [2]int{1, (nodes - 1) / 2} // a minority
				if kind == "halves" {
					want = [2]int{nodes / 2, nodes / 2}
				}
				if n := len(sp.Nodes); n < want[0] || n > want[1] {
					t.Errorf("side %v of %d brokers, want %d–%d", sp.Nodes, nodes, want[0], want[1])
				}
				if kind == "leader-isolate" {
					most := 0
					for _, k := range leads {
						most = max(most, k)
					}
					if !slices.ContainsFunc(sp.Nodes, func(id uint64) bool { return leads[id] == most }) {
						t.Errorf("side %v holds none of the busiest leaders (groups led: %v)", sp.Nodes, leads)
					}
					if d := sp.EndNs - sp.StartNs; d < 3*w.electionTimeoutNs() {
						t.Errorf("isolated for %d ns, under 3 election timeouts", d)
					}
				}
			case "swizzle-clog", "pareto-clog":
				if mid.clogged == 0 || end.clogged != 0 {
					t.Errorf("clogged links: %d halfway, %d at the end", mid.clogged, end.clogged)
				}
				if kind == "pareto-clog" && (sp.EndNs-sp.StartNs < 50e6 || sp.EndNs-sp.StartNs > 5e9) {
					t.Errorf("pareto clog of %d ns, outside [scale, cap]", sp.EndNs-sp.StartNs)
				}
			case "exp-delay":
				if mid.shaped == 0 || end.expDelayed == before.expDelayed || after.expDelayed != end.expDelayed {
					t.Errorf("exponentially delayed batches: before %d, end %d, after %d", before.expDelayed, end.expDelayed, after.expDelayed)
				}
			case "reorder-dup":
				if mid.shaped == 0 || end.reorderDups == before.reorderDups || after.reorderDups != end.reorderDups {
					t.Errorf("duplicated batches: before %d, end %d, after %d", before.reorderDups, end.reorderDups, after.reorderDups)
				}
			case "inflight-limit":
				if mid.shaped == 0 || end.limitDrops == before.limitDrops || after.limitDrops != end.limitDrops {
					t.Errorf("batches dropped over the limit: before %d, end %d, after %d", before.limitDrops, end.limitDrops, after.limitDrops)
				}
			case "client-reset":
				if end.resets == before.resets {
					t.Errorf("no client connection reset (%d before, %d at the end)", before.resets, end.resets)
				}
			case "client-crash":
				if end.deadClients != 1 || after.replacedClients != 1 {
					t.Errorf("dead clients %d at the end, replaced %d after", end.deadClients, after.replacedClients)
				}
				for _, c := range w.clients {
					if !c.dead || c.successor == nil {
						continue
					}
					n := c.successor
					if c.kind == producer && n.pid == c.pid {
						t.Errorf("the replacement producer kept the producer id %d", c.pid)
					}
					// The workload's ticks drive the replacement.
					ops := 0
					for _, s := range w.hist.Sends {
						ops += b2i(s.Process == n.id)
					}
					for _, p := range w.hist.Polls {
						ops += b2i(p.Process == n.id)
					}
					if ops == 0 {
						t.Errorf("client %d (kind %d) replaced by client %d, which made no send or poll", c.id, c.kind, n.id)
					}
				}
			case "member-stall":
				// The stalled member committed nothing during the span but
				// went on polling; the commits it sent on waking were
				// fenced, and it joined the group's next generation.
				var m *groupMember
				for _, x := range w.members {
					if x.stallUntil == sp.EndNs {
						m = x
					}
				}
				if m == nil {
					t.Fatal("no member stalled until the span's end")
				}
				var during, fenced, polls int
				for _, c := range w.hist.Commits {
					if c.Process != m.c.id {
						continue
					}
					during += b2i(c.Invoke > sp.StartNs && c.Invoke < sp.EndNs)
					fenced += b2i(c.Invoke >= sp.EndNs && c.Outcome == Fail)
				}
				for _, p := range w.hist.Polls {
					polls += b2i(p.Process == m.c.id && p.Invoke > sp.StartNs && p.Invoke < sp.EndNs)
				}
				if during != 0 || fenced == 0 || polls == 0 {
					t.Errorf("stalled member %d: %d commits during the stall, %d fenced after it, %d polls during it", m.c.id, during, fenced, polls)
				}
				w.runUntil(w.nowNs + 3e9)
				if m.state != consuming || m.gen <= stallGen {
					t.Errorf("stalled member %d: state %d generation %d after waking, was %d", m.c.id, m.state, m.gen, stallGen)
				}
			default:
				t.Fatalf("no check for fault kind %s", kind)
			}
		})
	}
}

// Each network fault kind alone, as a scenario: it fires, the run has no
// failures (liveness included: every fault healed) and every acknowledged
// record is read back.
func TestNetScenariosRun(t *testing.T) {
	for _, kind := range netKinds() {
		t.Run(kind, func(t *testing.T) {
			sc := Scenario{Name: kind, Faults: []Weighted{{kind, 1}}, EveryMs: [2]int64{200, 600}}
			if kind == "minority" || kind == "halves" {
				sc.Nodes = 5
			}
			r := MustNew(Config{Seed: 2, DurationMs: 3000, Faults: true, Scenario: sc}).Run()
			for _, f := range r.Failures {
				t.Error(f)
			}
			n := 0
			for _, s := range r.Timeline {
				if s.Kind == kind {
					n++
				}
			}
			if n == 0 {
				t.Errorf("no %s on the timeline: %+v", kind, r.Timeline)
			}
			quickCheck(t, r.History)
		})
	}
}

// A scenario of every network fault kind replays bit for bit from its
// seed, and another seed runs differently.
func TestNetScenarioSameSeedSameTrace(t *testing.T) {
	sc := Scenario{Name: "net", EveryMs: [2]int64{100, 400}}
	for _, k := range netKinds() {
		sc.Faults = append(sc.Faults, Weighted{k, 1})
	}
	run := func(seed uint64) Result {
		return MustNew(Config{Seed: seed, DurationMs: 2000, Faults: true, Scenario: sc}).Run()
	}
	a, b := run(11), run(11)
	if a.TraceHash != b.TraceHash || a.Draws != b.Draws || len(a.Timeline) != len(b.Timeline) {
		t.Fatalf("seed 11 ran twice: trace hashes %x and %x, draws %d and %d", a.TraceHash, b.TraceHash, a.Draws, b.Draws)
	}
	if len(a.Timeline) < 3 {
		t.Fatalf("only %d faults in 2 s: %+v", len(a.Timeline), a.Timeline)
	}
	if c := run(12); c.TraceHash == a.TraceHash {
		t.Fatalf("seeds 11 and 12 gave the same trace hash %x", a.TraceHash)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// After a batch of unknown outcome an idempotent producer bumps its epoch
// (KIP-360) rather than taking a new id: under the kitchen sink's faults
// some producer goes on under the same id at a later epoch, sequences from
// 0, and on every partition its records of an epoch lie below those of
// any later epoch (the partitions fenced the older epoch's retries).
func TestProducerEpochBump(t *testing.T) {
	r := MustNew(Config{Seed: 2, DurationMs: 15_000, Faults: true, Scenario: KitchenSink()}).Run()
	if len(r.Failures) > 0 {
		t.Fatalf("failures: %v", r.Failures)
	}
	type key struct {
		pid  int64
		part int32
	}
	hi := map[key]map[int16]int64{} // highest offset per epoch
	lo := map[key]map[int16]int64{} // lowest offset per epoch
	bumped := 0
	for _, s := range r.History.Sends {
		if !s.Idempotent || s.Outcome != OK {
			continue
		}
		if s.Epoch > 0 {
			bumped++
		}
		k := key{s.ProducerID, s.Partition}
		if hi[k] == nil {
			hi[k], lo[k] = map[int16]int64{}, map[int16]int64{}
		}
		if o, ok := hi[k][s.Epoch]; !ok || s.Offset > o {
			hi[k][s.Epoch] = s.Offset
		}
		if o, ok := lo[k][s.Epoch]; !ok || s.Offset < o {
			lo[k][s.Epoch] = s.Offset
		}
	}
	if bumped == 0 {
		t.Fatal("no acknowledged send at an epoch above 0: the run does not exercise the bump")
	}
	for k, his := range hi {
		for e, h := range his {
			for e2, l := range lo[k] {
				if e2 > e && l < h {
					t.Errorf("producer %d partition %d: epoch %d acknowledged at %d, above epoch %d's %d", k.pid, k.part, e, h, e2, l)
				}
			}
		}
	}
	t.Logf("%d acknowledged sends at a bumped epoch", bumped)
}
