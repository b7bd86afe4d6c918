package runtime_test

// DeleteRecords (KIP-107) against an in-process cluster with kadm, as
// kafka-delete-records.sh would send it: the low watermark moves (inside a
// batch too), ListOffsets earliest follows, a consumer from the start reads
// from there; an offset past the end and a compacted topic are refused.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"sluice/node/runtime"
)

func TestE2EDeleteRecords(t *testing.T) {
	const topic, compacted = "e2e-delete-records", "e2e-delete-records-compacted"
	c, err := runtime.StartDev(runtime.DevOptions{Brokers: 3, DataDir: t.TempDir(), Logger: testLogger()})
	if err != nil {
		t.Fatalf("StartDev: %v", err)
	}
	t.Cleanup(c.Stop)
	adm := newAdmin(t, c)
	ctx := testCtx(t, 90*time.Second)
	createTopicWith(t, adm, topic, 2, 3, nil)
	createTopicWith(t, adm, compacted, 1, 3, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})

	// 50 records in batches of 5 on partition 0, 10 on partition 1.
	p := newProducer(t, c, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for b := 0; b < 10; b++ {
		var rs []*kgo.Record
		for k := 0; k < 5; k++ {
			rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("v%02d", 5*b+k)), Partition: 0})
		}
		if b < 2 {
			rs = append(rs, &kgo.Record{Value: []byte("w"), Partition: 1})
		}
		if err := p.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	ends := endOffsets(t, adm, topic, 2)
	if ends[0] != 50 {
		t.Fatalf("partition 0 ends at %d, want 50", ends[0])
	}

	// Partition 0 to 23 (inside a batch), partition 1 to its end (-1).
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 23})
	offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: -1})
	resp, err := adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := resp.Lookup(topic, 0); !ok || r.Err != nil || r.LowWatermark != 23 {
		t.Fatalf("partition 0: %+v", r)
	}
	if r, ok := resp.Lookup(topic, 1); !ok || r.Err != nil || r.LowWatermark != ends[1] {
		t.Fatalf("partition 1: %+v, want low watermark %d", r, ends[1])
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup(topic, 0); o.Offset != 23 {
		t.Fatalf("ListOffsets earliest of partition 0: %d, want 23", o.Offset)
	}

	// A consumer from the start reads from 23 on.
	cl := newClient(t, c, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	next := int64(23)
	for next < 50 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed up to %d: %v", next, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next || string(r.Value) != fmt.Sprintf("v%02d", next) {
				t.Fatalf("record %q at offset %d, want offset %d", r.Value, r.Offset, next)
			}
			next++
		})
	}

	// Past the end, and a compacted topic: refused.
	var bad kadm.Offsets
	bad.Add(kadm.Offset{Topic: topic, Partition: 0, At: 51})
	bad.Add(kadm.Offset{Topic: compacted, Partition: 0, At: 0})
	resp, err = adm.DeleteRecords(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resp.Lookup(topic, 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete past the end: %v", r.Err)
	}
	if r, _ := resp.Lookup(compacted, 0); !errors.Is(r.Err, kerr.PolicyViolation) {
		t.Fatalf("delete on a compacted topic: %v", r.Err)
	}
}
