package tcp

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"sluice/transport"
)

var (
	clusterA = [16]byte{0xa}
	clusterB = [16]byte{0xb}
)

// recorder is a Reporter keeping each report as a line of text.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Unreachable(g transport.GroupID, node uint64) {
	r.add(fmt.Sprintf("unreachable %v %d", g, node))
}

func (r *recorder) SnapshotStatus(g transport.GroupID, node uint64, ok bool) {
	r.add(fmt.Sprintf("snapshot %v %d ok=%v", g, node, ok))
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

// take returns and forgets the reports so far.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testNode is one transport with what it received and reported.
type testNode struct {
	id   uint64
	tr   *Transport
	rec  *recorder
	got  chan transport.Batch
	logs *logBuffer
	cfg  Config
}

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	// Listening again on a stopped broker's port can fail for a moment:
	// the port came from the ephemeral range, and a redial (or another
	// test) may hold it briefly. Try for a while before failing.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startNode starts broker id listening on ln with peers; edit adjusts its
// config.
func startNode(t testing.TB, id uint64, ln net.Listener, peers map[uint64]string, edit func(*Config)) *testNode {
	t.Helper()
	n := &testNode{id: id, rec: &recorder{}, got: make(chan transport.Batch, 1024), logs: &logBuffer{}}
	n.cfg = Config{
		ID: id, ClusterID: clusterA, Incarnation: [16]byte{byte(id)},
		Listener: ln, Peers: peers, Reporter: n.rec,
		Logger:     slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		Deliver: func(b transport.Batch) bool {
			select {
			case n.got <- b:
				return true
			default:
				return false
			}
		},
	}
	if edit != nil {
		edit(&n.cfg)
	}
	tr, err := New(n.cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.tr = tr
	t.Cleanup(func() { tr.Close() })
	return n
}

// pair starts brokers 1 and 2, each a peer of the other.
func pair(t testing.TB, edit func(*Config)) (*testNode, *testNode) {
	t.Helper()
	l1, l2 := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	n1 := startNode(t, 1, l1, map[uint64]string{2: l2.Addr().String()}, edit)
	n2 := startNode(t, 2, l2, map[uint64]string{1: l1.Addr().String()}, edit)
	return n1, n2
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// next returns the next batch n received that is not only an incarnation
// announcement.
func (n *testNode) next(t testing.TB) transport.Batch {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b := <-n.got:
			if len(b.Msgs)+len(b.Leaders)+len(b.Forwards) > 0 || len(b.Incarnations) != 1 || b.Incarnations[0].Node != b.From {
				return b
			}
		case <-timeout:
			t.Fatalf("broker %d received nothing", n.id)
		}
	}
}

func TestSendAndDeliver(t *testing.T) {
	n1, n2 := pair(t, nil)
	waitFor(t, "connections", func() bool { return n1.tr.Connected(2) && n2.tr.Connected(1) })

	// First comes the dialer's incarnation.
	inc := <-n2.got
	want := transport.Incarnation{Node: 1, ClusterID: clusterA, Incarnation: [16]byte{1}}
	if inc.From != 1 || inc.To != 2 || len(inc.Incarnations) != 1 || !reflect.DeepEqual(inc.Incarnations[0], want) {
		t.Fatalf("first delivery %+v, want the incarnation %+v", inc, want)
	}

	// A batch with everything: the MsgSnap is streamed and arrives on its
	// own after the rest.
	b := fullBatch(1, 2)
	n1.tr.Send(b)
	rest := b
	rest.Msgs = slices.Clone(b.Msgs[:5])
	equalBatch(t, n2.next(t), rest)
	equalBatch(t, n2.next(t), transport.Batch{From: 1, To: 2, Msgs: b.Msgs[5:]})

	// A snapshot of several chunks, and traffic the other way meanwhile.
	big := snap(1, 2, 3*snapshotChunkBytes+5)
	n1.tr.Send(transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g3, Msg: big}}})
	n2.tr.Send(transport.Batch{From: 2, To: 1, Msgs: []transport.Envelope{{Group: g1, Msg: msg(raftpb.MsgAppResp, 2, 1, 7)}}})
	equalBatch(t, n2.next(t), transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g3, Msg: big}}})
	if got := n1.next(t); got.Msgs[0].Msg.GetIndex() != 7 {
		t.Fatalf("broker 1 received %v", got.Msgs[0].Msg)
	}
	waitFor(t, "snapshot reports", func() bool { return n1.rec.len() == 2 })
	if ev := n1.rec.take(); !slices.Equal(ev, []string{"snapshot " + g2.String() + " 2 ok=true", "snapshot " + g3.String() + " 2 ok=true"}) {
		t.Fatalf("broker 1 heard %q, want both snapshots reported sent", ev)
	}
	s1, s2 := n1.tr.Stats(), n2.tr.Stats()
	if s1.SnapshotsSent != 2 || s2.SnapshotsReceived != 2 || s1.BatchesDropped != 0 || s2.MalformedFrames != 0 ||
		s2.FramesReceived < 6 || s2.BatchesDelivered != 4 || s1.BytesSent != s2.BytesReceived {
		t.Fatalf("stats: sender %+v, receiver %+v", s1, s2)
	}
}

func TestRefusesAnotherCluster(t *testing.T) {
	n1, n2 := pair(t, func(c *Config) {
		if c.ID == 2 {
			c.ClusterID = clusterB
		}
	})
	waitFor(t, "refusals", func() bool {
		return n1.tr.Stats().RefusedHandshakes >= 2 && n2.tr.Stats().RefusedHandshakes >= 2
	})
	// The counter moves before the dialer logs, so wait for the lines too
	// (waitFor fails the test if they never come).
	for _, n := range []*testNode{n1, n2} {
		waitFor(t, fmt.Sprintf("broker %d logging its refusal and being refused", n.id), func() bool {
			s := n.logs.String()
			return strings.Contains(s, "refused a broker of another cluster") && strings.Contains(s, "belongs to cluster")
		})
	}
	if n1.tr.Connected(2) || n2.tr.Connected(1) {
		t.Fatal("brokers of two clusters connected")
	}
	n1.tr.Send(transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g1, Msg: msg(raftpb.MsgHeartbeat, 1, 2, 0)}}})
	if ev := n1.rec.take(); !slices.Equal(ev, []string{"unreachable " + g1.String() + " 2"}) {
		t.Fatalf("broker 1 heard %q", ev)
	}
	select {
	case b := <-n2.got:
		t.Fatalf("broker 2 received %+v from another cluster", b)
	default:
	}
}

// stalledPeer accepts one connection as broker id of clusterA, answers the
// handshake and then reads nothing, so the sender's socket and queue fill.
// Closing the returned connection breaks the link.
func stalledPeer(t *testing.T, id uint64) (addr string, conn func() net.Conn) {
	ln := listen(t, "127.0.0.1:0")
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { c.Close() })
		h, err := readHello(c)
		if err != nil {
			return
		}
		reply := hello{version: protocolVersion, from: id, to: h.from, clusterID: clusterA}
		b := reply.encode()
		c.Write(b[:])
		ch <- c
	}()
	return ln.Addr().String(), func() net.Conn { return <-ch }
}

func TestQueueFullDropsAndReports(t *testing.T) {
	addr, conn := stalledPeer(t, 2)
	n1 := startNode(t, 1, nil, map[uint64]string{2: addr}, func(c *Config) {
		c.MaxQueueBytes = 40 << 20
		c.WriteTimeout = time.Minute
	})
	waitFor(t, "connection", func() bool { return n1.tr.Connected(2) })
	c := conn()

	// A snapshot larger than the socket buffers: its stream stays in
	// flight, the writer blocked.
	n1.tr.Send(transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g3, Msg: snap(1, 2, 32<<20)}}})
	filler := transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g1, Msg: app(1, 2, 1, 16<<10)}}}
	for i := 0; n1.rec.len() == 0; i++ {
		if i > 10000 {
			t.Fatal("the queue never filled")
		}
		n1.tr.Send(filler)
	}
	if ev := n1.rec.take(); !slices.Equal(ev, []string{"unreachable " + g1.String() + " 2"}) {
		t.Fatalf("a full queue reported %q", ev)
	}

	// The queue is full: a batch at least as large as the filler is
	// dropped whole, each group reported once, each MsgSnap failed. (The
	// kernel may still take a little more of the stream meanwhile, making
	// room for a probe or two; an accepted probe reports nothing.)
	probe := transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{
		{Group: g1, Msg: app(1, 2, 2, 16<<10)},
		{Group: g2, Msg: snap(1, 2, 10)},
		{Group: g1, Msg: msg(raftpb.MsgHeartbeat, 1, 2, 0)},
	}}
	want := []string{"unreachable " + g1.String() + " 2", "unreachable " + g2.String() + " 2", "snapshot " + g2.String() + " 2 ok=false"}
	accepted := 0
	for ; ; accepted++ {
		if accepted > 1000 {
			t.Fatal("the full queue kept accepting probes")
		}
		n1.tr.Send(probe)
		ev := n1.rec.take()
		if len(ev) == 0 {
			continue
		}
		if !slices.Equal(ev, want) {
			t.Fatalf("dropping %d messages reported\n%s\nwant\n%s", len(probe.Msgs), strings.Join(ev, "\n"), strings.Join(want, "\n"))
		}
		break
	}
	dropped := n1.tr.Stats().BatchesDropped

	// The peer goes away: everything in flight or queued is reported lost,
	// each group once.
	c.Close()
	waitFor(t, "the failure", func() bool { return !n1.tr.Connected(2) })
	want = []string{"unreachable " + g1.String() + " 2", "unreachable " + g3.String() + " 2", "snapshot " + g3.String() + " 2 ok=false"}
	snaps := uint64(1)
	if accepted > 0 { // a queued probe's snapshot is lost too
		want = append(want, "unreachable "+g2.String()+" 2", "snapshot "+g2.String()+" 2 ok=false")
		snaps = uint64(1 + accepted)
	}
	// The lost queue is reported after the connection is marked down.
	waitFor(t, "the losses reported", func() bool { return n1.rec.len() >= len(want) })
	ev := n1.rec.take()
	slices.Sort(ev)
	slices.Sort(want)
	if accepted > 1 { // several queued probes: a snapshot report each
		ev = slices.Compact(ev)
	}
	if !slices.Equal(ev, want) {
		t.Fatalf("a broken connection reported\n%s\nwant\n%s", strings.Join(ev, "\n"), strings.Join(want, "\n"))
	}
	s := n1.tr.Stats()
	if s.BatchesDropped <= dropped+1 || s.SnapshotsDropped != snaps {
		t.Fatalf("stats after the failure: %+v", s)
	}
}

func TestReconnectAfterPeerRestart(t *testing.T) {
	n1, n2 := pair(t, nil)
	addr2 := n2.tr.Addr().String()
	hb := func(from, to, i uint64) transport.Batch {
		return transport.Batch{From: from, To: to, Msgs: []transport.Envelope{{Group: g1, Msg: msg(raftpb.MsgHeartbeat, from, to, i)}}}
	}
	// Both ways: broker 1 learns broker 2's first incarnation from 2's
	// connection, which must be up before 2 stops (a slow dial under load
	// otherwise leaves broker 1 with only the second).
	waitFor(t, "connections", func() bool { return n1.tr.Connected(2) && n2.tr.Connected(1) })
	n1.tr.Send(hb(1, 2, 1))
	if b := n2.next(t); b.Msgs[0].Msg.GetIndex() != 1 {
		t.Fatalf("received %v", b.Msgs[0].Msg)
	}

	n2.tr.Close()
	waitFor(t, "broker 1 to notice", func() bool { return !n1.tr.Connected(2) })
	n1.tr.Send(hb(1, 2, 2))
	if ev := n1.rec.take(); !slices.Equal(ev, []string{"unreachable " + g1.String() + " 2"}) {
		t.Fatalf("sending to a stopped peer reported %q", ev)
	}

	// Broker 2 comes back on the same address, its disk wiped: a new
	// incarnation, which broker 1 learns from 2's connection.
	n2b := startNode(t, 2, listen(t, addr2), map[uint64]string{1: n1.tr.Addr().String()}, func(c *Config) { c.Incarnation = [16]byte{0xee} })
	waitFor(t, "reconnection", func() bool { return n1.tr.Connected(2) && n2b.tr.Connected(1) })
	n1.tr.Send(hb(1, 2, 3))
	if b := n2b.next(t); b.Msgs[0].Msg.GetIndex() != 3 {
		t.Fatalf("received %v after the restart", b.Msgs[0].Msg)
	}
	// Announcements arrive on broker 2's connection to broker 1, which may
	// finish its handshake a moment after Connected reports both ways.
	var incs []transport.Incarnation
	waitFor(t, "both incarnations", func() bool {
		for len(n1.got) > 0 {
			incs = append(incs, (<-n1.got).Incarnations...)
		}
		return len(incs) >= 2
	})
	if len(incs) != 2 || incs[0].Incarnation != [16]byte{2} || incs[1].Incarnation != [16]byte{0xee} {
		t.Fatalf("broker 1 learned incarnations %+v, want broker 2's old then new", incs)
	}
	if s := n1.tr.Stats(); s.Dials < 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMalformedFrameClosesOnlyItsConnection(t *testing.T) {
	n1, n2 := pair(t, nil)
	waitFor(t, "connection", func() bool { return n1.tr.Connected(2) })

	c := dialAsBroker3(t, n2.tr.Addr().String())
	c.Write([]byte{0, 0, 0, 3, protocolVersion, kindBatch, 0xff})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after a malformed frame the connection gave %v, want EOF", err)
	}
	if s := n2.tr.Stats(); s.MalformedFrames != 1 {
		t.Fatalf("stats %+v", s)
	}
	if !strings.Contains(n2.logs.String(), "malformed frame") {
		t.Fatalf("no log line:\n%s", n2.logs)
	}

	// A stranger that is not speaking the protocol at all.
	c2, err := net.Dial("tcp", n2.tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write(bytes.Repeat([]byte("GET / HTTP/1.1\r\n"), 4))
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Fatalf("a stranger's connection gave %v, want it closed", err)
	}

	// Broker 1's connection was never disturbed.
	n1.tr.Send(transport.Batch{From: 1, To: 2, Leaders: []transport.LeaderInfo{{Group: g2, Term: 4, Leader: 1}}})
	if got := n2.next(t); len(got.Leaders) != 1 || got.Leaders[0].Term != 4 {
		t.Fatalf("received %+v", got)
	}
	if s := n2.tr.Stats(); s.MalformedFrames != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSendWithoutConnection(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nobody listens there
	n1 := startNode(t, 1, nil, map[uint64]string{2: addr}, nil)
	b := transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{
		{Group: g1, Msg: msg(raftpb.MsgHeartbeat, 1, 2, 0)},
		{Group: g2, Msg: snap(1, 2, 10)},
		{Group: g1, Msg: msg(raftpb.MsgApp, 1, 2, 0)},
	}}
	n1.tr.Send(b)
	want := []string{"unreachable " + g1.String() + " 2", "unreachable " + g2.String() + " 2", "snapshot " + g2.String() + " 2 ok=false"}
	if ev := n1.rec.take(); !slices.Equal(ev, want) {
		t.Fatalf("peer down reported %q, want %q", ev, want)
	}
	b.To = 9 // unknown
	for i := range b.Msgs {
		b.Msgs[i].Msg.To = new(uint64(9))
	}
	n1.tr.Send(b)
	if ev := n1.rec.take(); len(ev) != 3 || !strings.HasSuffix(ev[0], " 9") {
		t.Fatalf("unknown peer reported %q", ev)
	}
	n1.tr.Send(transport.Batch{From: 1, To: 2}) // nothing: ignored
	// The counter moves before the line is logged: wait for both.
	waitFor(t, "a failed dial, logged", func() bool {
		return n1.tr.Stats().DialFailures > 0 && strings.Contains(n1.logs.String(), "cannot reach peer")
	})
	if s := n1.tr.Stats(); s.BatchesDropped != 2 {
		t.Fatalf("stats %+v", s)
	}
	n1.tr.Close()
	b.Msgs[0].Msg.To = new(uint64(2))
	n1.tr.Send(transport.Batch{From: 1, To: 2, Msgs: b.Msgs[:1]})
	if ev := n1.rec.take(); len(ev) != 0 {
		t.Fatalf("a closed transport reported %q", ev)
	}
}

func TestSendPanicsOnBadBatch(t *testing.T) {
	n1 := startNode(t, 1, nil, nil, nil)
	for _, b := range []transport.Batch{
		{From: 2, To: 3},
		{From: 1, To: 1},
		{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g1}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Send(%+v) did not panic", b)
				}
			}()
			n1.tr.Send(b)
		}()
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{
		{},
		{ID: 1, Listener: listen(t, "127.0.0.1:0")},
		{ID: 1, MaxFrameBytes: 100},
		{ID: 1, Peers: map[uint64]string{1: "x"}},
		{ID: 1, BackoffMin: time.Second, BackoffMax: time.Millisecond},
	} {
		if tr, err := New(c); err == nil {
			tr.Close()
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

func TestBackoff(t *testing.T) {
	// The jitter is the injected source's draw modulo half the wait plus one:
	// draw 0 waits the lower end, the largest draw its own remainder, so the
	// waits below are exact and a backoff that ignored Config.Rand fails.
	var draw uint64
	calls := 0
	tr := &Transport{cfg: Config{BackoffMin: 10 * time.Millisecond, BackoffMax: time.Second, Rand: func() uint64 {
		calls++
		return draw
	}}}
	for _, tt := range []struct {
		failures int
		base     time.Duration
	}{{1, 10 * time.Millisecond}, {2, 20 * time.Millisecond}, {5, 160 * time.Millisecond}, {8, time.Second}, {64, time.Second}} {
		half := tt.base / 2
		for _, d := range []uint64{0, 1, 12345, uint64(half), ^uint64(0)} {
			draw = d
			want := tt.base - half + time.Duration(d%uint64(half+1))
			if got := tr.backoff(tt.failures); got != want {
				t.Errorf("backoff after %d failures with draw %d = %v, want %v", tt.failures, d, got, want)
			}
			if want < half || want > tt.base {
				t.Fatalf("test bug: %v outside [%v, %v]", want, half, tt.base)
			}
		}
	}
	if calls != 25 {
		t.Errorf("Rand called %d times for 25 waits", calls)
	}
}

// TestSnapshotsStreamAtMostFourAtOnce: six multi-chunk snapshots sent at
// once all arrive whole, and the sender never opens more streams than the
// receiver allows (it would close the connection as malformed).
func TestSnapshotsStreamAtMostFourAtOnce(t *testing.T) {
	n1, n2 := pair(t, func(c *Config) { c.MaxFrameBytes = minMaxFrameBytes })
	waitFor(t, "connection", func() bool { return n1.tr.Connected(2) })
	b := transport.Batch{From: 1, To: 2}
	for i := range 6 {
		g := transport.GroupID{TopicID: [16]byte{0x5e}, Partition: int32(i)}
		b.Msgs = append(b.Msgs, transport.Envelope{Group: g, Msg: snap(1, 2, 5*minMaxFrameBytes+i)})
	}
	n1.tr.Send(b)
	got := map[transport.GroupID]bool{}
	for range len(b.Msgs) {
		r := n2.next(t)
		if len(r.Msgs) != 1 || r.Msgs[0].Msg.GetType() != raftpb.MsgSnap {
			t.Fatalf("received %+v, want one MsgSnap", r)
		}
		i := r.Msgs[0].Group.Partition
		equalBatch(t, r, transport.Batch{From: 1, To: 2, Msgs: b.Msgs[i : i+1]})
		got[r.Msgs[0].Group] = true
	}
	if len(got) != len(b.Msgs) {
		t.Fatalf("received snapshots of %d groups, want %d", len(got), len(b.Msgs))
	}
	waitFor(t, "snapshot reports", func() bool { return n1.rec.len() == len(b.Msgs) })
	for _, ev := range n1.rec.take() {
		if !strings.HasSuffix(ev, " 2 ok=true") {
			t.Fatalf("broker 1 heard %q", ev)
		}
	}
	s1, s2 := n1.tr.Stats(), n2.tr.Stats()
	if s1.SnapshotsSent != 6 || s2.SnapshotsReceived != 6 || s2.MalformedFrames != 0 || s2.FramesReceived < 6*5 {
		t.Fatalf("stats: sender %+v, receiver %+v", s1, s2)
	}
}

// TestTooLargeDroppedAndReported: a raft message larger than a frame and a
// snapshot larger than MaxSnapshotBytes are dropped by the writer and
// reported; what else the batch holds is delivered.
func TestTooLargeDroppedAndReported(t *testing.T) {
	n1, n2 := pair(t, func(c *Config) {
		c.MaxFrameBytes = minMaxFrameBytes
		c.MaxSnapshotBytes = 100 << 10
	})
	waitFor(t, "connection", func() bool { return n1.tr.Connected(2) })
	n1.tr.Send(transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{
		{Group: g1, Msg: app(1, 2, 1, 2*minMaxFrameBytes)},
		{Group: g2, Msg: snap(1, 2, 200<<10)},
		{Group: g3, Msg: msg(raftpb.MsgHeartbeat, 1, 2, 0)},
	}})
	if got := n2.next(t); len(got.Msgs) != 1 || got.Msgs[0].Group != g3 {
		t.Fatalf("received %+v, want only g3's heartbeat", got)
	}
	want := []string{"unreachable " + g1.String() + " 2", "unreachable " + g2.String() + " 2", "snapshot " + g2.String() + " 2 ok=false"}
	waitFor(t, "the drops reported", func() bool { return n1.rec.len() >= len(want) })
	ev := n1.rec.take()
	slices.Sort(ev)
	slices.Sort(want)
	if !slices.Equal(ev, want) {
		t.Fatalf("broker 1 heard\n%s\nwant\n%s", strings.Join(ev, "\n"), strings.Join(want, "\n"))
	}
	if s := n1.tr.Stats(); s.ItemsTooLarge != 2 || s.SnapshotsDropped != 1 || s.SnapshotsSent != 0 {
		t.Fatalf("stats %+v", s)
	}
	if !strings.Contains(n1.logs.String(), "raft message larger than a frame dropped") {
		t.Fatalf("no log line for the large message:\n%s", n1.logs)
	}
	select {
	case b := <-n2.got:
		t.Fatalf("broker 2 received %+v", b)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestRefusesWrongIdentity: a broker dialed as another broker id refuses
// the connection, and both sides log why.
func TestRefusesWrongIdentity(t *testing.T) {
	l2 := listen(t, "127.0.0.1:0")
	n2 := startNode(t, 2, l2, nil, nil)
	n1 := startNode(t, 1, nil, map[uint64]string{3: l2.Addr().String()}, nil) // 3's address is 2's
	// Each side counts the refusal: the dialer before it logs, the acceptor
	// after it has answered, so possibly after the dialer's line.
	waitFor(t, "the refusal logged and counted on both sides", func() bool {
		return strings.Contains(n2.logs.String(), "refused a broker with a wrong identity") &&
			strings.Contains(n1.logs.String(), "refused this broker's identity") &&
			n1.tr.Stats().RefusedHandshakes > 0 && n2.tr.Stats().RefusedHandshakes > 0
	})
	if n1.tr.Connected(3) {
		t.Fatal("broker 1 connected to broker 2 as broker 3")
	}
	if s := n2.tr.Stats(); s.BatchesDelivered != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestNewerConnectionReplacesOlder: one connection per ordered pair; when a
// peer connects again (a restart, whose old connection may linger
// half-open), the acceptor closes the older connection and serves the new.
func TestNewerConnectionReplacesOlder(t *testing.T) {
	l2 := listen(t, "127.0.0.1:0")
	n2 := startNode(t, 2, l2, nil, nil)
	old := dialAsBroker3(t, l2.Addr().String())
	<-n2.got // its incarnation
	c := dialAsBroker3(t, l2.Addr().String())
	old.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := old.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the older connection gave %v, want EOF", err)
	}
	hb := transport.Batch{From: 3, To: 2, Msgs: []transport.Envelope{{Group: g1, Msg: msg(raftpb.MsgHeartbeat, 3, 2, 4)}}}
	c.Write(encodeBatch(t, hb, DefaultMaxFrameBytes))
	equalBatch(t, n2.next(t), hb)
}

// TestMaxInbound: with MaxInbound connections open (the peer's, and a
// stranger's still in its handshake), one more is closed at once and
// counted; the peer's traffic goes on, and a freed slot takes a new one.
func TestMaxInbound(t *testing.T) {
	n1, n2 := pair(t, func(c *Config) { c.MaxInbound = 2 })
	waitFor(t, "connection", func() bool { return n1.tr.Connected(2) })
	stranger, err := net.Dial("tcp", n2.tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	// Broker 2 has accepted broker 1's connection and the stranger's.
	waitFor(t, "two inbound", func() bool { return n2.inboundOpen() == 2 })
	extra, err := net.Dial("tcp", n2.tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Fatalf("a connection beyond MaxInbound gave %v, want it closed", err)
	}
	// The count and the log line follow the close.
	waitFor(t, "the refusal counted and logged", func() bool {
		return n2.tr.Stats().RefusedInbound == 1 && strings.Contains(n2.logs.String(), "too many open")
	})
	n1.tr.Send(transport.Batch{From: 1, To: 2, Leaders: []transport.LeaderInfo{{Group: g2, Term: 5, Leader: 1}}})
	if got := n2.next(t); len(got.Leaders) != 1 || got.Leaders[0].Term != 5 {
		t.Fatalf("received %+v", got)
	}
	stranger.Close()
	waitFor(t, "the stranger's slot freed", func() bool { return n2.inboundOpen() == 1 })
	dialAsBroker3(t, n2.tr.Addr().String()) // the freed slot serves a handshake
}

// dialAsBroker3 connects to addr and completes the handshake as broker 3
// of clusterA (to broker 2); the connection closes when the test ends.
func dialAsBroker3(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := hello{version: protocolVersion, from: 3, to: 2, clusterID: clusterA}
	b := h.encode()
	c.Write(b[:])
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, err := readHello(c)
	if err != nil || reply.status != statusOK {
		t.Fatalf("handshake as broker 3 with %s: %+v %v", addr, reply, err)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

// inboundOpen is how many accepted connections n has open.
func (n *testNode) inboundOpen() int {
	n.tr.mu.Lock()
	defer n.tr.mu.Unlock()
	return len(n.tr.inbound)
}
