package tcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"sluice/transport"
)

// peer is the sending side towards one broker: a bounded queue filled by
// Send and one writer goroutine (run) that dials, handshakes and writes.
//
// While the connection is down the queue stays empty: Send drops and
// reports at once, so raft stops pipelining to the peer instead of filling
// a queue with messages that would be stale by the time it is back.
type peer struct {
	t      *Transport
	id     uint64
	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: something was queued

	mu          sync.Mutex
	addr        string
	up          bool
	conn        net.Conn // the current connection, for stop to close
	queue       []*item
	tail        *item   // the regular item at the end of queue, taking more batches
	spare       []*item // the writer's last taken queue, reused
	queuedBytes int     // SizeBytes of every item not yet released
	free        []*item // released items, reused

	// Owned by the writer goroutine.
	enc        *encoder
	bufs, vec  net.Buffers // bufs is consumed by WriteTo; vec keeps its array
	written    []*item     // regular items in this round's frames
	waiting    []*item     // snapshot items not yet streaming
	streams    []*stream   // streaming, at most maxSnapshotStreams
	nextStream uint32
	refused    uint8 // the last handshake refusal logged, to log each reason once
	tooLarge   func(transport.Envelope)
}

// item is one queued unit: the regular part (all but MsgSnap) of one or
// more batches, or one MsgSnap.
type item struct {
	b         transport.Batch // slices owned by the item, reused
	sizeBytes int
	batches   int // the batches it stands for in Stats
	snap      bool
}

func (it *item) len() int {
	return len(it.b.Msgs) + len(it.b.Leaders) + len(it.b.Incarnations) + len(it.b.Forwards)
}

// stream is a MsgSnap being sent in chunks.
type stream struct {
	id   uint32
	it   *item
	data []byte // the encoded message
	off  int    // bytes written
	next int    // bytes written once this round's write succeeds
}

// maxFreeItems bounds the items kept for reuse per peer.
const maxFreeItems = 1024

func newPeer(t *Transport, id uint64, addr string) *peer {
	ctx, cancel := context.WithCancel(t.ctx)
	p := &peer{t: t, id: id, addr: addr, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), enc: newEncoder(t.cfg.MaxFrameBytes)}
	p.tooLarge = p.dropTooLarge
	return p
}

// stop ends the writer: it closes the connection and the writer discards
// what is queued.
func (p *peer) stop() {
	p.cancel()
	p.mu.Lock()
	if p.conn != nil {
		p.conn.Close()
	}
	p.mu.Unlock()
}

func (p *peer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// enqueue queues b, whose SizeBytes is size, unless the peer is down or
// the queue would pass its bound. Its MsgSnap envelopes become items of
// their own, to be streamed; the rest joins the regular item at the end of
// the queue, so that however many batches are sent between two writes the
// writer takes one item (and the receiver gets one batch per frame).
func (p *peer) enqueue(b *transport.Batch, size int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.up || p.queuedBytes+size > p.t.cfg.MaxQueueBytes {
		return false
	}
	p.queuedBytes += size
	reg := p.tail
	if reg == nil {
		reg = p.newItem(b)
	}
	before := reg.len()
	var firstSnap *item
	for _, e := range b.Msgs {
		if e.Msg.GetType() != raftpb.MsgSnap {
			reg.b.Msgs = append(reg.b.Msgs, e)
			continue
		}
		s := p.newItem(b)
		s.snap = true
		s.b.Msgs = append(s.b.Msgs, e)
		s.sizeBytes = envelopeOverheadBytes + proto.Size(e.Msg)
		size -= s.sizeBytes
		p.queue = append(p.queue, s)
		if firstSnap == nil {
			firstSnap = s
		}
	}
	reg.b.Leaders = append(reg.b.Leaders, b.Leaders...)
	reg.b.Incarnations = append(reg.b.Incarnations, b.Incarnations...)
	reg.b.Forwards = append(reg.b.Forwards, b.Forwards...)
	switch {
	case reg.len() > before:
		reg.sizeBytes += size
		reg.batches++
		if reg != p.tail {
			p.queue = append(p.queue, reg)
			p.tail = reg
		}
	case reg == p.tail:
		reg.sizeBytes += size // the batch's own overhead
		firstSnap.batches++
	default:
		firstSnap.sizeBytes += size
		firstSnap.batches++
		p.releaseLocked(reg)
	}
	return true
}

func (p *peer) newItem(b *transport.Batch) *item {
	var it *item
	if n := len(p.free); n > 0 {
		it = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	} else {
		it = &item{}
	}
	it.b.From, it.b.To = b.From, b.To
	return it
}

// releaseLocked returns an item for reuse, dropping its references.
func (p *peer) releaseLocked(it *item) {
	clear(it.b.Msgs)
	clear(it.b.Leaders)
	clear(it.b.Forwards)
	it.b = transport.Batch{Msgs: it.b.Msgs[:0], Leaders: it.b.Leaders[:0], Incarnations: it.b.Incarnations[:0], Forwards: it.b.Forwards[:0]}
	it.sizeBytes, it.batches, it.snap = 0, 0, false
	if len(p.free) < maxFreeItems {
		p.free = append(p.free, it)
	}
}

// take hands the writer every queued item.
func (p *peer) take() []*item {
	p.mu.Lock()
	defer p.mu.Unlock()
	items := p.queue
	p.queue, p.spare, p.tail = p.spare[:0], nil, nil
	return items
}

// release frees items written (or dropped) and gives the writer's queue
// slice back for reuse.
func (p *peer) release(items []*item, done ...[]*item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, its := range done {
		for _, it := range its {
			p.queuedBytes -= it.sizeBytes
			p.releaseLocked(it)
		}
	}
	if items != nil {
		clear(items)
		p.spare = items[:0]
	}
}

// run is the writer goroutine: connect, write until the connection breaks,
// back off, reconnect, until stop or Close.
func (p *peer) run() {
	defer p.t.wg.Done()
	failures := 0
	for {
		if failures > 0 && !p.sleep(p.t.backoff(failures)) {
			break
		}
		conn, err := p.connect()
		if p.ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			break
		}
		if err != nil {
			failures++
			var r refusal
			if errors.As(err, &r) {
				failures = max(failures, 64) // refused: a misconfiguration, retry slowly
			}
			p.logDialFailure(failures, err)
			continue
		}
		failures = 1 // a broken connection is redialed after BackoffMin
		p.serve(conn)
		if p.ctx.Err() != nil {
			break
		}
	}
	p.discard()
}

func (p *peer) sleep(d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

func (p *peer) logDialFailure(failures int, err error) {
	var r refusal
	switch {
	case errors.As(err, &r) && r.status != p.refused:
		p.refused = r.status
		p.t.log.Error("tcp: peer refused this broker", "peer", p.id, "err", err)
	case errors.As(err, &r):
		p.t.log.Debug("tcp: peer refused this broker", "peer", p.id, "err", err)
	case failures == 1:
		p.t.log.Warn("tcp: cannot reach peer", "peer", p.id, "err", err)
	default:
		p.t.log.Debug("tcp: cannot reach peer", "peer", p.id, "failures", failures, "err", err)
	}
}

// refusal is a handshake the other side (or this one) refused.
type refusal struct {
	status uint8
	msg    string
}

func (r refusal) Error() string { return r.msg }

// connect dials the peer and does the dialer's side of the handshake.
func (p *peer) connect() (net.Conn, error) {
	t := p.t
	p.mu.Lock()
	addr := p.addr
	p.mu.Unlock()
	t.stats.dials.Add(1)
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	conn, err := d.DialContext(p.ctx, "tcp", addr)
	if err != nil {
		t.stats.dialFailures.Add(1)
		return nil, err
	}
	p.mu.Lock()
	p.conn = conn // stop can now interrupt the handshake
	p.mu.Unlock()
	if err := p.ctx.Err(); err != nil { // stop ran before p.conn was set
		p.closeConn(conn)
		return nil, err
	}
	h, err := p.handshake(conn)
	if err != nil {
		t.stats.dialFailures.Add(1)
		p.closeConn(conn)
		return nil, err
	}
	p.refused = statusOK
	t.log.Info("tcp: connected to peer", "peer", p.id, "addr", addr, "peer_incarnation", fmtID(h.incarnation))
	return conn, nil
}

func (p *peer) handshake(conn net.Conn) (hello, error) {
	t := p.t
	conn.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	mine := hello{version: protocolVersion, from: t.cfg.ID, to: p.id, clusterID: t.cfg.ClusterID, incarnation: t.cfg.Incarnation}
	b := mine.encode()
	if _, err := conn.Write(b[:]); err != nil {
		return hello{}, err
	}
	h, err := readHello(conn)
	if err != nil {
		return hello{}, fmt.Errorf("tcp: handshake with peer %d: %w", p.id, err)
	}
	var r *refusal
	switch {
	case h.status == statusVersion || h.version != protocolVersion:
		r = &refusal{statusVersion, fmt.Sprintf("tcp: peer %d speaks protocol version %d, this broker %d", p.id, h.version, protocolVersion)}
	case h.status == statusCluster || (h.status == statusOK && h.clusterID != t.cfg.ClusterID):
		r = &refusal{statusCluster, fmt.Sprintf("tcp: peer %d at %s belongs to cluster %s, this broker to cluster %s",
			p.id, conn.RemoteAddr(), fmtID(h.clusterID), fmtID(t.cfg.ClusterID))}
	case h.status != statusOK:
		r = &refusal{h.status, fmt.Sprintf("tcp: broker at %s (id %d) refused this broker's identity (status %d)", conn.RemoteAddr(), h.from, h.status)}
	case h.from != p.id || h.to != t.cfg.ID:
		r = &refusal{statusIdentity, fmt.Sprintf("tcp: dialed peer %d at %s, reached broker %d (which took this broker for %d)",
			p.id, conn.RemoteAddr(), h.from, h.to)}
	}
	if r != nil {
		t.stats.refusedHandshakes.Add(1) // every refusal, whichever side made it (Stats)
		return hello{}, *r
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return hello{}, err
	}
	return h, nil
}

func (p *peer) closeConn(conn net.Conn) {
	conn.Close()
	p.mu.Lock()
	if p.conn == conn {
		p.conn = nil
	}
	p.mu.Unlock()
}

// errPeerClosed: the acceptor closed the connection (or sent bytes, which
// it never does after the handshake).
var errPeerClosed = errors.New("tcp: peer closed the connection")

// serve writes to conn until it breaks or the peer is stopped.
func (p *peer) serve(conn net.Conn) {
	dead := make(chan struct{})
	p.t.wg.Add(1)
	go func() {
		defer p.t.wg.Done()
		var b [1]byte
		conn.Read(b[:]) // returns when the peer closes (or breaks the protocol)
		close(dead)
	}()
	p.mu.Lock()
	p.up = true
	p.mu.Unlock()
	var err error
	for err == nil {
		if len(p.streams) == 0 && len(p.waiting) == 0 {
			select {
			case <-p.wake:
			case <-dead:
				err = errPeerClosed
				continue
			case <-p.ctx.Done():
				p.closeConn(conn)
				return
			}
		} else {
			select {
			case <-dead:
				err = errPeerClosed
				continue
			case <-p.ctx.Done():
				p.closeConn(conn)
				return
			default:
			}
		}
		err = p.round(conn)
	}
	p.closeConn(conn)
	if p.ctx.Err() != nil {
		return
	}
	n := p.fail()
	p.t.log.Warn("tcp: lost connection to peer", "peer", p.id, "dropped_batches", n, "err", err)
}

// round writes everything queued, plus one chunk of each open snapshot
// stream, in one vectored write.
func (p *peer) round(conn net.Conn) error {
	t, e := p.t, p.enc
	items := p.take()
	e.reset()
	p.written = p.written[:0]
	for _, it := range items {
		if it.snap {
			p.waiting = append(p.waiting, it)
			continue
		}
		if n := e.appendBatch(&it.b, p.tooLarge); n > 0 {
			t.stats.itemsTooLarge.Add(uint64(n))
			t.log.Warn("tcp: control items larger than a frame dropped", "peer", p.id, "items", n)
		}
		p.written = append(p.written, it)
	}
	p.openStreams()
	for _, s := range p.streams {
		s.next = min(s.off+t.chunkBytes, len(s.data))
		e.appendChunk(s.id, s.it.b.Msgs[0].Group, len(s.data), s.off, s.data[s.off:s.next])
	}
	if e.out() > 0 {
		p.bufs = e.buffers(p.vec[:0])
		p.vec = p.bufs[:0]
		// The peer is gone only if it takes no bytes for WriteTimeout
		// (Config): the deadline moves on whenever a write made progress,
		// so a slow but steady peer is not cut off mid-round.
		for {
			if err := conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout)); err != nil {
				clear(p.vec[:cap(p.vec)])
				p.release(items)
				return err
			}
			n, err := p.bufs.WriteTo(conn) // consumes what it wrote
			t.stats.bytesSent.Add(uint64(n))
			var ne net.Error
			if err != nil && n > 0 && len(p.bufs) > 0 && errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if err != nil {
				clear(p.vec[:cap(p.vec)]) // drop references to entry data
				p.release(items)
				return err
			}
			break
		}
		clear(p.vec[:cap(p.vec)]) // drop references to entry data
		t.stats.framesSent.Add(uint64(e.frames))
	}
	e.reset()
	t.stats.batchesSent.Add(batches(p.written))
	finished := p.advanceStreams()
	for _, it := range finished {
		t.stats.snapshotsSent.Add(1)
		if r := t.cfg.Reporter; r != nil {
			// Handed to the kernel: as far as a transport can vouch. If it is
			// lost after all, the follower never answers and raft's probing
			// sends the snapshot again.
			r.SnapshotStatus(it.b.Msgs[0].Group, p.id, true)
		}
	}
	p.release(items, p.written, finished)
	clear(p.written)
	p.written = p.written[:0]
	return nil
}

// openStreams starts streaming waiting snapshots while fewer than
// maxSnapshotStreams are open.
func (p *peer) openStreams() {
	t := p.t
	for len(p.waiting) > 0 && len(p.streams) < maxSnapshotStreams {
		it := p.waiting[0]
		p.waiting[0] = nil
		p.waiting = p.waiting[1:]
		env := it.b.Msgs[0]
		data, err := proto.Marshal(env.Msg)
		if err == nil && len(data) > t.cfg.MaxSnapshotBytes {
			err = fmt.Errorf("%d bytes, bound %d", len(data), t.cfg.MaxSnapshotBytes)
		}
		if err != nil {
			t.stats.itemsTooLarge.Add(1)
			t.log.Warn("tcp: snapshot dropped", "peer", p.id, "group", env.Group, "err", err)
			p.dropItems([]*item{it})
			continue
		}
		p.nextStream++
		p.streams = append(p.streams, &stream{id: p.nextStream, it: it, data: data})
	}
	if len(p.waiting) == 0 {
		p.waiting = p.waiting[:0:0] // let the array go
	}
}

// advanceStreams records the chunks just written and returns the items of
// the snapshots now sent whole.
func (p *peer) advanceStreams() []*item {
	var finished []*item
	keep := p.streams[:0]
	for _, s := range p.streams {
		s.off = s.next
		if s.off == len(s.data) {
			finished = append(finished, s.it)
			continue
		}
		keep = append(keep, s)
	}
	clear(p.streams[len(keep):])
	p.streams = keep
	return finished
}

// dropTooLarge drops one raft message that does not fit a frame.
func (p *peer) dropTooLarge(env transport.Envelope) {
	p.t.stats.itemsTooLarge.Add(1)
	p.t.log.Warn("tcp: raft message larger than a frame dropped", "peer", p.id, "group", env.Group,
		"type", env.Msg.GetType(), "bytes", proto.Size(env.Msg), "max_frame_bytes", p.t.cfg.MaxFrameBytes)
	var d dropReport
	d.add(p.t.cfg.Reporter, p.id, []transport.Envelope{env})
}

// fail marks the peer down and drops, with reports, everything taken or
// queued. It returns the number of batches dropped.
func (p *peer) fail() int {
	p.mu.Lock()
	p.up = false
	dropped := append([]*item(nil), p.queue...)
	clear(p.queue)
	p.queue, p.tail = p.queue[:0], nil
	p.mu.Unlock()
	dropped = append(dropped, p.written...)
	clear(p.written)
	p.written = p.written[:0]
	dropped = append(dropped, p.waiting...)
	p.waiting = nil
	for _, s := range p.streams {
		dropped = append(dropped, s.it)
	}
	p.streams = nil
	n := int(batches(dropped)) // counted before dropItems releases them
	p.dropItems(dropped)
	return n
}

// dropItems reports and releases items that will never be sent.
func (p *peer) dropItems(items []*item) {
	var d dropReport
	for _, it := range items {
		d.add(p.t.cfg.Reporter, p.id, it.b.Msgs)
		if it.snap {
			p.t.stats.snapshotsDropped.Add(1)
		}
	}
	p.t.stats.batchesDropped.Add(batches(items))
	p.release(nil, items)
}

func batches(items []*item) uint64 {
	var n uint64
	for _, it := range items {
		n += uint64(it.batches)
	}
	return n
}

// discard releases, without reports, what is left when the writer ends.
func (p *peer) discard() {
	p.mu.Lock()
	p.up = false
	items := append(p.queue, p.written...)
	items = append(items, p.waiting...)
	for _, s := range p.streams {
		items = append(items, s.it)
	}
	p.queue, p.tail, p.written, p.waiting, p.streams = nil, nil, nil, nil, nil
	p.mu.Unlock()
	p.t.stats.batchesDropped.Add(batches(items))
	p.release(nil, items)
}
