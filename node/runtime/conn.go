package runtime

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node"
)

// conn is one Kafka client connection: a reader goroutine that decodes
// requests and posts them to the loop, and a writer goroutine that writes
// responses in request order.
type conn struct {
	b  *Broker
	id uint64
	nc net.Conn
	// host is the client's address as Kafka reports it: "/" and the IP.
	host string

	slots chan struct{} // in-flight bound: one token per unanswered request
	freed chan struct{} // the writer answered a request: bytes were freed

	mu    sync.Mutex
	bytes int                 // frame bytes of the requests read and not yet answered
	corr  map[uint64]inflight // seq -> what the response needs
	ready map[uint64]node.Response
	next  uint64 // next seq to write
	wake  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newConn(b *Broker, id uint64, nc net.Conn) *conn {
	host := nc.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return &conn{b: b, id: id, nc: nc, host: "/" + host, slots: make(chan struct{}, b.opts.MaxInflightPerConn),
		freed: make(chan struct{}, 1), corr: map[uint64]inflight{}, ready: map[uint64]node.Response{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.nc.Close()
		c.b.conns.Delete(c.id)
		c.b.openConns.Add(-1)
	})
}

func (c *conn) serve() {
	go c.writeLoop()
	defer c.close()
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for seq := uint64(0); ; seq++ {
		select {
		case c.slots <- struct{}{}:
		case <-c.done:
			return
		}
		req, corr, size, err := c.readRequest(r, seq)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.b.log.Warn("closing a client connection", "remote", c.nc.RemoteAddr().String(), "err", err)
			}
			return
		}
		c.mu.Lock()
		c.corr[seq] = inflight{corr: corr, key: req.Key, size: size, start: time.Now()}
		c.mu.Unlock()
		select {
		case c.b.requests <- req:
		case <-c.done:
			return
		case <-c.b.quit:
			return
		}
	}
}

// readRequest reads and decodes one frame. An error means the connection
// must close: a malformed frame, an oversized one, an API kmsg does not
// know, or the peer went away.
func (c *conn) readRequest(r *bufio.Reader, seq uint64) (node.Request, int32, int, error) {
	var size [4]byte
	c.mu.Lock()
	c.armIdle()
	c.mu.Unlock()
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return node.Request{}, 0, 0, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 8 || int(n) > c.b.opts.MaxRequestBytes {
		return node.Request{}, 0, 0, fmt.Errorf("request of %d bytes (socket.request.max.bytes is %d)", n, c.b.opts.MaxRequestBytes)
	}
	if err := c.reserve(4 + int(n)); err != nil {
		return node.Request{}, 0, 0, err
	}
	// A frame's body arrives within the idle timeout of its size.
	c.nc.SetReadDeadline(time.Now().Add(c.b.opts.IdleTimeout))
	frame := make([]byte, n)
	if _, err := io.ReadFull(r, frame); err != nil {
		return node.Request{}, 0, 0, err
	}
	req, corr, err := decodeRequest(c.id, seq, frame)
	req.ClientHost = c.host
	return req, corr, 4 + int(n), err
}

// reserve waits until a request of n bytes fits in the connection's
// in-flight bytes (MaxInflightBytesPerConn), or nothing is in flight, and
// counts it; the writer releases it when the request is answered. While
// the reader waits, the client's bytes stay in the socket: TCP holds the
// client back, as Kafka's muting of a busy connection does.
func (c *conn) reserve(n int) error {
	for {
		c.mu.Lock()
		if c.bytes == 0 || c.bytes+n <= c.b.opts.MaxInflightBytesPerConn {
			c.bytes += n
			c.mu.Unlock()
			return nil
		}
		// No read deadline while waiting: the requests in flight are the
		// connection's activity.
		c.nc.SetReadDeadline(time.Time{})
		c.mu.Unlock()
		select {
		case <-c.freed:
		case <-c.done:
			return net.ErrClosed
		}
	}
}

// armIdle sets the read deadline for the next request: the idle timeout
// from now when nothing is in flight (the one slot taken is the reader's,
// for the request it waits for), none otherwise. The reader calls it when
// it takes a slot and the writer when it frees one that leaves only the
// reader's; both under c.mu, so the later call, which sees the current
// count, decides. (Checked only when the reader takes its slot, a
// connection that sent one request and then nothing was never closed: the
// reader takes the next slot while the first request is in flight.)
func (c *conn) armIdle() {
	if len(c.slots) == 1 {
		c.nc.SetReadDeadline(time.Now().Add(c.b.opts.IdleTimeout))
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
}

// decodeRequest parses a request header and body with kbin and kmsg.
func decodeRequest(connID, seq uint64, frame []byte) (node.Request, int32, error) {
	rd := kbin.Reader{Src: frame}
	key, version, corr := rd.Int16(), rd.Int16(), rd.Int32()
	clientID := rd.NullableString()
	if !rd.Ok() {
		return node.Request{}, 0, fmt.Errorf("malformed request header")
	}
	out := node.Request{Conn: connID, Seq: seq, Key: key, Version: version}
	if clientID != nil {
		out.ClientID = *clientID
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return out, corr, fmt.Errorf("request for unknown API key %d (version %d, client %q)", key, version, out.ClientID)
	}
	if version < 0 || version > req.MaxVersion() {
		if key == 18 { // ApiVersions: answered at v0 with the supported table
			return out, corr, nil
		}
		return out, corr, fmt.Errorf("request for API key %d at version %d, beyond what sluice can encode (max %d)", key, version, req.MaxVersion())
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		kmsg.SkipTags(&rd)
	}
	if !rd.Ok() {
		return node.Request{}, 0, fmt.Errorf("malformed request header")
	}
	if err := req.ReadFrom(rd.Src); err != nil {
		return out, corr, fmt.Errorf("malformed %s v%d request: %w", kmsg.NameForKey(key), version, err)
	}
	out.Msg = req
	return out, corr, nil
}

// inflight is what the writer needs of a request it has not answered.
type inflight struct {
	corr  int32
	key   int16
	size  int // the request frame's bytes
	start time.Time
}

// deliver hands the writer a response from the loop.
func (c *conn) deliver(r node.Response) {
	c.mu.Lock()
	c.ready[r.Seq] = r
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes responses in request order.
func (c *conn) writeLoop() {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		for {
			c.mu.Lock()
			r, ok := c.ready[c.next]
			var in inflight
			if ok {
				delete(c.ready, c.next)
				in = c.corr[c.next]
				delete(c.corr, c.next)
				c.next++
			}
			c.mu.Unlock()
			if !ok {
				break
			}
			c.mu.Lock()
			<-c.slots
			if len(c.slots) == 1 {
				c.armIdle()
			}
			c.bytes -= in.size
			c.mu.Unlock()
			select {
			case c.freed <- struct{}{}:
			default:
			}
			out := 0
			if r.Msg != nil {
				buf = encodeResponse(buf[:0], in.corr, r)
				if _, err := w.Write(buf); err != nil {
					c.close()
					return
				}
				out = len(buf)
			}
			c.b.reqs.done(in.key, in.size, out, in.start)
			if r.Close {
				w.Flush()
				c.b.log.Info("closing a client connection after a failed acks=0 produce", "remote", c.nc.RemoteAddr().String())
				c.close()
				return
			}
		}
		if err := w.Flush(); err != nil {
			c.close()
			return
		}
		if cap(buf) > 1<<20 {
			buf = nil // do not pin a large fetch's buffer
		}
	}
}

// encodeResponse frames a response: size, correlation id, header tags
// (flexible versions, except ApiVersions, whose response header is always
// v0), body.
func encodeResponse(dst []byte, corr int32, r node.Response) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = kbin.AppendInt32(dst, corr)
	if r.Msg.IsFlexible() && r.Key != 18 {
		dst = append(dst, 0) // no tagged fields
	}
	dst = r.Msg.AppendTo(dst)
	binary.BigEndian.PutUint32(dst, uint32(len(dst)-4))
	return dst
}
