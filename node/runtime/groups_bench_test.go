package runtime_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node"
	"sluice/node/groups"
	"sluice/node/runtime"
)

// benchTarget starts sluice (3 brokers, RF 3, no initial rebalance delay)
// or kfake (3 brokers, in memory) and returns its bootstrap addresses.
func benchTarget(b *testing.B, target string) []string {
	switch target {
	case "sluice":
		c, err := runtime.StartDev(runtime.DevOptions{DataDir: b.TempDir(),
			Groups: node.GroupConfig{Coordinator: groups.Config{InitialRebalanceDelayMs: -1}}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Stop)
		return c.Bootstrap()
	default:
		c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(-1))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		return c.ListenAddrs()
	}
}

// BenchmarkGroupRebalance: ten kgo members (cooperative-sticky, kgo's
// default) join one group over a 100-partition topic; an op is from the
// first member starting to every partition being owned by exactly one of
// the ten. kfake in the same run is the baseline. Members that join a
// stable group make it rebalance, and the others learn of it from their
// next heartbeat, so the heartbeat interval (kgo's default 3 s) bounds
// each step: the members here heartbeat every 100 ms, to measure the
// coordinator rather than the client's timer. Apache Kafka, for context,
// waits group.initial.rebalance.delay.ms (3 s by default; sluice dev and
// this benchmark use 0) before the first rebalance of an empty group.
func BenchmarkGroupRebalance(b *testing.B) {
	for _, target := range []string{"sluice", "kfake"} {
		b.Run("target="+target, func(b *testing.B) {
			seeds := benchTarget(b, target)
			const topic, partitions, members = "bench-rebalance", 100, 10
			admCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
			if err != nil {
				b.Fatal(err)
			}
			defer admCl.Close()
			adm := kadm.NewClient(admCl)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if _, err := adm.CreateTopic(ctx, partitions, 3, nil, topic); err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			// Op -1 is a warm-up: the first group creates __consumer_offsets
			// (50 partitions, a one-time cost of a few seconds, as in Kafka).
			for i := -1; i < b.N; i++ {
				group := fmt.Sprintf("bench-rebalance-%d", i)
				var mu sync.Mutex
				owned := map[int32]int{}
				start := time.Now()
				var cls []*kgo.Client
				for range members {
					cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
						kgo.MetadataMinAge(50*time.Millisecond), kgo.HeartbeatInterval(100*time.Millisecond),
						kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
							mu.Lock()
							for _, p := range a[topic] {
								owned[p]++
							}
							mu.Unlock()
						}),
						kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
							mu.Lock()
							for _, p := range r[topic] {
								owned[p]--
							}
							mu.Unlock()
						}))
					if err != nil {
						b.Fatal(err)
					}
					cls = append(cls, cl)
					go func() {
						for ctx.Err() == nil {
							if cl.PollFetches(ctx).IsClientClosed() {
								return
							}
						}
					}()
				}
				for {
					mu.Lock()
					done := len(owned) == partitions
					for _, n := range owned {
						done = done && n == 1
					}
					mu.Unlock()
					if done {
						break
					}
					if ctx.Err() != nil {
						b.Fatal("the group never settled")
					}
					time.Sleep(time.Millisecond)
				}
				if i >= 0 {
					total += time.Since(start)
				}
				for _, cl := range cls {
					cl.Close()
				}
			}
			b.ReportMetric(total.Seconds()*1000/float64(b.N), "ms/rebalance")
		})
	}
}

// BenchmarkOffsetCommit: one client commits offsets of 12 partitions in a
// loop (OffsetCommit with generation -1, a group without members, as
// admin tools and simple consumers commit), four requests in flight; each
// commit is acknowledged once it is replicated (acks=all) in
// __consumer_offsets. Reported: commits/s (requests) and partition
// offsets/s per coordinator; kfake in the same run is the baseline.
func BenchmarkOffsetCommit(b *testing.B) {
	for _, target := range []string{"sluice", "kfake"} {
		b.Run("target="+target, func(b *testing.B) {
			seeds := benchTarget(b, target)
			cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const group, topic, parts, inflight, perOp = "bench-commit", "bench-commit-topic", 12, 4, 200
			ct, err := kadm.NewClient(cl).CreateTopic(ctx, parts, 3, nil, topic)
			if err != nil {
				b.Fatal(err)
			}
			commit := func(off int64) error {
				req := kmsg.NewPtrOffsetCommitRequest()
				req.Group, req.Generation = group, -1
				t := kmsg.NewOffsetCommitRequestTopic()
				t.Topic, t.TopicID = topic, ct.ID // v10 names topics by id
				for p := range int32(parts) {
					t.Partitions = append(t.Partitions, kmsg.OffsetCommitRequestTopicPartition{Partition: p, Offset: off, LeaderEpoch: -1})
				}
				req.Topics = append(req.Topics, t)
				resp, err := req.RequestWith(ctx, cl)
				if err != nil {
					return err
				}
				for _, rt := range resp.Topics {
					for _, rp := range rt.Partitions {
						if rp.ErrorCode != 0 {
							return fmt.Errorf("partition %d: error %d", rp.Partition, rp.ErrorCode)
						}
					}
				}
				return nil
			}
			// Until the coordinator exists.
			for err := commit(0); err != nil; err = commit(0) {
				if ctx.Err() != nil {
					b.Fatalf("no coordinator: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				var wg sync.WaitGroup
				errs := make(chan error, inflight)
				for w := range inflight {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range perOp / inflight {
							if err := commit(int64(i*inflight + w)); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N*perOp)/secs, "commits/s")
			b.ReportMetric(float64(b.N*perOp*parts)/secs, "offsets/s")
		})
	}
}
