package runtime_test

// Retention against an in-process cluster with kgo: a topic with small
// segments and retention.bytes loses its oldest segments on every replica;
// ListOffsets earliest moves to the first record kept; a consumer reset to
// the earliest offset reads exactly the retained records, in order; a
// fetch below the log start answers OFFSET_OUT_OF_RANGE; altering
// retention.ms to -1 and retention.bytes to -1 stops deletion.

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node/runtime"
)

func TestE2ERetention(t *testing.T) {
	const topic = "e2e-retention"
	c, err := runtime.StartDev(runtime.DevOptions{Brokers: 3, DataDir: t.TempDir(), Logger: testLogger(), RetentionCheckMs: 200})
	if err != nil {
		t.Fatalf("StartDev: %v", err)
	}
	t.Cleanup(c.Stop)
	adm := newAdmin(t, c)
	ctx := testCtx(t, 90*time.Second)
	createTopicWith(t, adm, topic, 1, 3, map[string]*string{
		"segment.bytes": kadm.StringPtr("65536"), "retention.bytes": kadm.StringPtr("131072"),
	})

	// 100 records of 4 KiB (incompressible): about 400 KiB in 64 KiB
	// segments, three times retention.bytes.
	p := newProducer(t, c, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	rnd := rand.New(rand.NewPCG(7, 8))
	const n = 100
	values := make([][]byte, n)
	for i := range values {
		v := make([]byte, 4096)
		for k := range v {
			v[k] = byte(rnd.Uint32())
		}
		copy(v, fmt.Sprintf("%04d", i))
		values[i] = v
		if err := p.ProduceSync(ctx, &kgo.Record{Value: v}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}

	// What is kept: at least retention.bytes of records (64 KiB segments
	// hold 15 records of 4 KiB), at most retention.bytes plus a segment
	// and the active one.
	var start int64
	waitFor(t, 30*time.Second, "the log start offset to move", func() bool {
		offs, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return false
		}
		o, ok := offs.Lookup(topic, 0)
		start = o.Offset
		return ok && o.Err == nil && n-start <= 75
	})
	if kept := n - start; kept < 30 {
		t.Fatalf("log start %d: %d records kept, want about 128-256 KiB of 4 KiB records", start, kept)
	}

	// A consumer starting at the earliest offset reads the retained records.
	cl := newClient(t, c, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	next := start
	for next < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed up to %d of %d: %v", next, n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch error (retried): %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next || string(r.Value) != string(values[r.Offset]) {
				t.Fatalf("record at offset %d (value %q), want offset %d", r.Offset, r.Value[:4], next)
			}
			next++
		})
	}

	// A fetch below the log start: OFFSET_OUT_OF_RANGE from the leader.
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	leader := md.Topics[topic].Partitions[0].Leader
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MaxBytes, req.SessionEpoch = -1, 100, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, md.Topics[topic].ID // kgo sends its newest version
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = 0, 1<<20, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := req.RequestWith(ctx, newClient(t, c).Broker(int(leader)))
	if err != nil {
		t.Fatal(err)
	}
	if code := r.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch at offset 0 below log start %d: error %v", start, kerr.ErrorForCode(code))
	}

	// Every replica applied retention: DescribeLogDirs reports each
	// broker's partition directory well below the 400 KiB produced
	// (retention.bytes, plus one segment that would take the log below it,
	// the active segment and the index and checkpoint files).
	waitFor(t, 10*time.Second, "every replica to apply retention", func() bool {
		dirs, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			return false
		}
		replicas := 0
		ok := true
		for _, bd := range dirs {
			bd.EachPartition(func(d kadm.DescribedLogDirPartition) {
				if d.Topic != topic {
					return
				}
				replicas++
				if d.Size > 300<<10 {
					ok = false
				}
			})
		}
		return ok && replicas == 3
	})

	// Unlimited retention: nothing more is deleted.
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Name: "retention.bytes", Value: kadm.StringPtr("-1")}, {Name: "retention.ms", Value: kadm.StringPtr("-1")},
	}, topic); err != nil {
		t.Fatal(err)
	}
	// Every broker applies it (the leader's retention runs on what its
	// broker has applied).
	waitConfigs(t, c, topic, map[string]string{"segment.bytes": "65536", "retention.bytes": "-1", "retention.ms": "-1"})
	offs, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := offs.Lookup(topic, 0)
	for i := 0; i < 60; i++ {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: values[i]}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // five retention checks
	offs, err = adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := offs.Lookup(topic, 0); after.Offset != before.Offset {
		t.Fatalf("log start moved from %d to %d with unlimited retention", before.Offset, after.Offset)
	}
}
