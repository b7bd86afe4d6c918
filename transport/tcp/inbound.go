package tcp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"time"

	"sluice/transport"
)

const (
	// readBufferBytes is the bufio buffer of an accepted connection: many
	// small frames per read system call.
	readBufferBytes = 64 << 10
	// keepFrameBufferBytes: a frame buffer grown past this is let go after
	// use, so an idle connection does not hold a large one.
	keepFrameBufferBytes = 4 << 20
)

// accept runs the listener.
func (t *Transport) accept() {
	defer t.wg.Done()
	var refusalLogged time.Time // at most one such log line a second
	for {
		c, err := t.cfg.Listener.Accept()
		if err != nil {
			if t.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("tcp: accept failed", "err", err)
			select { // e.g. out of file descriptors: do not spin
			case <-time.After(10 * time.Millisecond):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		t.mu.Lock()
		if t.closed.Load() {
			t.mu.Unlock()
			c.Close()
			return
		}
		if len(t.inbound) >= t.cfg.MaxInbound {
			t.mu.Unlock()
			c.Close()
			t.stats.refusedInbound.Add(1)
			if now := time.Now(); now.Sub(refusalLogged) >= time.Second {
				refusalLogged = now
				t.log.Warn("tcp: refusing a connection: too many open", "remote", c.RemoteAddr(), "max_inbound", t.cfg.MaxInbound)
			}
			continue
		}
		t.inbound[c] = 0
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serveInbound(c)
	}
}

// serveInbound does the acceptor's side of the handshake, then decodes and
// delivers frames until the connection ends or breaks the format.
func (t *Transport) serveInbound(c net.Conn) {
	defer t.wg.Done()
	defer t.untrack(c)
	h, ok := t.acceptHello(c)
	if !ok {
		return
	}
	t.track(h.from, c)
	t.log.Info("tcp: accepted peer", "peer", h.from, "remote", c.RemoteAddr(), "peer_incarnation", fmtID(h.incarnation))

	// The peer's incarnation goes to the node first, so that it can re-add a
	// replica whose disk was wiped; if the node cannot take it now, it is
	// offered again with each later batch until it does.
	inc := transport.Batch{From: h.from, To: t.cfg.ID,
		Incarnations: []transport.Incarnation{{Node: h.from, ClusterID: h.clusterID, Incarnation: h.incarnation}}}
	incPending := !t.deliver(inc)

	s := session{from: h.from, to: t.cfg.ID, snaps: assembler{maxSnapshotBytes: t.cfg.MaxSnapshotBytes}}
	r := bufio.NewReaderSize(c, readBufferBytes)
	var buf []byte
	for {
		kind, body, nb, err := readFrame(r, buf, t.cfg.MaxFrameBytes)
		buf = nb
		if err != nil {
			t.readFailed(h.from, c, err)
			return
		}
		t.stats.framesReceived.Add(1)
		t.stats.bytesReceived.Add(uint64(frameHeaderBytes + len(body)))
		b, ok, err := s.frame(kind, body)
		if cap(buf) > keepFrameBufferBytes {
			buf = nil
		}
		if err != nil {
			t.readFailed(h.from, c, err)
			return
		}
		if !ok {
			continue
		}
		if kind == kindSnapChunk {
			t.stats.snapshotsReceived.Add(1)
		}
		if incPending {
			incPending = !t.deliver(inc)
		}
		t.deliver(b)
	}
}

func (t *Transport) deliver(b transport.Batch) bool {
	if t.cfg.Deliver(b) {
		t.stats.batchesDelivered.Add(1)
		return true
	}
	t.stats.deliverRefused.Add(1)
	return false
}

func (t *Transport) readFailed(peer uint64, c net.Conn, err error) {
	switch {
	case errors.Is(err, errMalformed):
		t.stats.malformedFrames.Add(1)
		t.log.Warn("tcp: malformed frame, closing the connection", "peer", peer, "remote", c.RemoteAddr(), "err", err)
	case t.closed.Load() || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		t.log.Debug("tcp: peer connection closed", "peer", peer, "err", err)
	default:
		t.log.Info("tcp: peer connection failed", "peer", peer, "err", err)
	}
}

// acceptHello reads the dialer's hello and answers it, refusing a peer of
// another cluster, version or impossible identity.
func (t *Transport) acceptHello(c net.Conn) (hello, bool) {
	c.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	h, err := readHello(c)
	if err != nil {
		if errors.Is(err, errMalformed) {
			t.stats.malformedFrames.Add(1)
			t.log.Warn("tcp: connection that does not speak the transport protocol", "remote", c.RemoteAddr(), "err", err)
		} else {
			t.log.Debug("tcp: handshake failed", "remote", c.RemoteAddr(), "err", err)
		}
		return hello{}, false
	}
	status := statusOK
	switch {
	case h.version != protocolVersion:
		status = statusVersion
		t.log.Error("tcp: refused a broker speaking another protocol version", "peer", h.from, "remote", c.RemoteAddr(),
			"peer_version", h.version, "version", protocolVersion)
	case h.clusterID != t.cfg.ClusterID:
		status = statusCluster
		t.log.Error("tcp: refused a broker of another cluster", "peer", h.from, "remote", c.RemoteAddr(),
			"peer_cluster", fmtID(h.clusterID), "cluster", fmtID(t.cfg.ClusterID))
	case h.from == 0 || h.from == t.cfg.ID || h.to != t.cfg.ID:
		status = statusIdentity
		t.log.Error("tcp: refused a broker with a wrong identity", "peer", h.from, "remote", c.RemoteAddr(),
			"peer_thinks_we_are", h.to)
	}
	reply := hello{version: protocolVersion, status: uint8(status), from: t.cfg.ID, to: h.from,
		clusterID: t.cfg.ClusterID, incarnation: t.cfg.Incarnation}
	b := reply.encode()
	if _, err := c.Write(b[:]); err != nil {
		t.log.Debug("tcp: handshake failed", "remote", c.RemoteAddr(), "err", err)
		return hello{}, false
	}
	if status != statusOK {
		t.stats.refusedHandshakes.Add(1)
		return hello{}, false
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return hello{}, false
	}
	return h, true
}

// track records c as peer's newest connection and closes the one it
// replaces: a restarted peer's old connection may linger half-open.
func (t *Transport) track(peer uint64, c net.Conn) {
	t.mu.Lock()
	old := t.newest[peer]
	t.newest[peer] = c
	t.inbound[c] = peer
	t.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

func (t *Transport) untrack(c net.Conn) {
	c.Close()
	t.mu.Lock()
	defer t.mu.Unlock()
	if peer := t.inbound[c]; t.newest[peer] == c {
		delete(t.newest, peer)
	}
	delete(t.inbound, c)
}
