package runtime

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkProduce measures a kgo producer (idempotent, acks=all, 1 KiB
// records, default batching) against a 3-broker in-process sluice cluster
// with RF 3, and against franz-go's kfake (in memory, no replication, no
// fsync) with the same client settings in the same run, as the baseline.
// Each op produces benchRecords records, then a consumer reads them all
// back from the start (catch-up). Reported: records/s and MB/s produced,
// produce latency p50/p99 (Produce call to acknowledgement), catch-up MB/s.
func BenchmarkProduce(b *testing.B) {
	for _, target := range []string{"sluice", "kfake"} {
		for _, parts := range []int{1, 12} {
			b.Run(fmt.Sprintf("target=%s/partitions=%d", target, parts), func(b *testing.B) {
				benchProduce(b, target, parts)
			})
		}
	}
}

const (
	benchRecords     = 20000
	benchRecordBytes = 1024
)

func benchProduce(b *testing.B, target string, parts int) {
	var seeds []string
	switch target {
	case "sluice":
		c, err := StartDev(DevOptions{DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Stop()
		seeds = c.Bootstrap()
	case "kfake":
		c, err := kfake.NewCluster(kfake.NumBrokers(3))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		seeds = c.ListenAddrs()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	var lat []time.Duration
	var produceNs, catchupNs int64
	value := make([]byte, benchRecordBytes)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		topic := fmt.Sprintf("bench-%d", i)
		b.StopTimer()
		if _, err := kadm.NewClient(admin).CreateTopic(ctx, int32(parts), 3, nil, topic); err != nil {
			b.Fatal(err)
		}
		prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
		if err != nil {
			b.Fatal(err)
		}
		// Warm up: metadata and leaders known before the clock starts.
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		var mu sync.Mutex
		var wg sync.WaitGroup
		var firstErr error
		for j := 0; j < benchRecords; j++ {
			wg.Add(1)
			sent := time.Now()
			prod.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
				d := time.Since(sent)
				mu.Lock()
				lat = append(lat, d)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				wg.Done()
			})
		}
		wg.Wait()
		produceNs += time.Since(start).Nanoseconds()
		prod.Close()
		if firstErr != nil {
			b.Fatal(firstErr)
		}

		cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		for got := 0; got < benchRecords+1; {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				b.Fatal(err)
			}
			got += fs.NumRecords()
		}
		catchupNs += time.Since(start).Nanoseconds()
		cons.Close()
	}
	b.StopTimer()
	slices.Sort(lat)
	recs := float64(benchRecords * b.N)
	mb := recs * benchRecordBytes / 1e6
	b.ReportMetric(recs/(float64(produceNs)/1e9), "records/s")
	b.ReportMetric(mb/(float64(produceNs)/1e9), "MB/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1e3, "p99-ms")
	b.ReportMetric(mb/(float64(catchupNs)/1e9), "catchup-MB/s")
}
