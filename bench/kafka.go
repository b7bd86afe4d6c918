package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	broker "sluice/node/runtime"
)

// kafkaSystem is any Kafka-protocol target, driven with franz-go's kgo.
type kafkaSystem struct {
	seeds []string
	topic string
	stop  func()

	batches, batchBytesTotal atomic.Int64
}

// startSluice starts the 3-broker `sluice dev` cluster in this process, on
// free ports, with its data under dir (removed by close). fileSync: group
// commits fdatasync file by file instead of one syncfs.
func startSluice(dir string, fileSync bool) (*kafkaSystem, error) {
	c, err := broker.StartDev(broker.DevOptions{DataDir: dir, Fresh: true, BasePort: 0, FileSync: fileSync})
	if err != nil {
		return nil, fmt.Errorf("bench: start sluice dev: %w", err)
	}
	return &kafkaSystem{seeds: c.Bootstrap(), stop: func() {
		c.Stop()
		os.RemoveAll(dir)
	}}, nil
}

// startKfake starts franz-go's kfake: 3 brokers, in memory, no replication,
// no fsync.
func startKfake() (*kafkaSystem, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		return nil, fmt.Errorf("bench: start kfake: %w", err)
	}
	return &kafkaSystem{seeds: c.ListenAddrs(), stop: c.Close}, nil
}

// dialKafka reaches a running cluster; close leaves it running and deletes
// the topic the run made (a run of seconds leaves gigabytes otherwise).
func dialKafka(seeds []string) *kafkaSystem {
	s := &kafkaSystem{seeds: seeds}
	s.stop = s.deleteTopic
	return s
}

// deleteTopic deletes the run's topic, best effort, within 10 s.
func (s *kafkaSystem) deleteTopic() {
	if s.topic == "" {
		return
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = kadm.NewClient(cl).DeleteTopics(ctx, s.topic)
}

func (s *kafkaSystem) close() { s.stop() }

func (s *kafkaSystem) batchBytes() float64 {
	n := s.batches.Load()
	if n == 0 {
		return 0
	}
	return float64(s.batchBytesTotal.Load()) / float64(n)
}

// OnProduceBatchWritten implements kgo.HookProduceBatchWritten: it counts
// the batches the producers wrote, for the mean bytes per batch.
func (s *kafkaSystem) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	s.batches.Add(1)
	s.batchBytesTotal.Add(int64(m.CompressedBytes))
}

func (s *kafkaSystem) setup(ctx context.Context, w Workload) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...))
	if err != nil {
		return fmt.Errorf("bench: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return fmt.Errorf("bench: list brokers at %v: %w", s.seeds, err)
	}
	rf := int16(min(3, len(brokers)))
	// A fresh topic per run, so a run against a long-lived cluster never
	// reads an older run's records.
	s.topic = fmt.Sprintf("bench-%s-%d", w.Name, time.Now().UnixNano())
	resp, err := adm.CreateTopic(ctx, int32(w.Partitions), rf, nil, s.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("bench: create topic %s (%d partitions, RF %d): %w", s.topic, w.Partitions, rf, err)
	}
	// Wait until every partition has a leader. A Metadata request of its
	// own each time: kadm's Metadata is served from the client's cache,
	// which refreshes at most every 5 s (kgo.MetadataMinAge), and made
	// every Kafka target look 5 s slow to create its topic.
	for {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(s.topic)
		req.Topics = append(req.Topics, rt)
		if md, err := req.RequestWith(ctx, cl); err == nil && len(md.Topics) == 1 {
			t := md.Topics[0]
			ready := t.ErrorCode == 0 && len(t.Partitions) == w.Partitions
			for _, p := range t.Partitions {
				ready = ready && p.ErrorCode == 0 && p.Leader >= 0
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: topic %s: partitions without a leader: %w", s.topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *kafkaSystem) newProducer(w Workload, _ int) (producer, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.seeds...),
		kgo.DefaultProduceTopic(s.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// Payloads are random bytes: compressing them only burns CPU.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.WithHooks(s),
		kgo.MaxBufferedRecords(w.inflight()),
		kgo.ProducerLinger(w.Linger()),
	}
	if w.Acks == "1" {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if w.Requests > 1 {
		if w.Acks != "1" {
			opts = append(opts, kgo.DisableIdempotentWrite())
		}
		opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(w.Requests))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("bench: kafka producer: %w", err)
	}
	return &kafkaProducer{cl: cl}, nil
}

type kafkaProducer struct{ cl *kgo.Client }

func (p *kafkaProducer) send(ctx context.Context, part int32, value []byte, done func(error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.cl.Produce(ctx, &kgo.Record{Partition: part, Value: value}, func(_ *kgo.Record, err error) { done(err) })
	return nil
}

func (p *kafkaProducer) flush(ctx context.Context) error { return p.cl.Flush(ctx) }
func (p *kafkaProducer) close()                          { p.cl.Close() }

func (s *kafkaSystem) newConsumer(w Workload, _ int, parts []int32) (consumer, error) {
	offsets := make(map[int32]kgo.Offset, len(parts))
	for _, p := range parts {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: offsets}))
	if err != nil {
		return nil, fmt.Errorf("bench: kafka consumer: %w", err)
	}
	return &kafkaConsumer{cl: cl}, nil
}

type kafkaConsumer struct {
	cl   *kgo.Client
	once sync.Once
}

func (c *kafkaConsumer) run(ctx context.Context, fn func([]byte), errs func(error)) error {
	for {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
				errs(err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { fn(r.Value) })
	}
}

func (c *kafkaConsumer) close() { c.once.Do(c.cl.Close) }
