package tcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"sluice/transport"
)

var (
	g1 = transport.GroupID{TopicID: [16]byte{1}, Partition: 0}
	g2 = transport.GroupID{TopicID: [16]byte{2}, Partition: 7}
	g3 = transport.GroupID{TopicID: [16]byte{3, 3}, Partition: 1 << 30}
)

func msg(typ raftpb.MessageType, from, to, index uint64) *raftpb.Message {
	return &raftpb.Message{Type: new(typ), From: new(from), To: new(to), Index: new(index), Term: new(uint64(3))}
}

// app is a MsgApp carrying one entry of n data bytes.
func app(from, to, index uint64, n int) *raftpb.Message {
	m := msg(raftpb.MsgApp, from, to, index)
	data := bytes.Repeat([]byte{byte(index)}, n)
	m.Entries = []*raftpb.Entry{{Term: new(uint64(3)), Index: new(index + 1), Type: new(raftpb.EntryNormal), Data: data}}
	m.Commit, m.LogTerm = new(index), new(uint64(2))
	return m
}

func snap(from, to uint64, n int) *raftpb.Message {
	m := msg(raftpb.MsgSnap, from, to, 0)
	m.Snapshot = &raftpb.Snapshot{
		Data: bytes.Repeat([]byte("snapshot"), n/8+1)[:n],
		Metadata: &raftpb.SnapshotMetadata{Index: new(uint64(100)), Term: new(uint64(3)),
			ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}}},
	}
	return m
}

// fullBatch sets every field a Batch has, with raft messages of several
// shapes: small and large entries, a snapshot, a rejection, a context.
func fullBatch(from, to uint64) transport.Batch { return fullBatchSized(from, to, 64<<10) }

// fullBatchSized is fullBatch with a large entry of bigBytes.
func fullBatchSized(from, to uint64, bigBytes int) transport.Batch {
	big := app(from, to, 10, bigBytes)
	big.Entries = append(big.Entries,
		&raftpb.Entry{Term: new(uint64(3)), Index: new(uint64(12)), Data: []byte("small")},
		&raftpb.Entry{Term: new(uint64(3)), Index: new(uint64(13)), Type: new(raftpb.EntryConfChangeV2), Data: bytes.Repeat([]byte{7}, zeroCopyMinBytes)},
		&raftpb.Entry{Term: new(uint64(3)), Index: new(uint64(14))})
	resp := msg(raftpb.MsgAppResp, from, to, 9)
	resp.Reject, resp.RejectHint, resp.LogTerm = new(true), new(uint64(4)), new(uint64(2))
	hb := msg(raftpb.MsgHeartbeat, from, to, 0)
	hb.Context, hb.Commit = []byte("sluice:quiesce"), new(uint64(8))
	return transport.Batch{From: from, To: to,
		Msgs: []transport.Envelope{
			{Group: g1, Msg: big},
			{Group: g2, Msg: resp},
			{Group: g3, Msg: hb},
			{Group: g1, Msg: msg(raftpb.MsgVote, from, to, 5)},
			{Group: transport.MetadataGroup, Msg: app(from, to, 1, 100)},
			{Group: g2, Msg: snap(from, to, 3000)},
		},
		Leaders: []transport.LeaderInfo{
			{Group: g1, Term: 3, Leader: from, ISR: []uint64{from, to}},
			{Group: g2, Term: 1 << 40, Leader: 0},
		},
		Incarnations: []transport.Incarnation{
			{Node: from, ClusterID: [16]byte{9, 9}, Incarnation: [16]byte{1, 2, 3}},
			{Node: from, ClusterID: [16]byte{9, 9}, Incarnation: [16]byte{4}, Amnesic: []transport.GroupID{transport.MetadataGroup, g2}},
		},
		Forwards: []transport.Forward{{Group: transport.MetadataGroup, Data: []byte("create topic t")}, {Group: g3, Data: []byte{}}},
	}
}

// encodeBatch returns b's frames as bytes.
func encodeBatch(t testing.TB, b transport.Batch, maxFrame int) []byte {
	e := newEncoder(maxFrame)
	e.appendBatch(&b, func(env transport.Envelope) { t.Fatalf("message of group %v does not fit", env.Group) })
	return e.bytes()
}

// decodeAll decodes every frame in data as the acceptor of a connection
// from → to would, stopping at the first error (io.EOF at a clean end).
func decodeAll(data []byte, from, to uint64, maxFrame int) ([]transport.Batch, error) {
	r := bytes.NewReader(data)
	s := session{from: from, to: to, snaps: assembler{maxSnapshotBytes: DefaultMaxSnapshotBytes}}
	var out []transport.Batch
	var buf []byte
	for {
		kind, body, nb, err := readFrame(r, buf, maxFrame)
		buf = nb
		if err != nil {
			return out, err
		}
		b, ok, err := s.frame(kind, body)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, b)
		}
	}
}

// equalBatch compares batches, raft messages by protobuf equality.
func equalBatch(t testing.TB, got, want transport.Batch) {
	t.Helper()
	if got.From != want.From || got.To != want.To || len(got.Msgs) != len(want.Msgs) {
		t.Fatalf("batch %d→%d with %d messages, want %d→%d with %d", got.From, got.To, len(got.Msgs), want.From, want.To, len(want.Msgs))
	}
	for i := range got.Msgs {
		if got.Msgs[i].Group != want.Msgs[i].Group || !proto.Equal(got.Msgs[i].Msg, want.Msgs[i].Msg) {
			t.Fatalf("message %d: got %v %v, want %v %v", i, got.Msgs[i].Group, got.Msgs[i].Msg, want.Msgs[i].Group, want.Msgs[i].Msg)
		}
	}
	norm := func(b transport.Batch) transport.Batch {
		b.Msgs = nil
		for i, f := range b.Forwards {
			if len(f.Data) == 0 {
				b.Forwards[i].Data = nil
			}
		}
		return b
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("control items differ:\n got %+v\nwant %+v", g, w)
	}
}

// merge concatenates batches split across frames.
func merge(bs []transport.Batch) transport.Batch {
	var m transport.Batch
	for _, b := range bs {
		m.From, m.To = b.From, b.To
		m.Msgs = append(m.Msgs, b.Msgs...)
		m.Leaders = append(m.Leaders, b.Leaders...)
		m.Incarnations = append(m.Incarnations, b.Incarnations...)
		m.Forwards = append(m.Forwards, b.Forwards...)
	}
	return m
}

func TestBatchRoundTrip(t *testing.T) {
	want := fullBatch(1, 2)
	data := encodeBatch(t, want, DefaultMaxFrameBytes)
	got, err := decodeAll(data, 1, 2, DefaultMaxFrameBytes)
	if !errors.Is(err, io.EOF) || len(got) != 1 {
		t.Fatalf("decoded %d batches, then %v; want 1, then EOF", len(got), err)
	}
	equalBatch(t, got[0], want)
	// The decoded messages own their bytes: the frame buffer is reused.
	clear(data)
	equalBatch(t, got[0], fullBatch(1, 2))
}

func TestBatchSplitsAcrossFrames(t *testing.T) {
	want := fullBatch(1, 2)
	want.Msgs = want.Msgs[1:5] // all small
	for _, maxFrame := range []int{200, 300, 1000, 10000} {
		data := encodeBatch(t, want, maxFrame)
		got, err := decodeAll(data, 1, 2, maxFrame)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("max frame %d: %v", maxFrame, err)
		}
		if maxFrame < 1000 && len(got) < 2 {
			t.Errorf("max frame %d: %d frames, want the batch split", maxFrame, len(got))
		}
		equalBatch(t, merge(got), want)
	}
	// A message larger than any frame is left out and handed back.
	e := newEncoder(1000)
	b := transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g1, Msg: app(1, 2, 1, 5000)}, {Group: g2, Msg: msg(raftpb.MsgHeartbeat, 1, 2, 0)}},
		Leaders: []transport.LeaderInfo{{Group: g1, ISR: make([]uint64, 1000)}}}
	var left []transport.GroupID
	skipped := e.appendBatch(&b, func(env transport.Envelope) { left = append(left, env.Group) })
	if len(left) != 1 || left[0] != g1 || skipped != 1 {
		t.Fatalf("left out messages of %v and %d control items, want g1's and 1", left, skipped)
	}
	got, err := decodeAll(e.bytes(), 1, 2, 1000)
	if !errors.Is(err, io.EOF) || len(got) != 1 || len(got[0].Msgs) != 1 || got[0].Msgs[0].Group != g2 || len(got[0].Leaders) != 0 {
		t.Fatalf("decoded %+v, %v; want only g2's heartbeat", got, err)
	}
	// Nothing that fits: no frame at all.
	e = newEncoder(1000)
	e.appendBatch(&transport.Batch{From: 1, To: 2, Msgs: b.Msgs[:1]}, func(transport.Envelope) {})
	if e.out() != 0 || e.frames != 0 {
		t.Fatalf("an empty frame was written (%d bytes)", e.out())
	}
}

// TestZeroCopyCoversRaftpb fails when raftpb.Message or Entry gain a
// field: appendMessage copies every field but Entries by hand and must be
// taught the new one (zeroCopy is off until then).
func TestZeroCopyCoversRaftpb(t *testing.T) {
	if !zeroCopy {
		t.Fatal("raftpb.Message or raftpb.Entry changed: update appendMessage and zeroCopy")
	}
	// Every field set, so a field appendMessage forgot shows as a diff.
	m := app(1, 2, 10, 10<<10)
	m.Vote, m.Reject, m.RejectHint, m.Context = new(uint64(2)), new(false), new(uint64(1)), []byte("ctx")
	m.Snapshot = snap(1, 2, 10).Snapshot
	m.Responses = []*raftpb.Message{msg(raftpb.MsgAppResp, 2, 1, 4)}
	fields := m.ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		if !m.ProtoReflect().Has(fields.Get(i)) {
			t.Fatalf("test message lacks field %s", fields.Get(i).Name())
		}
	}
	e := newEncoder(DefaultMaxFrameBytes)
	e.appendMessage(m)
	ext := 0
	for _, s := range e.segs {
		if s.ext != nil {
			ext++
			if unsafe.SliceData(s.ext) != unsafe.SliceData(m.Entries[0].Data) {
				t.Fatal("a referenced range is not the entry's data")
			}
		}
	}
	if ext != 1 {
		t.Fatalf("%d ranges referenced, want the one large entry", ext)
	}
	out := e.bytes()
	if len(out) != proto.Size(m) {
		t.Fatalf("encoded %d bytes, proto.Size %d", len(out), proto.Size(m))
	}
	var got raftpb.Message
	if err := proto.Unmarshal(out, &got); err != nil || !proto.Equal(&got, m) {
		t.Fatalf("decoded %v (%v), want %v", &got, err, m)
	}
	if e.msg.Type != nil || e.msg.Snapshot != nil || e.ent.Term != nil {
		t.Fatal("scratch messages keep references after use")
	}
}

func TestSnapshotChunks(t *testing.T) {
	m := snap(1, 2, 2500)
	data, _ := proto.Marshal(m)
	chunks := func(e *encoder, id uint32, g transport.GroupID, size int) {
		for off := 0; off < len(data); off += size {
			e.appendChunk(id, g, len(data), off, data[off:min(off+size, len(data))])
		}
	}
	e := newEncoder(DefaultMaxFrameBytes)
	chunks(e, 7, g2, 1000)
	got, err := decodeAll(e.bytes(), 1, 2, DefaultMaxFrameBytes)
	if !errors.Is(err, io.EOF) || len(got) != 1 {
		t.Fatalf("decoded %d batches, then %v", len(got), err)
	}
	equalBatch(t, got[0], transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g2, Msg: m}}})

	// Two streams interleaved with a batch frame.
	e = newEncoder(DefaultMaxFrameBytes)
	e.appendChunk(1, g1, len(data), 0, data[:100])
	e.appendChunk(2, g2, len(data), 0, data[:2000])
	hb := transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g3, Msg: msg(raftpb.MsgHeartbeat, 1, 2, 0)}}}
	e.appendBatch(&hb, nil)
	e.appendChunk(1, g1, len(data), 100, data[100:])
	e.appendChunk(2, g2, len(data), 2000, data[2000:])
	got, err = decodeAll(e.bytes(), 1, 2, DefaultMaxFrameBytes)
	if !errors.Is(err, io.EOF) || len(got) != 3 || got[0].Msgs[0].Group != g3 || got[1].Msgs[0].Group != g1 || got[2].Msgs[0].Group != g2 {
		t.Fatalf("decoded %d batches, then %v", len(got), err)
	}
}

func TestMalformed(t *testing.T) {
	valid := encodeBatch(t, fullBatch(1, 2), DefaultMaxFrameBytes)
	snapData, _ := proto.Marshal(snap(1, 2, 100))
	hbData, _ := proto.Marshal(msg(raftpb.MsgHeartbeat, 1, 2, 0))
	frame := func(kind byte, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(2+len(body)))
		return append(append(b, protocolVersion, kind), body...)
	}
	batchBody := func(counts [4]uint32, items ...[]byte) []byte {
		var b []byte
		for _, c := range counts {
			b = binary.BigEndian.AppendUint32(b, c)
		}
		for _, it := range items {
			b = append(b, it...)
		}
		return b
	}
	msgItem := func(data []byte) []byte {
		b := append(make([]byte, 20), binary.BigEndian.AppendUint32(nil, uint32(len(data)))...)
		return append(b, data...)
	}
	chunkFrame := func(stream uint32, g transport.GroupID, total, off int, data []byte) []byte {
		e := newEncoder(DefaultMaxFrameBytes)
		e.appendChunk(stream, g, total, off, data)
		return e.bytes()
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"length below 2", []byte{0, 0, 0, 1, 1}, "frame length 1"},
		{"length above bound", binary.BigEndian.AppendUint32(nil, DefaultMaxFrameBytes+1), "frame length"},
		{"version", func() []byte { b := bytes.Clone(valid); b[4] = protocolVersion + 1; return b }(), fmt.Sprintf("frame version %d", protocolVersion+1)},
		{"kind", frame(9, nil), "frame kind 9"},
		{"short counts", frame(kindBatch, []byte{0, 0, 1}), "bytes needed"},
		{"counts beyond body", frame(kindBatch, batchBody([4]uint32{1 << 31, 0, 0, 0})), "need"},
		{"empty batch", frame(kindBatch, batchBody([4]uint32{})), "empty batch"},
		{"trailing bytes", frame(kindBatch, append(batchBody([4]uint32{1}, msgItem(hbData)), 0)), "after the batch's last item"},
		{"message length beyond body", frame(kindBatch, batchBody([4]uint32{1}, msgItem(hbData)[:24], []byte{1})), "bytes needed"},
		{"not a protobuf", frame(kindBatch, batchBody([4]uint32{1}, msgItem([]byte{0xff, 0xff}))), "message 0"},
		{"message to another node", frame(kindBatch, batchBody([4]uint32{1}, msgItem(hbData))), "is from node 1 to node 2"},
		{"ISR beyond body", frame(kindBatch, batchBody([4]uint32{0, 1}, make([]byte, 36), []byte{0, 0, 1, 0})), "ISR members"},
		{"empty chunk", chunkFrame(1, g1, 10, 0, nil), "empty chunk"},
		{"snapshot too large", chunkFrame(1, g1, DefaultMaxSnapshotBytes+1, 0, []byte{1}), "snapshot of"},
		{"chunk of no stream", chunkFrame(1, g1, 10, 5, []byte{1}), "not open"},
		{"gap", cat(chunkFrame(1, g1, 10, 0, []byte{1}), chunkFrame(1, g1, 10, 2, []byte{1})), "want"},
		{"group changes", cat(chunkFrame(1, g1, 10, 0, []byte{1}), chunkFrame(1, g2, 10, 1, []byte{1})), "want"},
		{"past total", chunkFrame(1, g1, 2, 0, []byte{1, 2, 3}), "past its total"},
		{"opened twice", cat(chunkFrame(1, g1, 10, 0, []byte{1}), chunkFrame(1, g1, 10, 0, []byte{1})), "opened twice"},
		{"too many streams", cat(chunkFrame(1, g1, 10, 0, []byte{1}), chunkFrame(2, g1, 10, 0, []byte{1}),
			chunkFrame(3, g1, 10, 0, []byte{1}), chunkFrame(4, g1, 10, 0, []byte{1}), chunkFrame(5, g1, 10, 0, []byte{1})), "more than 4"},
		{"stream of a heartbeat", chunkFrame(1, g1, len(hbData), 0, hbData), "holds a MsgHeartbeat"},
		{"snapshot not a protobuf", chunkFrame(1, g1, 2, 0, []byte{0xff, 0xff}), "snapshot of group"},
		{"truncated snapshot chunk header", frame(kindSnapChunk, make([]byte, 10)), "bytes needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAll(tt.data, 1, 3, DefaultMaxFrameBytes)
			if !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a malformed frame error containing %q", err, tt.want)
			}
		})
	}
	if _, err := decodeAll(snapData[:0], 1, 2, DefaultMaxFrameBytes); !errors.Is(err, io.EOF) {
		t.Fatalf("no bytes: %v, want EOF", err)
	}
	if _, err := decodeAll(valid[:len(valid)-1], 1, 2, DefaultMaxFrameBytes); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated frame: %v, want unexpected EOF (the connection's end, not the format's)", err)
	}
}

func TestHello(t *testing.T) {
	h := hello{version: protocolVersion, status: statusCluster, from: 1 << 60, to: 3, clusterID: [16]byte{1, 2}, incarnation: [16]byte{15: 9}}
	b := h.encode()
	got, err := readHello(bytes.NewReader(b[:]))
	if err != nil || got != h {
		t.Fatalf("got %+v %v, want %+v", got, err, h)
	}
	b[0] = 'X'
	if _, err := readHello(bytes.NewReader(b[:])); !errors.Is(err, errMalformed) {
		t.Fatalf("bad magic: %v", err)
	}
	if _, err := readHello(bytes.NewReader(b[:10])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short hello: %v", err)
	}
}

// TestEncodeDoesNotAllocate: once warm, encoding a round of batches
// allocates nothing (the send path's per-message promise).
func TestEncodeDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b := fullBatch(1, 2)
	b.Msgs = b.Msgs[:5] // MsgSnap goes through streams, encoded once per snapshot
	for range 100 {
		b.Msgs = append(b.Msgs, transport.Envelope{Group: g1, Msg: app(1, 2, 7, 100)})
	}
	e := newEncoder(DefaultMaxFrameBytes)
	var vec net.Buffers
	allocs := testing.AllocsPerRun(100, func() {
		e.reset()
		e.appendBatch(&b, nil)
		vec = e.buffers(vec[:0])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round of %d messages, want 0", allocs, len(b.Msgs))
	}
}

// FuzzDecodeFrame feeds arbitrary bytes to the acceptor's decoding: it
// must never panic, and whatever it accepts must survive re-encoding.
func FuzzDecodeFrame(f *testing.F) {
	// Small seeds keep executions fast; the large entry is still written
	// from the entry (zeroCopyMinBytes), in that field order.
	f.Add(encodeBatch(f, fullBatchSized(1, 2, zeroCopyMinBytes), DefaultMaxFrameBytes))
	small := fullBatch(1, 2)
	small.Msgs = small.Msgs[1:4]
	f.Add(encodeBatch(f, small, 300))
	f.Add(encodeBatch(f, transport.Batch{From: 1, To: 2, Leaders: small.Leaders}, DefaultMaxFrameBytes))
	data, _ := proto.Marshal(snap(1, 2, 300))
	e := newEncoder(DefaultMaxFrameBytes)
	e.appendChunk(1, g2, len(data), 0, data[:100])
	e.appendChunk(1, g2, len(data), 100, data[100:])
	f.Add(e.bytes())
	f.Add([]byte{0, 0, 0, 2, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _ := decodeAll(data, 1, 2, 1<<20)
		for _, b := range got {
			if err := b.Validate(); err != nil {
				t.Fatalf("accepted an invalid batch: %v", err)
			}
			again, err := decodeAll(encodeBatch(t, b, DefaultMaxFrameBytes), 1, 2, DefaultMaxFrameBytes)
			if !errors.Is(err, io.EOF) {
				t.Fatalf("re-encoding an accepted batch: %v", err)
			}
			equalBatch(t, merge(again), b)
		}
	})
}

// TestReadFrameGrowsWithData: a length that lies does not make the reader
// reserve it.
func TestReadFrameGrowsWithData(t *testing.T) {
	data := append(binary.BigEndian.AppendUint32(nil, DefaultMaxFrameBytes), make([]byte, 1000)...)
	_, _, buf, err := readFrame(bytes.NewReader(data), nil, DefaultMaxFrameBytes)
	if !errors.Is(err, io.ErrUnexpectedEOF) || cap(buf) > 1<<20 {
		t.Fatalf("error %v, buffer of %d bytes for 1000 received", err, cap(buf))
	}
	// A reused buffer that is large enough is read into at once.
	big := make([]byte, 0, 1<<20)
	frame := encodeBatch(t, fullBatch(1, 2), DefaultMaxFrameBytes)
	_, _, buf, err = readFrame(bytes.NewReader(frame), big, DefaultMaxFrameBytes)
	if err != nil || unsafe.SliceData(buf) != unsafe.SliceData(big) {
		t.Fatalf("error %v, or the buffer was not reused", err)
	}
}
