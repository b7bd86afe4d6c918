package transport

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

var (
	g1 = GroupID{TopicID: [16]byte{1}, Partition: 0}
	g2 = GroupID{TopicID: [16]byte{2}, Partition: 7}
)

func msg(typ raftpb.MessageType, from, to, index uint64) *raftpb.Message {
	return &raftpb.Message{Type: new(typ), From: new(from), To: new(to), Index: new(index)}
}

// tagged is a batch with one MsgApp of g1 whose Index is seq, so tests can
// tell batches apart after delivery.
func tagged(from, to, seq uint64) Batch {
	return Batch{From: from, To: to, Msgs: []Envelope{{g1, msg(raftpb.MsgApp, from, to, seq)}}}
}

func seqOf(b Batch) uint64 { return b.Msgs[0].Msg.GetIndex() }

// recorder is a Reporter that keeps every report as a line of text.
type recorder struct{ events []string }

func (r *recorder) Unreachable(g GroupID, node uint64) {
	r.events = append(r.events, fmt.Sprintf("unreachable %v %d", g, node))
}

func (r *recorder) SnapshotStatus(g GroupID, node uint64, ok bool) {
	r.events = append(r.events, fmt.Sprintf("snapshot %v %d ok=%t", g, node, ok))
}

func TestGroupID(t *testing.T) {
	if MetadataGroup != (GroupID{}) || MetadataGroup.String() != "metadata" {
		t.Fatalf("MetadataGroup = %#v (%v), want the zero GroupID", MetadataGroup, MetadataGroup)
	}
	if got, want := g2.String(), "AgAAAAAAAAAAAAAAAAAAAA:7"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	// Listed in increasing order: Compare must agree with the index order.
	ordered := []GroupID{
		MetadataGroup,
		{Partition: 1},
		{TopicID: [16]byte{0, 1}, Partition: -1},
		{TopicID: [16]byte{1}},
		{TopicID: [16]byte{1}, Partition: 2},
		{TopicID: [16]byte{255}},
	}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%v.Compare(%v) = %d, want %d", a, b, got, want)
			}
			if got := a.Less(b); got != (i < j) {
				t.Errorf("%v.Less(%v) = %t, want %t", a, b, got, i < j)
			}
		}
	}
}

func TestFIFOPerLink(t *testing.T) {
	tests := []struct {
		name  string
		sends []Link // the i-th send on a link gets that link's next seq
	}{
		{"one link", []Link{{1, 2}, {1, 2}, {1, 2}}},
		{"interleaved", []Link{{1, 2}, {1, 3}, {1, 2}, {3, 1}, {1, 3}, {1, 2}}},
		{"both directions", []Link{{1, 2}, {2, 1}, {2, 1}, {1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMem(MemOptions{})
			sent := map[Link][]uint64{}
			for i, k := range tt.sends {
				m.Node(k.From).Send(tagged(k.From, k.To, uint64(i)))
				sent[k] = append(sent[k], uint64(i))
			}
			for k, want := range sent {
				if got := m.Queued(k.From, k.To); got != len(want) {
					t.Errorf("Queued(%d, %d) = %d, want %d", k.From, k.To, got, len(want))
				}
				var got []uint64
				for {
					b, ok := m.Deliver(k.From, k.To)
					if !ok {
						break
					}
					if b.From != k.From || b.To != k.To {
						t.Errorf("Deliver(%d, %d) returned a batch %d→%d", k.From, k.To, b.From, b.To)
					}
					got = append(got, seqOf(b))
				}
				if !slices.Equal(got, want) {
					t.Errorf("link %v delivered %v, want %v", k, got, want)
				}
			}
			if p := m.Pending(); len(p) != 0 {
				t.Errorf("Pending after delivering everything = %v", p)
			}
		})
	}
}

func TestQueueBounds(t *testing.T) {
	one := tagged(1, 2, 0).SizeBytes()
	tests := []struct {
		name        string
		opts        MemOptions
		sends       int
		wantQueued  int
		wantDropped uint64
	}{
		{"defaults", MemOptions{}, 10, 10, 0},
		{"batch bound", MemOptions{MaxQueueBatches: 3}, 5, 3, 2},
		{"byte bound exact", MemOptions{MaxQueueBytes: 3 * one}, 5, 3, 2},
		{"byte bound short", MemOptions{MaxQueueBytes: 3*one - 1}, 5, 2, 3},
		{"batch larger than bound", MemOptions{MaxQueueBytes: one - 1}, 2, 0, 2},
		{"both, batches bind", MemOptions{MaxQueueBytes: 10 * one, MaxQueueBatches: 4}, 6, 4, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMem(tt.opts)
			rec := &recorder{}
			m.SetReporter(1, rec)
			for i := range tt.sends {
				m.Node(1).Send(tagged(1, 2, uint64(i)))
			}
			if got := m.Queued(1, 2); got != tt.wantQueued {
				t.Errorf("Queued = %d, want %d", got, tt.wantQueued)
			}
			if got := m.Dropped(1, 2); got != tt.wantDropped {
				t.Errorf("Dropped = %d, want %d", got, tt.wantDropped)
			}
			// One report per dropped batch: each is a separate Send.
			want := slices.Repeat([]string{"unreachable " + g1.String() + " 2"}, int(tt.wantDropped))
			if !slices.Equal(rec.events, want) {
				t.Errorf("reports = %q, want %q", rec.events, want)
			}
			// The oldest batches are kept; delivering one makes room again.
			if b, ok := m.Deliver(1, 2); tt.wantQueued > 0 && (!ok || seqOf(b) != 0) {
				t.Errorf("Deliver = seq %v, %t; want the first batch", b.Msgs, ok)
			}
			if tt.wantQueued > 0 {
				m.Node(1).Send(tagged(1, 2, 99))
				if got := m.Queued(1, 2); got != tt.wantQueued {
					t.Errorf("Queued after Deliver and Send = %d, want %d", got, tt.wantQueued)
				}
			}
		})
	}
}

func TestPartitionHeal(t *testing.T) {
	tests := []struct {
		name string
		cut  func(m *Mem)
		heal func(m *Mem)
		open []Link // links still carrying batches while cut
	}{
		{"partition", func(m *Mem) { m.Partition(1, 2) }, func(m *Mem) { m.Heal(2, 1) }, []Link{{1, 3}, {3, 1}, {2, 3}, {3, 2}}},
		{"isolate", func(m *Mem) { m.Isolate(1) }, func(m *Mem) { m.HealAll() }, []Link{{2, 3}, {3, 2}}},
		{"isolate healed pairwise", func(m *Mem) { m.Isolate(1) }, func(m *Mem) { m.Heal(1, 2); m.Heal(3, 1) }, []Link{{2, 3}, {3, 2}}},
	}
	all := []Link{{1, 2}, {2, 1}, {1, 3}, {3, 1}, {2, 3}, {3, 2}}
	sendAll := func(m *Mem) {
		for _, k := range all {
			m.Node(k.From).Send(tagged(k.From, k.To, 0))
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMem(MemOptions{})
			rec := &recorder{}
			m.SetReporter(1, rec)
			sendAll(m) // queued before the cut: lost with it
			tt.cut(m)
			sendAll(m)
			for _, k := range all {
				open := slices.Contains(tt.open, k)
				wantQueued, wantDropped := 2, uint64(0)
				if !open {
					wantQueued, wantDropped = 0, 2
				}
				if got := m.Queued(k.From, k.To); got != wantQueued {
					t.Errorf("cut: Queued(%v) = %d, want %d", k, got, wantQueued)
				}
				if got := m.Dropped(k.From, k.To); got != wantDropped {
					t.Errorf("cut: Dropped(%v) = %d, want %d", k, got, wantDropped)
				}
			}
			if len(rec.events) == 0 {
				t.Errorf("node 1 heard no Unreachable while cut off")
			}
			m.DeliverAll()
			tt.heal(m)
			sendAll(m)
			for _, k := range all {
				if got := m.Queued(k.From, k.To); got != 1 {
					t.Errorf("healed: Queued(%v) = %d, want 1", k, got)
				}
			}
		})
	}
}

func TestReports(t *testing.T) {
	batch := Batch{From: 1, To: 2,
		Msgs: []Envelope{
			{g1, msg(raftpb.MsgApp, 1, 2, 5)},
			{g2, msg(raftpb.MsgSnap, 1, 2, 0)},
			{g1, msg(raftpb.MsgHeartbeat, 1, 2, 0)},
		},
		Leaders: []LeaderInfo{{Group: g1, Term: 3, Leader: 1, ISR: []uint64{1, 2}}},
	}
	dropped := []string{
		"unreachable " + g1.String() + " 2",
		"unreachable " + g2.String() + " 2",
		"snapshot " + g2.String() + " 2 ok=false",
	}
	tests := []struct {
		name string
		run  func(m *Mem)
		want []string
	}{
		{"delivered", func(m *Mem) { m.Node(1).Send(batch); m.DeliverAll() },
			[]string{"snapshot " + g2.String() + " 2 ok=true"}},
		{"Drop", func(m *Mem) { m.Node(1).Send(batch); m.Drop(1, 2) }, dropped},
		{"Drop reports each group once", func(m *Mem) { m.Node(1).Send(batch); m.Node(1).Send(batch); m.Drop(1, 2) },
			append(slices.Clone(dropped), "snapshot "+g2.String()+" 2 ok=false")},
		{"Partition", func(m *Mem) { m.Node(1).Send(batch); m.Partition(2, 1) }, dropped},
		{"cut link", func(m *Mem) { m.Partition(1, 2); m.Node(1).Send(batch) }, dropped},
		{"full queue", func(m *Mem) {
			m.Node(1).Send(tagged(1, 2, 0))
			m.Node(1).Send(tagged(1, 2, 1))
			m.Node(1).Send(batch)
		}, dropped},
		{"control only", func(m *Mem) {
			m.Partition(1, 2)
			m.Node(1).Send(Batch{From: 1, To: 2, Leaders: batch.Leaders, Incarnations: []Incarnation{{Node: 1}}})
		}, nil},
		{"receiver's drops reach the receiver's reporter", func(m *Mem) {
			m.Partition(1, 2)
			m.Node(2).Send(Batch{From: 2, To: 1, Msgs: []Envelope{{g1, msg(raftpb.MsgSnap, 2, 1, 0)}}})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMem(MemOptions{MaxQueueBatches: 2})
			rec := &recorder{}
			m.SetReporter(1, rec)
			m.SetReporter(2, &recorder{})
			tt.run(m)
			if !slices.Equal(rec.events, tt.want) {
				t.Errorf("node 1 heard\n%s\nwant\n%s", strings.Join(rec.events, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestDeliverAllDeterministic sends the same seeded traffic twice and expects
// the same delivery order, sorted by link and FIFO within a link. Map order
// differs between the two runs, so this catches any leak of it.
func TestDeliverAllDeterministic(t *testing.T) {
	run := func() []string {
		r := rand.New(rand.NewPCG(1, 2))
		m := NewMem(MemOptions{})
		for i := range 500 {
			from := 1 + r.Uint64N(5)
			to := 1 + r.Uint64N(4)
			if to >= from {
				to++
			}
			m.Node(from).Send(tagged(from, to, uint64(i)))
		}
		var out []string
		var last Link
		var lastSeq uint64
		for _, b := range m.DeliverAll() {
			k := Link{b.From, b.To}
			if c := compareLinks(last, k); c > 0 || (c == 0 && seqOf(b) <= lastSeq) {
				t.Fatalf("batch %v seq %d delivered after %v seq %d", k, seqOf(b), last, lastSeq)
			}
			last, lastSeq = k, seqOf(b)
			out = append(out, fmt.Sprintf("%d→%d#%d", b.From, b.To, seqOf(b)))
		}
		if len(out) != 500 || len(m.Pending()) != 0 {
			t.Fatalf("DeliverAll returned %d of 500 batches, %d links still pending", len(out), len(m.Pending()))
		}
		return out
	}
	first, second := run(), run()
	if !slices.Equal(first, second) {
		t.Fatalf("two runs delivered in different orders:\n%v\n%v", first, second)
	}
}

func TestSizeBytes(t *testing.T) {
	app := msg(raftpb.MsgApp, 1, 2, 9)
	app.Entries = []*raftpb.Entry{{Data: make([]byte, 1<<20)}}
	hb := msg(raftpb.MsgHeartbeat, 1, 2, 0)
	tests := []struct {
		name string
		b    Batch
		want int
	}{
		{"empty", Batch{From: 1, To: 2}, batchOverheadBytes},
		{"one message", Batch{Msgs: []Envelope{{g1, hb}}},
			batchOverheadBytes + envelopeOverheadBytes + proto.Size(hb)},
		{"large entry", Batch{Msgs: []Envelope{{g1, app}, {g2, hb}}},
			batchOverheadBytes + 2*envelopeOverheadBytes + proto.Size(app) + proto.Size(hb)},
		{"control", Batch{Leaders: []LeaderInfo{{ISR: []uint64{1, 2, 3}}, {}}, Incarnations: make([]Incarnation, 2)},
			batchOverheadBytes + 2*leaderInfoOverheadBytes + 3*isrMemberBytes + 2*incarnationOverheadBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.b.SizeBytes()
			if got != tt.want {
				t.Errorf("SizeBytes = %d, want %d", got, tt.want)
			}
			// Never below the entry data carried: a byte bound must bound it.
			data := 0
			for _, e := range tt.b.Msgs {
				for _, ent := range e.Msg.GetEntries() {
					data += len(ent.GetData())
				}
			}
			if got <= data {
				t.Errorf("SizeBytes = %d, not above the %d bytes of entry data carried", got, data)
			}
		})
	}
}

func TestSendCopiesSlices(t *testing.T) {
	m := NewMem(MemOptions{})
	b := tagged(1, 2, 1)
	m.Node(1).Send(b)
	b.Msgs[0] = Envelope{g2, msg(raftpb.MsgApp, 1, 2, 2)} // the sender reuses its slice
	got, _ := m.Deliver(1, 2)
	if got.Msgs[0].Group != g1 || seqOf(got) != 1 {
		t.Errorf("delivered %v seq %d, want the batch as sent", got.Msgs[0].Group, seqOf(got))
	}
	m.Node(1).Send(Batch{From: 1, To: 2}) // carries nothing
	if n := m.Queued(1, 2); n != 0 {
		t.Errorf("an empty batch was queued (%d)", n)
	}
}

func TestSendPanics(t *testing.T) {
	tests := []struct {
		name string
		node uint64
		b    Batch
		want string
	}{
		{"to self", 1, Batch{From: 1, To: 1}, "batch from node 1 to itself"},
		{"to None", 1, Batch{From: 1}, "node id 0"},
		{"wrong sender", 1, Batch{From: 3, To: 2}, "node 1 sent a batch from node 3 to node 2"},
		{"nil message", 1, Batch{From: 1, To: 2, Msgs: []Envelope{{Group: g1}}}, "Msgs[0] (group " + g1.String() + ") is nil"},
		{"message to another node", 1, Batch{From: 1, To: 2, Msgs: []Envelope{{g1, msg(raftpb.MsgApp, 1, 3, 0)}}},
			"is from node 1 to node 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tt.want) {
					t.Errorf("panic %v, want one containing %q", r, tt.want)
				}
			}()
			NewMem(MemOptions{}).Node(tt.node).Send(tt.b)
		})
	}
}
