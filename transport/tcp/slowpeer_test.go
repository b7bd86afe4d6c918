package tcp

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"sluice/transport"
)

// slowReader accepts one connection as broker id, answers the handshake,
// then reads continuously at about rate bytes per second.
func slowReader(t *testing.T, id uint64, chunk int, every time.Duration) string {
	addr, conn := stalledPeer(t, id)
	go func() {
		c := conn()
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(64 << 10)
		}
		buf := make([]byte, chunk)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			time.Sleep(every)
		}
	}()
	return addr
}

// A peer that takes bytes all the time (here about 3 MiB/s) keeps its
// connection however long a large round takes to drain: WriteTimeout is
// how long a peer may take no bytes (found by review: it bounded the whole
// round's write, so the connection and everything queued were dropped).
func TestSlowButSteadyPeerIsNotTreatedAsGone(t *testing.T) {
	addr := slowReader(t, 2, 64<<10, 20*time.Millisecond)
	n1 := startNode(t, 1, nil, map[uint64]string{2: addr}, func(c *Config) {
		c.WriteTimeout = 2 * time.Second
	})
	waitFor(t, "connection", func() bool { return n1.tr.Connected(2) })
	// 24 MiB of appends in one batch: one round, well within MaxQueueBytes.
	var b transport.Batch
	b.From, b.To = 1, 2
	for i := range 48 {
		b.Msgs = append(b.Msgs, transport.Envelope{Group: g1, Msg: app(1, 2, uint64(i), 512<<10)})
	}
	n1.tr.Send(b)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(n1.logs.String(), "lost connection to peer") || n1.rec.len() > 0 {
			t.Fatalf("a peer reading steadily was treated as gone after %v of WriteTimeout; reports %q\n%s",
				n1.cfg.WriteTimeout, n1.rec.take(), grep(n1.logs.String(), "lost connection"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The "lost connection" log line reports how many batches were dropped
// (found by review: it was read after dropItems reset them, always 0).
func TestLostConnectionLogCountsDroppedBatches(t *testing.T) {
	addr, conn := stalledPeer(t, 2)
	n1 := startNode(t, 1, nil, map[uint64]string{2: addr}, func(c *Config) { c.WriteTimeout = time.Minute })
	waitFor(t, "connection", func() bool { return n1.tr.Connected(2) })
	c := conn()
	n1.tr.Send(transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g3, Msg: snap(1, 2, 32<<20)}}})
	for range 20 {
		n1.tr.Send(transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g1, Msg: app(1, 2, 1, 16<<10)}}})
	}
	c.Close()
	waitFor(t, "the failure logged", func() bool { return strings.Contains(n1.logs.String(), "lost connection to peer") })
	if n1.tr.Stats().BatchesDropped == 0 {
		t.Fatal("nothing dropped: test setup")
	}
	if line := grep(n1.logs.String(), "lost connection to peer"); strings.Contains(line, "dropped_batches=0") {
		t.Fatalf("stats say %d batches dropped, the log says:\n%s", n1.tr.Stats().BatchesDropped, line)
	}
}
