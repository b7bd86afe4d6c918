package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"sluice/node"
)

// TestSynctestWipedBroker deletes a stopped broker's data directory and
// restarts it: the dev cluster sees a broker without state in a cluster
// that exists and starts it with Join under a new incarnation. It must be
// re-added to every group (no replica left amnesic) and then hold the
// data: with another broker stopped, it is part of every quorum, and every
// acknowledged record is still read back.
func TestSynctestWipedBroker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		dir := t.TempDir()
		c, err := StartDev(DevOptions{DataDir: dir, Host: "broker", BasePort: 9092, Listen: pn.Listen})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		const topic, parts = "wiped", 3
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

		const wiped = 3
		c.StopBroker(wiped)
		if err := os.RemoveAll(c.brokerDir(wiped - 1)); err != nil {
			t.Fatal(err)
		}
		if !c.joining(wiped - 1) {
			t.Fatal("a broker without state in a running cluster does not join")
		}
		if err := c.RestartBroker(wiped); err != nil {
			t.Fatal(err)
		}
		// Re-added everywhere: no amnesic replica, every partition hosted.
		rejoined := func() bool {
			ok := true
			c.Broker(wiped).Do(func(n *node.Node) {
				infos := n.Partitions()
				if len(infos) != parts+1 {
					ok = false
				}
				for _, pi := range infos {
					if n.Replica(pi.Group).Amnesic() {
						ok = false
					}
				}
			})
			return ok
		}
		for !rejoined() {
			if ctx.Err() != nil {
				t.Fatal("the wiped broker was not re-added")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Let the learners be promoted, then make the wiped broker needed.
		time.Sleep(10 * time.Second)
		c.StopBroker(1)
		produce(300, 300)

		cons, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.Dialer(pn.Dial),
			kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cons.Close()
		seen := map[string]bool{}
		for len(seen) < len(acked) {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("read %d of %d acknowledged records", len(seen), len(acked))
				}
				t.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if !acked[string(r.Value)] {
					t.Fatalf("record %s was never acknowledged", r.Value)
				}
				seen[string(r.Value)] = true
			})
		}
		cons.Close()
		cl.Close()
		c.Stop()
	})
}
