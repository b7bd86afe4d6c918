package runtime_test

import (
	"context"
	"testing"
	"time"

	"sluice/node"
)

// A graceful shutdown hands every leadership over before the broker
// stops: while a producer runs, the broker leading the most partitions
// shuts down; it leads nothing when it stops, the others name a live
// leader for every partition at once (no election timeout passes
// leaderless), production goes on, and every acknowledged record is read
// back.
func TestE2EGracefulShutdown(t *testing.T) {
	const topic = "e2e-shutdown"
	c := startCluster(t, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 6, 3)
	waitLeaders(t, adm, topic, 6)
	prod := newProducer(t, c)
	bg := startBackground(t, prod, topic, 30)
	bg.waitAcks(1000, 30*time.Second, "1000 records acknowledged before the shutdown")

	td := waitLeaders(t, adm, topic, 6)
	count := map[int32]int{}
	for _, p := range td.Partitions {
		count[p.Leader]++
	}
	victim := int32(1)
	for id, n := range count {
		if n > count[victim] {
			victim = id
		}
	}
	t.Logf("shutting down broker %d, which leads %d of 6 partitions (leaders %v)", victim, count[victim], leadersOf(td))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if left := c.ShutdownBroker(ctx, victim); left != 0 {
		t.Fatalf("broker %d stopped still leading %d groups", victim, left)
	}

	// Every group the survivors host has a leader other than the victim.
	for id := int32(1); id <= 3; id++ {
		b := c.Broker(id)
		if b == nil {
			continue
		}
		waitFor(t, 5*time.Second, "the survivors to know a live leader of every group", func() bool {
			ok := true
			b.Do(func(n *node.Node) {
				for _, p := range n.Partitions() {
					if p.Leader == 0 || p.Leader == uint64(victim) {
						ok = false
					}
				}
			})
			return ok
		})
	}
	bg.waitAcks(500, 30*time.Second, "production to continue after the shutdown")
	if err := c.RestartBroker(victim); err != nil {
		t.Fatal(err)
	}
	bg.waitAcks(200, 30*time.Second, "production to continue after the restart")
	bg.stop()
	bg.check(c, adm, 6)
}
