package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node/runtime"
)

// Below the free-space threshold a broker refuses produce with
// KAFKA_STORAGE_ERROR, serves reads, loses nothing, reports it in its
// metrics, and accepts produce again once space returns. The metrics also
// carry the request counters per API, per-partition raft state and topic
// bytes.
func TestDiskLowAndBrokerMetrics(t *testing.T) {
	const topic = "disklow"
	var free atomic.Uint64
	free.Store(1 << 40)
	c, err := runtime.StartDev(runtime.DevOptions{Brokers: 3, DataDir: t.TempDir(), Logger: testLogger(),
		MinFreeBytes: 1 << 30, DiskCheckInterval: 10 * time.Millisecond,
		FreeSpace: func(string) (uint64, error) { return free.Load(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 1, 3)
	td := waitLeaders(t, adm, topic, 1)
	leader := td.Partitions[0].Leader
	produceN(t, c, topic, 50)
	// Ask the leader itself for metadata: the clients may have asked any
	// broker, and its Metadata series must count at least one.
	if _, err := newClient(t, c).Broker(int(leader)).Request(context.Background(), kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := runtime.ServeMetrics(c.Broker(leader), ln, runtime.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	url := "http://" + m.Addr() + "/metrics"
	b := fmt.Sprintf(`{broker="%d"}`, leader)
	p := fmt.Sprintf(`{broker="%d",partition="0",topic=%q}`, leader, topic)
	s := scrape(t, url)
	for name, ok := range map[string]bool{
		`sluice_requests_total{api="Produce",broker="` + fmt.Sprint(leader) + `"}`: s[`sluice_requests_total{api="Produce",broker="`+fmt.Sprint(leader)+`"}`] >= 1,
		`sluice_request_duration_seconds_count{api="Metadata",...}`:                s[`sluice_request_duration_seconds_count{api="Metadata",broker="`+fmt.Sprint(leader)+`"}`] >= 1,
		`sluice_request_bytes_total{api="Produce",...}`:                            s[`sluice_request_bytes_total{api="Produce",broker="`+fmt.Sprint(leader)+`"}`] > 50*10,
		"sluice_partition_leader" + p + " = leader":                                s["sluice_partition_leader"+p] == float64(leader),
		"sluice_partition_isr_size" + p + " = 3":                                   s["sluice_partition_isr_size"+p] == 3,
		"sluice_partition_replicas" + p + " = 3":                                   s["sluice_partition_replicas"+p] == 3,
		"sluice_partition_high_watermark" + p + " = 50":                            s["sluice_partition_high_watermark"+p] == 50,
		`sluice_topic_bytes_in_total{topic="disklow"} > 0`:                         s[fmt.Sprintf(`sluice_topic_bytes_in_total{broker="%d",topic=%q}`, leader, topic)] > 0,
		"sluice_broker_offline_partitions" + b + " = 0":                            s["sluice_broker_offline_partitions"+b] == 0,
		"sluice_broker_disk_free_bytes" + b + " = 1 TiB":                           s["sluice_broker_disk_free_bytes"+b] == 1<<40,
		"sluice_broker_disk_low" + b + " = 0":                                      s["sluice_broker_disk_low"+b] == 0,
	} {
		if !ok {
			t.Errorf("metric %s does not hold", name)
		}
	}

	// The disk runs low.
	free.Store(1 << 20)
	waitFor(t, 10*time.Second, "the leader to report its disk low", func() bool { return scrape(t, url)["sluice_broker_disk_low"+b] == 1 })
	cl := newClient(t, c, kgo.DefaultProduceTopic(topic), kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(5*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = cl.ProduceSync(ctx, &kgo.Record{Value: []byte("refused")}).FirstErr()
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("produce with the disk low: %v, want KAFKA_STORAGE_ERROR", err)
	}
	// Reads go on: the 50 records are there.
	recs := consumeAll(t, c, topic, map[int32]int64{0: 50})
	if len(recs[0]) != 50 {
		t.Fatalf("read %d records with the disk low, want 50", len(recs[0]))
	}

	// Space returns.
	free.Store(1 << 40)
	waitFor(t, 10*time.Second, "the leader to report its disk healthy", func() bool { return scrape(t, url)["sluice_broker_disk_low"+b] == 0 })
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("accepted")}).FirstErr(); err != nil {
		t.Fatalf("produce once space returned: %v", err)
	}
	ends := endOffsets(t, adm, topic, 1)
	if ends[0] != 51 {
		t.Fatalf("end offset %d, want 51 (50, nothing of the refused produce, and one more)", ends[0])
	}
}
