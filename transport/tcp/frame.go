package tcp

// The wire format of the TCP transport. Frozen: changing any constant or
// layout below needs a new protocolVersion. Every integer is big-endian
// (network order).
//
// A connection carries traffic one way, for one ordered pair of brokers: the
// dialer sends, the acceptor only receives. It starts with a handshake: the
// dialer writes a hello, the acceptor answers with one of its own, whose
// status says whether it accepts the connection.
//
//	 0       4      5       6      8        16       24            40            56
//	 +-------+------+-------+------+--------+--------+-------------+-------------+
//	 | magic | vers | status| zero | from   | to     | cluster id  | incarnation |
//	 +-------+------+-------+------+--------+--------+-------------+-------------+
//	  "SLTP"   u8     u8     [2]0    u64      u64      [16]          [16]
//
// from is the writer's broker id and incarnation its storage incarnation
// (DESIGN.md step 8); to is the broker id it expects at the other end (the
// dialer writes the peer it meant to dial, the acceptor echoes the dialer).
// status is 0 in the dialer's hello; in the acceptor's it is statusOK or why
// the acceptor refuses (statusVersion, statusCluster, statusIdentity), after
// which it closes the connection. A hello whose magic is wrong is not this
// protocol: the connection is closed without an answer.
//
// After the handshake the dialer writes frames:
//
//	 0        4      5      6
//	 +--------+------+------+-------------------------------------+
//	 | length | vers | kind | body (length-2 bytes)               |
//	 +--------+------+------+-------------------------------------+
//	   u32      u8     u8
//
// length counts the bytes after itself, 2 <= length <= the receiver's
// MaxFrameBytes; vers is protocolVersion. kind is one of:
//
//	1 batch           one transport.Batch from the dialer (From) to the
//	                  acceptor (To); both ids come from the handshake:
//	    counts        messages u32 | leaders u32 | incarnations u32 | forwards u32
//	    message  ×n   topic id [16] | partition i32 | length u32 |
//	                  raftpb.Message, protobuf (length bytes)
//	    leader   ×n   topic id [16] | partition i32 | term u64 | leader u64 |
//	                  isr count u32 | isr u64 × count
//	    incarnation×n node u64 | cluster id [16] | incarnation [16] |
//	                  amnesic count u32 | (topic id [16] | partition i32) × count
//	    forward  ×n   topic id [16] | partition i32 | length u32 | data
//	  The body ends exactly after the last item. Batch boundaries carry no
//	  meaning: a sender may merge the batches queued for a peer into one
//	  frame and split a large one across several.
//	2 snapshot chunk  part of one MsgSnap, streamed so that a snapshot never
//	                  needs a frame of its size:
//	                  stream u32 | topic id [16] | partition i32 |
//	                  total u32 | offset u32 | data (the rest of the body)
//	  offset 0 opens stream; each later chunk continues where the previous
//	  one ended; when offset+len(data) reaches total the stream's bytes are
//	  one protobuf raftpb.Message of type MsgSnap and the stream closes. At
//	  most maxSnapshotStreams (4) streams are open on a connection, stream ids
//	  are unique among them, data is never empty, and total is at most the
//	  receiver's MaxSnapshotBytes. Chunks of different streams and batch
//	  frames interleave freely.
//	3-255             reserved
//
// Anything else — a bad length, version or kind, a count the body cannot
// hold, bytes left over, a batch with no items, a protobuf that does not parse, a batch that fails
// transport.Batch.Validate, a chunk breaking the stream rules — makes the
// frame malformed: the receiver logs it, counts it and closes the
// connection; the dialer reconnects.
//
// A raftpb.Message's protobuf fields may appear in any order (protobuf
// parsers accept that). The sender uses this to write large entry data
// straight from the entry, without copying it: the message's other fields
// come first, then its entries, each with its data last.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"sluice/transport"
)

const (
	helloMagic      = "SLTP"
	protocolVersion = 2 // 2: an incarnation lists the groups where its node is amnesic
	helloBytes      = 56

	statusOK       = 0
	statusVersion  = 1 // the acceptor does not speak the dialer's version
	statusCluster  = 2 // the dialer belongs to another cluster
	statusIdentity = 3 // a broker id is 0, the dialer's own, or not the acceptor's

	frameLengthBytes = 4
	frameHeaderBytes = frameLengthBytes + 2 // length, version, kind

	kindBatch     = 1
	kindSnapChunk = 2

	groupBytes         = 16 + 4
	countsBytes        = 4 * 4
	msgHeaderBytes     = groupBytes + 4
	leaderFixedBytes   = groupBytes + 8 + 8 + 4
	isrMemberBytes     = 8
	incarnationBytes   = 8 + 16 + 16 + 4 // without its amnesic groups
	forwardHeaderBytes = groupBytes + 4
	chunkHeaderBytes   = 4 + groupBytes + 4 + 4

	maxSnapshotStreams = 4
)

// Bounds that are configuration, not format: a receiver refuses what
// exceeds its own.
const (
	DefaultMaxFrameBytes    = 64 << 20
	DefaultMaxSnapshotBytes = 256 << 20
	// minMaxFrameBytes keeps room for a useful snapshot chunk.
	minMaxFrameBytes = 64 << 10
	// snapshotChunkBytes is the data of one full snapshot chunk (less if the
	// frame bound is smaller).
	snapshotChunkBytes = 1 << 20
	// targetFrameBytes: batch frames are closed past this size (a single
	// larger item still gets a frame, up to MaxFrameBytes).
	targetFrameBytes = 1 << 20
	// keepEncodeBufferBytes: an encoding buffer grown past this by a burst
	// is let go once the burst is written.
	keepEncodeBufferBytes = 8 << 20
	// zeroCopyMinBytes: entry data at least this long is written from the
	// entry itself (one more iovec) instead of being copied.
	zeroCopyMinBytes = 2 << 10
)

// errMalformed is wrapped by every error about bytes a peer sent.
var errMalformed = errors.New("tcp: malformed frame")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// hello is one side's handshake.
type hello struct {
	version     uint8
	status      uint8
	from, to    uint64
	clusterID   [16]byte
	incarnation [16]byte
}

func (h hello) encode() [helloBytes]byte {
	var b [helloBytes]byte
	copy(b[0:4], helloMagic)
	b[4] = h.version
	b[5] = h.status
	binary.BigEndian.PutUint64(b[8:], h.from)
	binary.BigEndian.PutUint64(b[16:], h.to)
	copy(b[24:40], h.clusterID[:])
	copy(b[40:56], h.incarnation[:])
	return b
}

// readHello reads and decodes a hello. Only the magic is checked here: the
// version and identities are the caller's to judge, so that it can answer.
func readHello(r io.Reader) (hello, error) {
	var b [helloBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return hello{}, err
	}
	if string(b[0:4]) != helloMagic {
		return hello{}, malformed("hello magic %q, want %q", b[0:4], helloMagic)
	}
	h := hello{version: b[4], status: b[5], from: binary.BigEndian.Uint64(b[8:]), to: binary.BigEndian.Uint64(b[16:])}
	copy(h.clusterID[:], b[24:40])
	copy(h.incarnation[:], b[40:56])
	return h, nil
}

// zeroCopy reports whether the encoder knows every field of raftpb.Message
// and raftpb.Entry, which it must to write a message with its entries last
// (appendMessage copies the other fields one by one). A raftpb with new
// fields turns it off rather than drop them; TestZeroCopyCoversRaftpb fails
// so that someone updates appendMessage.
var zeroCopy = func() bool {
	md := (&raftpb.Message{}).ProtoReflect().Descriptor().Fields()
	ed := (&raftpb.Entry{}).ProtoReflect().Descriptor().Fields()
	return md.Len() == 14 && ed.Len() == 4 &&
		md.ByNumber(7) != nil && md.ByNumber(7).Name() == "entries" &&
		ed.ByNumber(4) != nil && ed.ByNumber(4).Name() == "Data"
}()

// Protobuf tags of the fields written by hand.
var (
	entriesTag = protowire.AppendTag(nil, 7, protowire.BytesType)[0]
	dataTag    = protowire.AppendTag(nil, 4, protowire.BytesType)[0]
)

// encoder builds the frames of one write round as a list of byte ranges:
// headers, small fields and messages are appended to buf (reused from
// round to round), large entry data is referenced where it lies. buffers
// turns the list into net.Buffers for one vectored write. After warm-up a
// round allocates nothing.
type encoder struct {
	maxFrame int
	marshal  proto.MarshalOptions

	buf      []byte
	extBytes int       // bytes referenced outside buf so far
	segs     []segment // the output, in order
	segStart int       // start in buf of the range not yet in segs

	frame    int // offset in buf of the open frame's length field; -1 if none
	frameOut int // output position of that length field
	counts   [4]uint32
	frames   int // frames finished this round

	msg raftpb.Message // scratch for appendMessage
	ent raftpb.Entry
}

type segment struct {
	lo, hi int    // buf[lo:hi], when ext is nil
	ext    []byte // bytes outside buf
}

func newEncoder(maxFrame int) *encoder {
	return &encoder{maxFrame: maxFrame, frame: -1}
}

func (e *encoder) reset() {
	if e.frame >= 0 {
		panic("tcp: encoder reset with a frame open")
	}
	clear(e.segs) // drop references to entry data
	e.buf, e.segs = e.buf[:0], e.segs[:0]
	if cap(e.buf) > keepEncodeBufferBytes { // a burst is over: do not keep its buffer
		e.buf, e.segs = nil, nil
	}
	e.extBytes, e.segStart, e.frames = 0, 0, 0
}

// out is the number of output bytes so far.
func (e *encoder) out() int { return len(e.buf) + e.extBytes }

func (e *encoder) cut() {
	if len(e.buf) > e.segStart {
		e.segs = append(e.segs, segment{lo: e.segStart, hi: len(e.buf)})
		e.segStart = len(e.buf)
	}
}

func (e *encoder) appendExt(b []byte) {
	if len(b) == 0 {
		return
	}
	e.cut()
	e.segs = append(e.segs, segment{ext: b})
	e.extBytes += len(b)
}

// buffers appends the round's output to dst.
func (e *encoder) buffers(dst net.Buffers) net.Buffers {
	e.cut()
	for _, s := range e.segs {
		if s.ext != nil {
			dst = append(dst, s.ext)
		} else {
			dst = append(dst, e.buf[s.lo:s.hi])
		}
	}
	return dst
}

// bytes returns the round's output as one slice (tests, fuzzing).
func (e *encoder) bytes() []byte {
	var out []byte
	for _, b := range e.buffers(nil) {
		out = append(out, b...)
	}
	return out
}

func (e *encoder) openFrame(kind byte) {
	e.frame, e.frameOut = len(e.buf), e.out()
	e.buf = append(e.buf, 0, 0, 0, 0, protocolVersion, kind)
	if kind == kindBatch {
		e.counts = [4]uint32{}
		e.buf = append(e.buf, make([]byte, countsBytes)...)
	}
}

// frameLen is the open frame's length field so far.
func (e *encoder) frameLen() int { return e.out() - e.frameOut - frameLengthBytes }

func (e *encoder) closeFrame() {
	if e.buf[e.frame+5] == kindBatch {
		if e.counts == [4]uint32{} {
			e.buf = e.buf[:e.frame] // nothing fit: no frame
			e.frame = -1
			return
		}
		for i, c := range e.counts {
			binary.BigEndian.PutUint32(e.buf[e.frame+frameHeaderBytes+4*i:], c)
		}
	}
	binary.BigEndian.PutUint32(e.buf[e.frame:], uint32(e.frameLen()))
	e.frame = -1
	e.frames++
}

// room makes the open batch frame able to take n more bytes, starting a new
// frame if needed. Frames that already hold something are closed at
// targetFrameBytes, so that the receiver decodes one while the next
// arrives; an item larger than that gets a frame of its own. It reports
// false if n does not fit even an empty frame.
func (e *encoder) room(n int) bool {
	empty := e.counts == [4]uint32{}
	if e.frameLen()+n <= min(e.maxFrame, targetFrameBytes) || (empty && e.frameLen()+n <= e.maxFrame) {
		return true
	}
	if empty {
		return false
	}
	e.closeFrame()
	e.openFrame(kindBatch)
	return e.frameLen()+n <= e.maxFrame
}

func (e *encoder) appendGroup(g transport.GroupID) {
	e.buf = append(e.buf, g.TopicID[:]...)
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(g.Partition))
}

// appendBatch appends b (MsgSnap included, unchunked: the writer streams
// snapshots itself) as one batch frame, or several if it exceeds the frame
// bound. An item too large for any frame is left out: its envelope is
// passed to tooLarge, other items are counted in the returned number.
func (e *encoder) appendBatch(b *transport.Batch, tooLarge func(transport.Envelope)) (skipped int) {
	e.openFrame(kindBatch)
	for _, env := range b.Msgs {
		size := proto.Size(env.Msg)
		if !e.room(msgHeaderBytes + size) {
			tooLarge(env)
			continue
		}
		e.appendGroup(env.Group)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(size))
		start := e.out()
		e.appendMessage(env.Msg)
		if n := e.out() - start; n != size {
			panic(fmt.Sprintf("tcp: encoded %v of group %v in %d bytes, proto.Size says %d", env.Msg.GetType(), env.Group, n, size))
		}
		e.counts[0]++
	}
	for _, l := range b.Leaders {
		if !e.room(leaderFixedBytes + isrMemberBytes*len(l.ISR)) {
			skipped++
			continue
		}
		e.appendGroup(l.Group)
		e.buf = binary.BigEndian.AppendUint64(e.buf, l.Term)
		e.buf = binary.BigEndian.AppendUint64(e.buf, l.Leader)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(l.ISR)))
		for _, id := range l.ISR {
			e.buf = binary.BigEndian.AppendUint64(e.buf, id)
		}
		e.counts[1]++
	}
	for _, inc := range b.Incarnations {
		if !e.room(incarnationBytes + groupBytes*len(inc.Amnesic)) {
			skipped++
			continue
		}
		e.buf = binary.BigEndian.AppendUint64(e.buf, inc.Node)
		e.buf = append(e.buf, inc.ClusterID[:]...)
		e.buf = append(e.buf, inc.Incarnation[:]...)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(inc.Amnesic)))
		for _, g := range inc.Amnesic {
			e.appendGroup(g)
		}
		e.counts[2]++
	}
	for _, f := range b.Forwards {
		if !e.room(forwardHeaderBytes + len(f.Data)) {
			skipped++
			continue
		}
		e.appendGroup(f.Group)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(f.Data)))
		e.buf = append(e.buf, f.Data...)
		e.counts[3]++
	}
	e.closeFrame()
	return skipped
}

// appendMessage appends m's protobuf encoding: exactly proto.Size(m) bytes.
func (e *encoder) appendMessage(m *raftpb.Message) {
	if !zeroCopy || !hasLargeEntry(m) || len(m.ProtoReflect().GetUnknown()) > 0 {
		e.appendProto(m)
		return
	}
	// Every field but Entries, sharing m's values; TestZeroCopyCoversRaftpb
	// keeps this list complete.
	s := &e.msg
	s.Type, s.To, s.From, s.Term, s.LogTerm, s.Index = m.Type, m.To, m.From, m.Term, m.LogTerm, m.Index
	s.Commit, s.Vote, s.Snapshot, s.Reject, s.RejectHint = m.Commit, m.Vote, m.Snapshot, m.Reject, m.RejectHint
	s.Context, s.Responses = m.Context, m.Responses
	e.appendProto(s)
	s.Reset()
	for _, ent := range m.Entries {
		e.buf = append(e.buf, entriesTag)
		if len(ent.Data) < zeroCopyMinBytes || len(ent.ProtoReflect().GetUnknown()) > 0 {
			e.buf = protowire.AppendVarint(e.buf, uint64(proto.Size(ent)))
			e.appendProto(ent)
			continue
		}
		h := &e.ent
		h.Term, h.Index, h.Type = ent.Term, ent.Index, ent.Type
		size := proto.Size(h) + 1 + protowire.SizeBytes(len(ent.Data))
		e.buf = protowire.AppendVarint(e.buf, uint64(size))
		e.appendProto(h)
		h.Reset()
		e.buf = append(e.buf, dataTag)
		e.buf = protowire.AppendVarint(e.buf, uint64(len(ent.Data)))
		e.appendExt(ent.Data)
	}
}

func (e *encoder) appendProto(m proto.Message) {
	var err error
	e.buf, err = e.marshal.MarshalAppend(e.buf, m)
	if err != nil {
		// raftpb has no required fields and no strings: nothing can fail.
		panic(fmt.Sprintf("tcp: marshal %T: %v", m, err))
	}
}

func hasLargeEntry(m *raftpb.Message) bool {
	for _, ent := range m.Entries {
		if len(ent.Data) >= zeroCopyMinBytes {
			return true
		}
	}
	return false
}

// appendChunk appends one snapshot chunk frame; data is referenced, not
// copied.
func (e *encoder) appendChunk(stream uint32, g transport.GroupID, total, offset int, data []byte) {
	e.openFrame(kindSnapChunk)
	e.buf = binary.BigEndian.AppendUint32(e.buf, stream)
	e.appendGroup(g)
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(total))
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(offset))
	e.appendExt(data)
	e.closeFrame()
}

// chunkDataBytes is the data one chunk carries under a frame bound.
func chunkDataBytes(maxFrame int) int {
	return min(snapshotChunkBytes, maxFrame-(frameHeaderBytes-frameLengthBytes)-chunkHeaderBytes)
}

// readFrame reads one frame into buf (grown as needed, up to maxFrame) and
// returns its kind and body, which alias the returned buffer. An error
// wrapping errMalformed means the peer broke the format; any other is the
// connection's.
func readFrame(r io.Reader, buf []byte, maxFrame int) (kind byte, body, newBuf []byte, err error) {
	var h [frameHeaderBytes]byte
	if _, err := io.ReadFull(r, h[:frameLengthBytes]); err != nil {
		return 0, nil, buf, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n < frameHeaderBytes-frameLengthBytes || uint64(n) > uint64(maxFrame) {
		return 0, nil, buf, malformed("frame length %d outside [2, %d]", n, maxFrame)
	}
	// The buffer grows with the bytes that arrive, not with what the length
	// claims, so a peer cannot make it reserve MaxFrameBytes by lying.
	buf = buf[:0]
	for len(buf) < int(n) {
		step := int(n) - len(buf)
		if cap(buf) < int(n) {
			step = min(step, max(len(buf), readBufferBytes))
		}
		buf = slices.Grow(buf, step)
		if _, err := io.ReadFull(r, buf[len(buf):len(buf)+step]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, buf, err
		}
		buf = buf[:len(buf)+step]
	}
	if buf[0] != protocolVersion {
		return 0, nil, buf, malformed("frame version %d, want %d", buf[0], protocolVersion)
	}
	return buf[1], buf[2:], buf, nil
}

// decoder reads the fixed-size fields of a body, remembering the first
// overrun instead of panicking.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = malformed("%d bytes needed, %d left", n, len(d.b))
		d.b = nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) id16() (v [16]byte) {
	copy(v[:], d.take(16))
	return v
}

func (d *decoder) group() transport.GroupID {
	t := d.id16()
	return transport.GroupID{TopicID: t, Partition: int32(d.u32())}
}

// decodeBatch decodes a batch body sent by from to to.
func decodeBatch(body []byte, from, to uint64) (transport.Batch, error) {
	d := decoder{b: body}
	nMsgs, nLeaders, nIncs, nFwds := uint64(d.u32()), uint64(d.u32()), uint64(d.u32()), uint64(d.u32())
	if d.err != nil {
		return transport.Batch{}, d.err
	}
	// Every item takes at least its fixed bytes: refuse counts the body
	// cannot hold before allocating for them.
	if least := nMsgs*msgHeaderBytes + nLeaders*leaderFixedBytes + nIncs*incarnationBytes + nFwds*forwardHeaderBytes; least > uint64(len(d.b)) {
		return transport.Batch{}, malformed("counts %d/%d/%d/%d need %d bytes, body has %d", nMsgs, nLeaders, nIncs, nFwds, least, len(d.b))
	}
	b := transport.Batch{From: from, To: to}
	if nMsgs > 0 {
		b.Msgs = make([]transport.Envelope, 0, nMsgs)
	}
	for range nMsgs {
		g := d.group()
		data := d.take(uint64(d.u32()))
		if d.err != nil {
			return transport.Batch{}, d.err
		}
		m := &raftpb.Message{}
		if err := proto.Unmarshal(data, m); err != nil {
			return transport.Batch{}, malformed("message %d of group %v: %v", len(b.Msgs), g, err)
		}
		b.Msgs = append(b.Msgs, transport.Envelope{Group: g, Msg: m})
	}
	if nLeaders > 0 {
		b.Leaders = make([]transport.LeaderInfo, 0, nLeaders)
	}
	for range nLeaders {
		l := transport.LeaderInfo{Group: d.group(), Term: d.u64(), Leader: d.u64()}
		n := uint64(d.u32())
		if n > uint64(len(d.b))/isrMemberBytes {
			return transport.Batch{}, malformed("leader of group %v: %d ISR members in %d bytes", l.Group, n, len(d.b))
		}
		if n > 0 {
			l.ISR = make([]uint64, n)
			for i := range l.ISR {
				l.ISR[i] = d.u64()
			}
		}
		if d.err != nil {
			return transport.Batch{}, d.err
		}
		b.Leaders = append(b.Leaders, l)
	}
	if nIncs > 0 {
		b.Incarnations = make([]transport.Incarnation, 0, nIncs)
	}
	for range nIncs {
		inc := transport.Incarnation{Node: d.u64(), ClusterID: d.id16(), Incarnation: d.id16()}
		n := uint64(d.u32())
		if n > uint64(len(d.b))/groupBytes {
			return transport.Batch{}, malformed("incarnation of node %d: %d amnesic groups in %d bytes", inc.Node, n, len(d.b))
		}
		if n > 0 {
			inc.Amnesic = make([]transport.GroupID, n)
			for i := range inc.Amnesic {
				inc.Amnesic[i] = d.group()
			}
		}
		if d.err != nil {
			return transport.Batch{}, d.err
		}
		b.Incarnations = append(b.Incarnations, inc)
	}
	if nFwds > 0 {
		b.Forwards = make([]transport.Forward, 0, nFwds)
	}
	for range nFwds {
		g := d.group()
		data := d.take(uint64(d.u32()))
		if d.err != nil {
			return transport.Batch{}, d.err
		}
		b.Forwards = append(b.Forwards, transport.Forward{Group: g, Data: append([]byte(nil), data...)})
	}
	if d.err != nil {
		return transport.Batch{}, d.err
	}
	if len(d.b) != 0 {
		return transport.Batch{}, malformed("%d bytes after the batch's last item", len(d.b))
	}
	if len(b.Msgs)+len(b.Leaders)+len(b.Incarnations)+len(b.Forwards) == 0 {
		return transport.Batch{}, malformed("empty batch")
	}
	if err := b.Validate(); err != nil {
		return transport.Batch{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return b, nil
}

// chunk is one decoded snapshot chunk; data aliases the frame.
type chunk struct {
	stream        uint32
	group         transport.GroupID
	total, offset uint32
	data          []byte
}

func decodeChunk(body []byte) (chunk, error) {
	d := decoder{b: body}
	c := chunk{stream: d.u32(), group: d.group(), total: d.u32(), offset: d.u32()}
	if d.err != nil {
		return chunk{}, d.err
	}
	c.data = d.b
	return c, nil
}

// assembler reassembles the snapshot streams of one connection, enforcing
// the stream rules of the format.
type assembler struct {
	maxSnapshotBytes int
	streams          [maxSnapshotStreams]partialSnap
}

type partialSnap struct {
	open  bool
	id    uint32
	group transport.GroupID
	total uint32
	data  []byte
}

// add takes one chunk; once a stream is complete it returns the decoded
// MsgSnap.
func (a *assembler) add(c chunk, from, to uint64) (transport.Batch, bool, error) {
	if len(c.data) == 0 {
		return transport.Batch{}, false, malformed("empty chunk of stream %d", c.stream)
	}
	s := a.find(c.stream)
	switch {
	case c.offset == 0 && s != nil:
		return transport.Batch{}, false, malformed("stream %d opened twice", c.stream)
	case c.offset == 0:
		if c.total == 0 || uint64(c.total) > uint64(a.maxSnapshotBytes) {
			return transport.Batch{}, false, malformed("snapshot of %d bytes, bound %d", c.total, a.maxSnapshotBytes)
		}
		if s = a.free(); s == nil {
			return transport.Batch{}, false, malformed("more than %d snapshot streams open", maxSnapshotStreams)
		}
		*s = partialSnap{open: true, id: c.stream, group: c.group, total: c.total, data: make([]byte, 0, min(int(c.total), len(c.data)))}
	case s == nil:
		return transport.Batch{}, false, malformed("chunk at offset %d of stream %d, which is not open", c.offset, c.stream)
	case c.group != s.group || c.total != s.total || int(c.offset) != len(s.data):
		return transport.Batch{}, false, malformed("stream %d: chunk of %v at %d of %d, want %v at %d of %d",
			c.stream, c.group, c.offset, c.total, s.group, len(s.data), s.total)
	}
	if uint64(len(s.data))+uint64(len(c.data)) > uint64(s.total) {
		return transport.Batch{}, false, malformed("stream %d: chunk ends at %d, past its total %d", c.stream, len(s.data)+len(c.data), s.total)
	}
	s.data = append(s.data, c.data...)
	if len(s.data) < int(s.total) {
		return transport.Batch{}, false, nil
	}
	data, g := s.data, s.group
	*s = partialSnap{}
	m := &raftpb.Message{}
	if err := proto.Unmarshal(data, m); err != nil {
		return transport.Batch{}, false, malformed("snapshot of group %v: %v", g, err)
	}
	if m.GetType() != raftpb.MsgSnap {
		return transport.Batch{}, false, malformed("snapshot stream of group %v holds a %v", g, m.GetType())
	}
	b := transport.Batch{From: from, To: to, Msgs: []transport.Envelope{{Group: g, Msg: m}}}
	if err := b.Validate(); err != nil {
		return transport.Batch{}, false, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return b, true, nil
}

func (a *assembler) find(id uint32) *partialSnap {
	for i := range a.streams {
		if a.streams[i].open && a.streams[i].id == id {
			return &a.streams[i]
		}
	}
	return nil
}

func (a *assembler) free() *partialSnap {
	for i := range a.streams {
		if !a.streams[i].open {
			return &a.streams[i]
		}
	}
	return nil
}

// session decodes the frames of one accepted connection.
type session struct {
	from, to uint64
	snaps    assembler
}

// frame decodes one frame; ok is false when it completes nothing (a chunk
// of an unfinished snapshot).
func (s *session) frame(kind byte, body []byte) (b transport.Batch, ok bool, err error) {
	switch kind {
	case kindBatch:
		b, err = decodeBatch(body, s.from, s.to)
		return b, err == nil, err
	case kindSnapChunk:
		c, err := decodeChunk(body)
		if err != nil {
			return transport.Batch{}, false, err
		}
		return s.snaps.add(c, s.from, s.to)
	default:
		return transport.Batch{}, false, malformed("frame kind %d", kind)
	}
}
