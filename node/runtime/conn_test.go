package runtime_test

// Connection handling (conn.go) over raw TCP: the frame size bound read
// before the frame, malformed frames and unknown APIs closing only their
// own connection, the idle timeout, the in-flight bound, and acks=0
// failures closing the connection.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node"
	"sluice/node/runtime"
)

// logLines is a slog handler that keeps every record's message and
// attributes as one line.
type logLines struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

func newLogLines() logLines { return logLines{mu: &sync.Mutex{}, lines: new([]string)} }

func (l logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l logLines) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range l.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	*l.lines = append(*l.lines, b.String())
	l.mu.Unlock()
	if os.Getenv("SLUICE_TEST_LOG") != "" {
		os.Stderr.WriteString(b.String() + "\n")
	}
	return nil
}
func (l logLines) WithAttrs(as []slog.Attr) slog.Handler {
	l.attrs = append(append([]slog.Attr(nil), l.attrs...), as...)
	return l
}
func (l logLines) WithGroup(string) slog.Handler { return l }

// matching returns the lines that contain every one of subs.
func (l logLines) matching(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, s := range *l.lines {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// startOne starts a one-broker cluster with opts' connection settings and
// waits until it has a controller.
func startOne(t *testing.T, opts runtime.Options) (*runtime.Broker, logLines) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(p)
	dir := t.TempDir()
	id, err := runtime.LoadIdentity(dir, 1, runtime.NewClusterID())
	if err != nil {
		t.Fatal(err)
	}
	logs := newLogLines()
	opts.ID, opts.Listener, opts.DataDir, opts.Net = 1, ln, dir, runtime.NewLocalNet()
	opts.Brokers = []node.Broker{{ID: 1, Host: "127.0.0.1", Port: int32(port)}}
	opts.Logger = slog.New(logs)
	opts.MinFreeBytes = -1
	b, err := runtime.Start(opts, id)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	waitFor(t, 30*time.Second, "a controller", func() bool { return b.Controller() >= 0 })
	return b, logs
}

// rawConn is a client connection that writes frames by hand.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send writes req as a framed request with correlation id corr.
func (c *rawConn) send(req kmsg.Request, corr int32) {
	c.t.Helper()
	c.write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, corr))
}

// recv reads one response frame (within d) and returns its correlation id
// and the bytes after it.
func (c *rawConn) recv(d time.Duration) (int32, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return 0, nil, err
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.r, frame); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(frame)), frame[4:], nil
}

// apiVersions checks the connection still serves: an ApiVersions request
// is answered.
func (c *rawConn) apiVersions(corr int32) {
	c.t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	c.send(req, corr)
	got, body, err := c.recv(10 * time.Second)
	if err != nil {
		c.t.Fatalf("ApiVersions on a healthy connection: %v", err)
	}
	if got != corr {
		c.t.Fatalf("ApiVersions answered with correlation id %d, want %d", got, corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	if err := resp.ReadFrom(body); err != nil || resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		c.t.Fatalf("ApiVersions response: err %v code %d, %d keys", err, resp.ErrorCode, len(resp.ApiKeys))
	}
}

// expectClosed checks that the broker closes the connection within d
// without answering.
func (c *rawConn) expectClosed(what string, d time.Duration) {
	c.t.Helper()
	corr, _, err := c.recv(d)
	var ne net.Error
	switch {
	case err == nil:
		c.t.Errorf("%s: answered (correlation id %d); want the connection closed", what, corr)
	case errors.As(err, &ne) && ne.Timeout():
		c.t.Errorf("%s: connection still open after %v; want it closed", what, d)
	case !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "connection reset"):
		c.t.Errorf("%s: read error %v; want the connection closed by the broker", what, err)
	}
}

// A frame over socket.request.max.bytes, or malformed, or of an API kmsg
// does not know, closes its own connection with a log line (the size is
// refused from the 4-byte prefix alone: the broker neither waits for nor
// allocates the body); another client's connection keeps being served.
func TestConnBadFramesCloseOnlyTheirConnection(t *testing.T) {
	b, logs := startOne(t, runtime.Options{MaxRequestBytes: 1 << 20})
	good := dialRaw(t, b.Addr())
	good.apiVersions(1)
	frame := func(body ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	for i, tc := range []struct {
		name  string
		bytes []byte
		log   string
	}{
		{"size over socket.request.max.bytes, body never sent", binary.BigEndian.AppendUint32(nil, 1<<20+1), "socket.request.max.bytes"},
		{"size of 1 GiB, body never sent", binary.BigEndian.AppendUint32(nil, 1<<30), "socket.request.max.bytes"},
		{"negative size", []byte{0x80, 0, 0, 0}, "socket.request.max.bytes"},
		{"size below a header", frame(0, 18, 0), "socket.request.max.bytes"},
		{"truncated client id", frame(0, 3, 0, 1, 0, 0, 0, 9, 0, 40, 'a'), "malformed request header"},
		{"truncated Metadata body", frame(0, 3, 0, 1, 0, 0, 0, 9, 255, 255, 0, 0, 0), "malformed Metadata v1"},
		{"unknown API key", frame(0x7f, 0x7f, 0, 0, 0, 0, 0, 9, 255, 255), "unknown API key 32639"},
		{"Produce v99", frame(0, 0, 0, 99, 0, 0, 0, 9, 255, 255), "beyond what sluice can encode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := dialRaw(t, b.Addr())
			bad.write(tc.bytes)
			bad.expectClosed(tc.name, 10*time.Second)
			waitFor(t, 5*time.Second, "the log line", func() bool {
				return len(logs.matching("closing a client connection", tc.log)) > 0
			})
			good.apiVersions(int32(100 + i))
		})
	}
}

// A connection with nothing in flight for IdleTimeout is closed, also
// after a long poll answered; one with a request parked longer than that
// is not.
func TestConnIdleTimeout(t *testing.T) {
	const idle = 400 * time.Millisecond
	b, _ := startOne(t, runtime.Options{IdleTimeout: idle})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ct := kmsg.NewPtrCreateTopicsRequest()
	tp := kmsg.NewCreateTopicsRequestTopic()
	tp.Topic, tp.NumPartitions, tp.ReplicationFactor = "idle", 1, 1
	ct.Topics = append(ct.Topics, tp)
	if _, err := ct.RequestWith(testCtx(t, 30*time.Second), cl); err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}

	t.Run("silent after connecting", func(t *testing.T) {
		c := dialRaw(t, b.Addr())
		start := time.Now()
		c.expectClosed("a silent connection", 10*time.Second)
		if el := time.Since(start); el < idle-50*time.Millisecond {
			t.Errorf("closed after %v, before the idle timeout %v", el, idle)
		}
	})
	t.Run("silent after a request", func(t *testing.T) {
		c := dialRaw(t, b.Addr())
		c.apiVersions(1)
		c.expectClosed("a connection silent after one request", 10*time.Second)
	})
	t.Run("long poll outlasts the idle timeout, then silence", func(t *testing.T) {
		c := dialRaw(t, b.Addr())
		c.waitLeader("idle", 1)
		c.send(fetchAt("idle", 0, 3*idle), 2)
		start := time.Now()
		corr, _, err := c.recv(10 * time.Second)
		if err != nil || corr != 2 {
			t.Fatalf("a fetch parked for %v: correlation id %d, err %v; want its answer", 3*idle, corr, err)
		}
		// (The core's clock moves by 100 ms ticks: a MaxWait may end up to
		// a tick early.)
		if el := time.Since(start); el < 2*idle {
			t.Errorf("long poll answered after %v; its MaxWait is %v", el, 3*idle)
		}
		// The answered long poll leaves nothing in flight: idle again.
		c.expectClosed("a connection silent after its long poll was answered", 10*time.Second)
	})
}

// fetchAt is a Fetch v4 of topic/partition 0 from offset 0 that waits up
// to wait for one byte.
// waitLeader waits until topic's partition 0 has a leader: a fetch on c,
// with correlation id corr, answers NONE then.
func (c *rawConn) waitLeader(topic string, corr int32) {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, "a leader for "+topic+"/0", func() bool {
		c.send(fetchAt(topic, 0, 0), corr)
		_, body, err := c.recv(10 * time.Second)
		if err != nil {
			c.t.Fatalf("fetch: %v", err)
		}
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 4
		return resp.ReadFrom(body) == nil && len(resp.Topics) == 1 && resp.Topics[0].Partitions[0].ErrorCode == 0
	})
}

func fetchAt(topic string, p int32, wait time.Duration) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 4, -1, int32(wait.Milliseconds()), 1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = p, 1<<20, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// MaxInflightPerConn bounds the requests read from one connection: with a
// bound of 2 and three long polls pipelined, the third is read only when
// the first is answered, so it is answered a whole MaxWait later.
func TestConnInflightBound(t *testing.T) {
	const wait = 600 * time.Millisecond
	b, _ := startOne(t, runtime.Options{MaxInflightPerConn: 2})
	c := dialRaw(t, b.Addr())
	// An unknown topic answers at once; an empty partition of a known
	// one waits: create it.
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version, ct.TimeoutMillis = 4, 10000
	tp := kmsg.NewCreateTopicsRequestTopic()
	tp.Topic, tp.NumPartitions, tp.ReplicationFactor = "bound", 1, 1
	ct.Topics = append(ct.Topics, tp)
	c.send(ct, 1)
	if _, _, err := c.recv(30 * time.Second); err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	c.waitLeader("bound", 2)
	start := time.Now()
	for corr := int32(10); corr < 13; corr++ {
		c.send(fetchAt("bound", 0, wait), corr)
	}
	var at []time.Duration
	for corr := int32(10); corr < 13; corr++ {
		got, _, err := c.recv(10 * time.Second)
		if err != nil || got != corr {
			t.Fatalf("long poll %d: correlation id %d, err %v", corr, got, err)
		}
		at = append(at, time.Since(start))
	}
	if at[2] < 2*wait-100*time.Millisecond {
		t.Errorf("the third long poll was answered after %v (the first after %v); with 2 in flight it cannot be read before the first is answered, so not before %v",
			at[2], at[0], 2*wait)
	}
}

// An acks=0 produce that fails closes its connection (as Kafka does: the
// client learns of the failure only that way); one that succeeds is not
// answered, and the next request on the connection is.
func TestConnAcksZero(t *testing.T) {
	b, logs := startOne(t, runtime.Options{})
	produce := func(topic string) *kmsg.ProduceRequest {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, 0, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = recordBatch("v")
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	}
	c := dialRaw(t, b.Addr())
	rawWaitLeader(t, c, "acks0")
	c.send(produce("acks0"), 2)
	c.apiVersions(3) // the produce was not answered: the next answer is ApiVersions'

	bad := dialRaw(t, b.Addr())
	bad.send(produce("no-such-topic"), 4)
	bad.expectClosed("a failed acks=0 produce", 10*time.Second)
	if len(logs.matching("closing a client connection after a failed acks=0 produce")) == 0 {
		t.Error("no log line for the connection closed after a failed acks=0 produce")
	}
	c.apiVersions(5)
}

// recordBatch is a one-record magic-2 batch with value v.
func recordBatch(v string) []byte {
	rec := kmsg.Record{Value: []byte(v)}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // the length's own varint (0) is one byte
	rb := kmsg.RecordBatch{Magic: 2, FirstTimestamp: 1, MaxTimestamp: 1,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: rec.AppendTo(nil)}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// Beyond MaxConnections a new client connection is closed at once with a
// log line, the open ones keep being served, and a slot freed by a closed
// connection takes a new one.
func TestConnMaxConnections(t *testing.T) {
	b, logs := startOne(t, runtime.Options{MaxConnections: 2})
	first, second := dialRaw(t, b.Addr()), dialRaw(t, b.Addr())
	first.apiVersions(1)
	second.apiVersions(1)
	third := dialRaw(t, b.Addr())
	third.expectClosed("a connection beyond max connections", 10*time.Second)
	if got := logs.matching("too many open"); len(got) == 0 {
		t.Error("no log line for the refused connection")
	}
	first.apiVersions(2)
	second.apiVersions(2)

	first.nc.Close()
	// The broker notices the close when its reader fails; until then the
	// slot is still taken.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dialRaw(t, b.Addr())
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		c.send(req, 7)
		if _, _, err := c.recv(2 * time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection accepted after one of the two closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	second.apiVersions(3)
}
