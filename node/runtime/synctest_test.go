package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pipeNet is an in-memory network of net.Pipe connections: inside a
// synctest bubble, goroutines waiting on a pipe are durably blocked, so
// virtual time advances through election timeouts and client backoffs
// instantly (it cannot while goroutines wait on real sockets).
type pipeNet struct {
	mu  sync.Mutex
	lns map[string]*pipeListener
}

func newPipeNet() *pipeNet { return &pipeNet{lns: map[string]*pipeListener{}} }

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

type pipeListener struct {
	pn    *pipeNet
	addr  pipeAddr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (p *pipeNet) Listen(addr string) (net.Listener, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lns[addr] != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, syscall.EADDRINUSE)
	}
	l := &pipeListener{pn: p, addr: pipeAddr(addr), conns: make(chan net.Conn), done: make(chan struct{})}
	p.lns[addr] = l
	return l, nil
}

func (p *pipeNet) Dial(ctx context.Context, _, addr string) (net.Conn, error) {
	p.mu.Lock()
	l := p.lns[addr]
	p.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("dial %s: %w", addr, syscall.ECONNREFUSED)
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, fmt.Errorf("dial %s: %w", addr, syscall.ECONNREFUSED)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.pn.mu.Lock()
		if l.pn.lns[string(l.addr)] == l {
			delete(l.pn.lns, string(l.addr))
		}
		l.pn.mu.Unlock()
	})
	return nil
}

func (l *pipeListener) Addr() net.Addr { return l.addr }

// TestSynctestLeaderFailover runs franz-go against a 3-broker cluster in a
// synctest bubble over in-memory pipes: produce, stop the leader of
// partition 0, produce through the election, restart it, produce again,
// then read everything back. Every acknowledged record is read exactly
// once, in order, at contiguous offsets. Virtual time makes the election
// timeouts and client backoffs free.
func TestSynctestLeaderFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		c, err := StartDev(DevOptions{DataDir: t.TempDir(), Host: "broker", BasePort: 9092, Listen: pn.Listen})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		const topic, parts = "failover", 3
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.Dialer(pn.Dial),
			kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		if _, err := adm.CreateTopic(ctx, parts, 3, nil, topic); err != nil {
			t.Fatal(err)
		}

		acked := map[string]bool{}
		produce := func(from, n int) {
			t.Helper()
			var recs []*kgo.Record
			for i := from; i < from+n; i++ {
				recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("r%05d", i))})
			}
			for _, r := range cl.ProduceSync(ctx, recs...) {
				if r.Err != nil {
					t.Fatalf("produce %s: %v", r.Record.Value, r.Err)
				}
				acked[string(r.Record.Value)] = true
			}
		}
		produce(0, 300)

		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		leader := md.Topics[topic].Partitions[0].Leader
		c.StopBroker(leader)
		produce(300, 300)
		if md, err = adm.Metadata(ctx, topic); err != nil {
			t.Fatal(err)
		}
		if now := md.Topics[topic].Partitions[0].Leader; now == leader || now < 0 {
			t.Fatalf("partition 0 led by %d after stopping its leader %d", now, leader)
		}
		if err := c.RestartBroker(leader); err != nil {
			t.Fatal(err)
		}
		produce(600, 300)

		cons, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.Dialer(pn.Dial),
			kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cons.Close()
		seen := map[string]bool{}
		next := map[int32]int64{}
		for len(seen) < len(acked) {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("read %d of %d acknowledged records", len(seen), len(acked))
				}
				t.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset != next[r.Partition] {
					t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
				}
				next[r.Partition]++
				v := string(r.Value)
				if seen[v] {
					t.Fatalf("record %s read twice", v)
				}
				if !acked[v] {
					t.Fatalf("record %s was never acknowledged", v)
				}
				seen[v] = true
			})
		}
		cons.Close()
		cl.Close()
		c.Stop()
	})
}
