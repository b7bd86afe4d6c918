package tcp

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"sluice/transport"
)

// Config configures a Transport. Zero durations and bounds take defaults.
type Config struct {
	// ID is this broker's id, the raft node id of all its replicas.
	ID uint64
	// ClusterID and Incarnation identify this broker's data directory
	// (DESIGN.md step 8). Peers of another cluster are refused; the
	// incarnation is announced to every peer on connect.
	ClusterID, Incarnation [16]byte
	// Listener accepts the peers' connections; the Transport owns it once
	// New succeeds. Nil makes a transport that only sends.
	Listener net.Listener
	// Peers maps broker ids to the addresses their transports listen on.
	// SetPeer and RemovePeer change the set later.
	Peers map[uint64]string
	// Deliver takes each batch received from a peer, Incarnation
	// announcements included. It is called from that peer's connection
	// goroutine (so concurrently for different peers, in order for one),
	// never after Close returns, and must not block for long: false means
	// the receiver cannot take the batch now, and it is dropped and
	// counted. Required with a Listener.
	Deliver func(transport.Batch) bool
	// Reporter hears about the raft messages this transport dropped, and
	// SnapshotStatus(ok=true) once a MsgSnap's last chunk is written (as
	// far as a transport can vouch; raft also learns from the follower's
	// answer). Nil discards the reports. It is called from Send and from
	// the peers' writer goroutines.
	Reporter transport.Reporter
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger

	// MaxQueueBytes bounds, per peer, the Batch.SizeBytes of the batches
	// queued or being written (default transport.DefaultMaxQueueBytes).
	MaxQueueBytes int
	// MaxFrameBytes bounds one frame, sent or received (default
	// DefaultMaxFrameBytes, at least 64 KiB). A raft message larger than
	// a frame is dropped and reported.
	MaxFrameBytes int
	// MaxSnapshotBytes bounds one encoded MsgSnap, sent or received
	// (default DefaultMaxSnapshotBytes).
	MaxSnapshotBytes int

	// Rand draws the reconnect jitter, e.g. an *env.Rand's Uint64 (default
	// math/rand/v2's global source). It is called from the writer
	// goroutines, one at a time.
	Rand func() uint64
	// BackoffMin and BackoffMax bound the wait before redialing a peer; it
	// doubles per failed attempt and is jittered over its upper half.
	// Defaults 50 ms and 2 s.
	BackoffMin, BackoffMax time.Duration
	// DialTimeout (default 5 s), HandshakeTimeout (default 5 s) and
	// WriteTimeout (default 10 s; a peer that takes no bytes for this long
	// is treated as gone) bound the blocking calls.
	DialTimeout, HandshakeTimeout, WriteTimeout time.Duration
	// MaxInbound bounds the accepted connections open at once, handshakes
	// included (default DefaultMaxInbound): one beyond it is closed at
	// once, so a flood of connections to the raft port cannot grow the
	// broker's goroutines and buffers without end.
	MaxInbound int
}

// DefaultMaxInbound is Config.MaxInbound's default: peers keep one
// connection each, and a broker replacing a broken one briefly two.
const DefaultMaxInbound = 1024

func (c Config) withDefaults() (Config, error) {
	c.MaxQueueBytes = cmp.Or(c.MaxQueueBytes, transport.DefaultMaxQueueBytes)
	c.MaxFrameBytes = cmp.Or(c.MaxFrameBytes, DefaultMaxFrameBytes)
	c.MaxSnapshotBytes = cmp.Or(c.MaxSnapshotBytes, DefaultMaxSnapshotBytes)
	c.BackoffMin = cmp.Or(c.BackoffMin, 50*time.Millisecond)
	c.BackoffMax = cmp.Or(c.BackoffMax, 2*time.Second)
	c.DialTimeout = cmp.Or(c.DialTimeout, 5*time.Second)
	c.HandshakeTimeout = cmp.Or(c.HandshakeTimeout, 5*time.Second)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, 10*time.Second)
	c.MaxInbound = cmp.Or(c.MaxInbound, DefaultMaxInbound)
	if c.Rand == nil {
		c.Rand = rand.Uint64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.ID == 0:
		return c, errors.New("tcp: broker id 0 is raft's None")
	case c.Listener != nil && c.Deliver == nil:
		return c, errors.New("tcp: a transport with a listener needs Deliver")
	case c.MaxQueueBytes < 0 || c.MaxSnapshotBytes < 0 || c.MaxInbound < 0:
		return c, fmt.Errorf("tcp: negative bound: MaxQueueBytes %d, MaxSnapshotBytes %d, MaxInbound %d", c.MaxQueueBytes, c.MaxSnapshotBytes, c.MaxInbound)
	case c.MaxFrameBytes < minMaxFrameBytes || c.MaxFrameBytes > 1<<31:
		return c, fmt.Errorf("tcp: MaxFrameBytes %d outside [%d, 2 GiB]", c.MaxFrameBytes, minMaxFrameBytes)
	case c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin:
		return c, fmt.Errorf("tcp: backoff bounds %v, %v", c.BackoffMin, c.BackoffMax)
	}
	if _, ok := c.Peers[c.ID]; ok {
		return c, fmt.Errorf("tcp: broker %d lists itself as a peer", c.ID)
	}
	if _, ok := c.Peers[0]; ok {
		return c, errors.New("tcp: peer id 0 is raft's None")
	}
	return c, nil
}

// Transport is the TCP implementation of transport.Transport: it sends
// each peer's batches over one connection it dials, and delivers what
// arrives on the connections it accepts. It is safe for concurrent use.
type Transport struct {
	cfg        Config
	log        *slog.Logger
	ctx        context.Context
	cancel     context.CancelFunc
	chunkBytes int
	closed     atomic.Bool

	mu      sync.RWMutex
	peers   map[uint64]*peer
	inbound map[net.Conn]uint64 // accepted connections → peer id, 0 before the handshake
	newest  map[uint64]net.Conn // the latest accepted connection of each peer

	randMu sync.Mutex
	wg     sync.WaitGroup
	stats  counters
}

// New starts a transport: it accepts on cfg.Listener and dials every peer.
func New(cfg Config) (*Transport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg: cfg, log: cfg.Logger.With("broker", cfg.ID), ctx: ctx, cancel: cancel,
		chunkBytes: chunkDataBytes(cfg.MaxFrameBytes),
		peers:      map[uint64]*peer{}, inbound: map[net.Conn]uint64{}, newest: map[uint64]net.Conn{},
	}
	for id, addr := range cfg.Peers { //lint:maporder-ok starts one goroutine per peer; order is irrelevant
		t.SetPeer(id, addr)
	}
	if cfg.Listener != nil {
		t.wg.Add(1)
		go t.accept()
	}
	return t, nil
}

// Addr is the listener's address, or nil for a send-only transport.
func (t *Transport) Addr() net.Addr {
	if t.cfg.Listener == nil {
		return nil
	}
	return t.cfg.Listener.Addr()
}

// SetPeer adds peer id at addr, or changes its address (used from the next
// dial on).
func (t *Transport) SetPeer(id uint64, addr string) {
	if id == 0 || id == t.cfg.ID {
		panic(fmt.Sprintf("tcp: broker %d cannot have peer %d", t.cfg.ID, id))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return
	}
	if p := t.peers[id]; p != nil {
		p.mu.Lock()
		p.addr = addr
		p.mu.Unlock()
		return
	}
	p := newPeer(t, id, addr)
	t.peers[id] = p
	t.wg.Add(1)
	go p.run()
}

// RemovePeer closes the connection to peer id and forgets it; batches to it
// are dropped and reported from then on.
func (t *Transport) RemovePeer(id uint64) {
	t.mu.Lock()
	p := t.peers[id]
	delete(t.peers, id)
	t.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// Connected reports whether the connection to peer id is established, so
// that batches to it are queued rather than dropped.
func (t *Transport) Connected(id uint64) bool {
	t.mu.RLock()
	p := t.peers[id]
	t.mu.RUnlock()
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up
}

// Send queues b for its destination and returns at once. A batch to a
// peer that is not connected or unknown, or that would take the peer's
// queue past MaxQueueBytes, is dropped and reported: Unreachable once per
// group with a message in it, SnapshotStatus(false) per MsgSnap. Send
// panics on a batch that fails Batch.Validate or is not from this broker:
// that is a bug in the sender. After Close, batches are dropped silently.
func (t *Transport) Send(b transport.Batch) {
	if b.From != t.cfg.ID {
		panic(fmt.Sprintf("tcp: broker %d sent a batch from node %d to node %d", t.cfg.ID, b.From, b.To))
	}
	if err := b.Validate(); err != nil {
		panic(err.Error())
	}
	if len(b.Msgs)+len(b.Leaders)+len(b.Incarnations)+len(b.Forwards) == 0 {
		return
	}
	t.mu.RLock()
	p := t.peers[b.To]
	t.mu.RUnlock()
	if p != nil && p.enqueue(&b, b.SizeBytes()) {
		p.signal()
		return
	}
	t.stats.batchesDropped.Add(1)
	if !t.closed.Load() {
		var d dropReport
		d.add(t.cfg.Reporter, b.To, b.Msgs)
	}
}

// Close stops the transport: it closes the listener and every connection,
// drops what is queued (without reports) and waits for its goroutines.
// Deliver is not called once Close returns.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed.Swap(true) {
		t.mu.Unlock()
		return nil
	}
	peers := make([]*peer, 0, len(t.peers))
	for _, p := range t.peers { //lint:maporder-ok each is stopped, order is irrelevant
		peers = append(peers, p)
	}
	conns := make([]net.Conn, 0, len(t.inbound))
	for c := range t.inbound { //lint:maporder-ok each is closed, order is irrelevant
		conns = append(conns, c)
	}
	t.mu.Unlock()
	t.cancel()
	var err error
	if t.cfg.Listener != nil {
		err = t.cfg.Listener.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	for _, p := range peers {
		p.stop()
	}
	t.wg.Wait()
	return err
}

// backoff is the wait before the next dial after failures failed ones:
// BackoffMin doubled per failure up to BackoffMax, jittered over its upper
// half so that brokers restarted together do not redial in step.
func (t *Transport) backoff(failures int) time.Duration {
	d := t.cfg.BackoffMax
	if failures <= 30 {
		d = min(d, t.cfg.BackoffMin<<max(failures-1, 0))
	}
	half := d / 2
	t.randMu.Lock()
	r := t.cfg.Rand()
	t.randMu.Unlock()
	return d - half + time.Duration(r%uint64(half+1))
}

// dropReport tells a Reporter about dropped raft messages: Unreachable once
// per group, SnapshotStatus(false) per MsgSnap. It remembers the groups
// already reported, so one report can span several batches.
type dropReport struct {
	small [16]transport.GroupID
	n     int
	big   map[transport.GroupID]struct{}
}

func (d *dropReport) first(g transport.GroupID) bool {
	for _, h := range d.small[:d.n] {
		if h == g {
			return false
		}
	}
	if _, ok := d.big[g]; ok {
		return false
	}
	if d.n < len(d.small) {
		d.small[d.n] = g
		d.n++
		return true
	}
	if d.big == nil {
		d.big = map[transport.GroupID]struct{}{}
	}
	d.big[g] = struct{}{}
	return true
}

func (d *dropReport) add(r transport.Reporter, to uint64, envs []transport.Envelope) {
	if r == nil {
		return
	}
	for _, e := range envs {
		if d.first(e.Group) {
			r.Unreachable(e.Group, to)
		}
		if e.Msg.GetType() == raftpb.MsgSnap {
			r.SnapshotStatus(e.Group, to, false)
		}
	}
}

// envelopeOverheadBytes is what Batch.SizeBytes adds per message beyond its
// protobuf size, so that a batch's size can be split between its parts.
var envelopeOverheadBytes = func() int {
	m := &raftpb.Message{}
	one := transport.Batch{Msgs: []transport.Envelope{{Msg: m}}}
	return one.SizeBytes() - transport.Batch{}.SizeBytes() - proto.Size(m)
}()

// Stats counts what a Transport did since New.
type Stats struct {
	// BatchesSent were written whole to a connection.
	BatchesSent uint64
	// BatchesDropped were refused by Send (peer unknown or not connected,
	// queue full) or lost with a broken connection, and reported.
	BatchesDropped uint64
	// ItemsTooLarge are raft messages, leader entries or forwards dropped
	// because one alone exceeds MaxFrameBytes (or a MsgSnap
	// MaxSnapshotBytes).
	ItemsTooLarge uint64
	// BatchesDelivered were taken by Deliver; DeliverRefused were not, and
	// are lost.
	BatchesDelivered, DeliverRefused uint64
	// MalformedFrames closed an accepted connection: a frame or hello that
	// broke the format.
	MalformedFrames uint64
	// RefusedHandshakes: connections refused on either side for another
	// cluster, protocol version or broker identity.
	RefusedHandshakes uint64
	// RefusedInbound: connections closed on accept, MaxInbound being open.
	RefusedInbound uint64
	// Dials attempted, DialFailures among them (handshake included).
	Dials, DialFailures uint64
	// SnapshotsSent were streamed whole; SnapshotsDropped were reported
	// failed; SnapshotsReceived were reassembled.
	SnapshotsSent, SnapshotsDropped, SnapshotsReceived uint64
	FramesSent, FramesReceived                         uint64
	BytesSent, BytesReceived                           uint64
}

type counters struct {
	batchesSent, batchesDropped, itemsTooLarge         atomic.Uint64
	batchesDelivered, deliverRefused                   atomic.Uint64
	malformedFrames, refusedHandshakes, refusedInbound atomic.Uint64
	dials, dialFailures                                atomic.Uint64
	snapshotsSent, snapshotsDropped, snapshotsReceived atomic.Uint64
	framesSent, framesReceived                         atomic.Uint64
	bytesSent, bytesReceived                           atomic.Uint64
}

// Stats returns the counters. Each is read atomically; together they are
// not one snapshot.
func (t *Transport) Stats() Stats {
	c := &t.stats
	return Stats{
		BatchesSent: c.batchesSent.Load(), BatchesDropped: c.batchesDropped.Load(), ItemsTooLarge: c.itemsTooLarge.Load(),
		BatchesDelivered: c.batchesDelivered.Load(), DeliverRefused: c.deliverRefused.Load(),
		MalformedFrames: c.malformedFrames.Load(), RefusedHandshakes: c.refusedHandshakes.Load(), RefusedInbound: c.refusedInbound.Load(),
		Dials: c.dials.Load(), DialFailures: c.dialFailures.Load(),
		SnapshotsSent: c.snapshotsSent.Load(), SnapshotsDropped: c.snapshotsDropped.Load(), SnapshotsReceived: c.snapshotsReceived.Load(),
		FramesSent: c.framesSent.Load(), FramesReceived: c.framesReceived.Load(),
		BytesSent: c.bytesSent.Load(), BytesReceived: c.bytesReceived.Load(),
	}
}

// fmtID formats a cluster id or incarnation as Kafka prints UUIDs.
func fmtID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }
