package runtime_test

import (
	"encoding/binary"
	"hash/crc32"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node/runtime"
)

// rawBatch is a magic-2 batch with the given attributes, record count and
// records section, with a correct length and CRC32C.
func rawBatch(attrs int16, n int32, records []byte) []byte {
	rb := kmsg.RecordBatch{Magic: 2, Attributes: attrs, LastOffsetDelta: n - 1, FirstTimestamp: 1, MaxTimestamp: 1,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: n, Records: records}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// rawWaitLeader auto-creates topic through Metadata on c and waits until
// its partition 0 is led by broker 1.
func rawWaitLeader(t *testing.T, c *rawConn, topic string) {
	t.Helper()
	waitFor(t, 30*time.Second, "a leader for "+topic+"/0", func() bool {
		req := kmsg.NewPtrMetadataRequest()
		req.Version, req.AllowAutoTopicCreation = 8, true
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		c.send(req, 1)
		_, body, err := c.recv(10 * time.Second)
		if err != nil {
			t.Fatalf("metadata: %v", err)
		}
		resp := kmsg.NewPtrMetadataResponse()
		resp.Version = 8
		return resp.ReadFrom(body) == nil && len(resp.Topics) == 1 && resp.Topics[0].ErrorCode == 0 &&
			len(resp.Topics[0].Partitions) == 1 && resp.Topics[0].Partitions[0].Leader == 1
	})
}

// produceRaw sends one acks=1 Produce v8 of batch to topic/0 on c and
// returns the partition's error code.
func produceRaw(t *testing.T, c *rawConn, topic string, batch []byte, corr int32) int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 8, 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	c.send(req, corr)
	got, body, err := c.recv(10 * time.Second)
	if err != nil || got != corr {
		t.Fatalf("produce: correlation id %d, err %v; want an answer", got, err)
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 8
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("produce response: %v", err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// A snappy batch whose records section starts with the xerial magic but is
// shorter than xerial's 16-byte header is refused as CORRUPT_MESSAGE, and
// the broker goes on serving (found by review: it sliced past the end,
// and the panic on the event loop took the whole broker process down).
func TestProduceShortXerialHeaderIsCorrupt(t *testing.T) {
	b, _ := startOne(t, runtime.Options{})
	c := dialRaw(t, b.Addr())
	rawWaitLeader(t, c, "xerial")
	xerialMagic := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}
	batch := rawBatch(2 /* snappy */, 1, append(xerialMagic, 0, 0, 0, 1))
	if code := produceRaw(t, c, "xerial", batch, 2); code != kerr.CorruptMessage.Code {
		t.Errorf("short xerial snappy batch: error code %d, want CORRUPT_MESSAGE (%d)", code, kerr.CorruptMessage.Code)
	}
	c.apiVersions(3)
}

// Fetch's MaxBytes bounds the whole response (KIP-74: past the first
// batch), reads from segments (beyond the 4 MiB tail cache) included: a
// 1 MiB fetch naming a cold partition 64 times is answered with about
// 1 MiB (found by review: a cold read counted for nothing when issued, so
// every partition got the whole budget, 56 MiB here).
func TestFetchColdReadsCountAgainstMaxBytes(t *testing.T) {
	b, _ := startOne(t, runtime.Options{})
	c := dialRaw(t, b.Addr())
	rawWaitLeader(t, c, "cold")
	value := strings.Repeat("x", 900<<10)
	for i := range 8 { // 7 MiB: beyond the 4 MiB tail cache
		if code := produceRaw(t, c, "cold", recordBatch(value), int32(10+i)); code != 0 {
			t.Fatalf("produce %d: error code %d", i, code)
		}
	}
	time.Sleep(500 * time.Millisecond) // let the synced entries leave the tail cache
	const maxBytes = 1 << 20
	// PartitionMaxBytes 1: only the first partition may bring back its
	// first batch beyond its limit (found by a second review: every cold
	// read reserved 1 byte and brought back a whole batch).
	for k, partMax := range []int32{maxBytes, 1} {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 4, -1, 0, 1, maxBytes
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "cold"
		for range 64 {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = 0, 0, partMax, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		c.send(req, int32(100+k))
		corr, body, err := c.recv(60 * time.Second)
		if err != nil || corr != int32(100+k) {
			t.Fatalf("fetch: correlation id %d, err %v", corr, err)
		}
		if len(body) > 2*maxBytes {
			t.Errorf("PartitionMaxBytes %d: a fetch with MaxBytes %d was answered with %d bytes (%.0fx)", partMax, maxBytes, len(body), float64(len(body))/maxBytes)
		}
		if len(body) < 900<<10 {
			t.Errorf("PartitionMaxBytes %d: answered with %d bytes, want the first partition's first batch", partMax, len(body))
		}
	}
}

// CreateTopics caps a topic at 10,000 partitions on both paths, a count
// and an explicit ReplicaAssignment (found by review: the assignment path
// took any length). ValidateOnly, so nothing is created.
func TestCreateTopicsAssignmentPartitionCap(t *testing.T) {
	b, _ := startOne(t, runtime.Options{})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, tc := range []struct {
		name   string
		assign bool
	}{{"NumPartitions 10001", false}, {"ReplicaAssignment of 10001", true}} {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis, req.ValidateOnly = 10000, true
		tp := kmsg.NewCreateTopicsRequestTopic()
		tp.Topic, tp.NumPartitions, tp.ReplicationFactor = "huge", 10001, 1
		if tc.assign {
			tp.NumPartitions, tp.ReplicationFactor = -1, -1
			for p := range int32(10001) {
				tp.ReplicaAssignment = append(tp.ReplicaAssignment, kmsg.CreateTopicsRequestTopicReplicaAssignment{Partition: p, Replicas: []int32{1}})
			}
		}
		req.Topics = append(req.Topics, tp)
		resp, err := req.RequestWith(testCtx(t, 30*time.Second), cl)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if code := resp.Topics[0].ErrorCode; code != kerr.InvalidPartitions.Code {
			t.Errorf("%s: error code %d (partitions %d), want INVALID_PARTITIONS (%d)", tc.name, code, resp.Topics[0].NumPartitions, kerr.InvalidPartitions.Code)
		}
	}
}

// A ListOffsets naming one partition 100,000 times with MAX_TIMESTAMP (-3)
// does not stall the broker's loop: duplicates are INVALID_REQUEST, as in
// Kafka (found by review: each was looked up, every entry of the log read
// each time, and other clients waited seconds).
func TestListOffsetsDuplicatesDoNotStallTheLoop(t *testing.T) {
	b, _ := startOne(t, runtime.Options{})
	c := dialRaw(t, b.Addr())
	rawWaitLeader(t, c, "lo")
	// 3,000 one-record batches, pipelined at acks=0, then one at acks=1.
	p0 := kmsg.NewPtrProduceRequest()
	p0.Version, p0.Acks, p0.TimeoutMillis = 8, 0, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "lo"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = recordBatch("v")
	rt.Partitions = append(rt.Partitions, rp)
	p0.Topics = append(p0.Topics, rt)
	var buf []byte
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw"))
	for i := range 3000 {
		buf = append(buf, f.AppendRequest(nil, p0, int32(1000+i))...) // (AppendRequest sizes from dst[0])
	}
	c.write(buf)
	if code := produceRaw(t, c, "lo", recordBatch("v"), 5000); code != 0 {
		t.Fatalf("produce: %d", code)
	}

	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = 7, -1 // MAX_TIMESTAMP is v7+
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "lo"
	for range 100_000 {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = 0, -3
		lt.Partitions = append(lt.Partitions, lp)
	}
	req.Topics = append(req.Topics, lt)
	hostile := dialRaw(t, b.Addr())
	hostile.send(req, 1)
	other := dialRaw(t, b.Addr())
	other.apiVersions(2) // answered, with the hostile request in the loop
	corr, body, err := hostile.recv(30 * time.Second)
	if err != nil || corr != 1 {
		t.Fatalf("list offsets: correlation id %d, err %v", corr, err)
	}
	resp := kmsg.NewPtrListOffsetsResponse()
	resp.Version = 7
	if err := resp.ReadFrom(body[1:]); err != nil { // after the flexible header's tags
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 100_000 {
		t.Fatalf("answer of %d topics", len(resp.Topics))
	}
	for i, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != kerr.InvalidRequest.Code {
			t.Fatalf("duplicate %d: error code %d, want INVALID_REQUEST", i, p.ErrorCode)
		}
	}
}

// The requests one connection has in flight hold at most
// MaxInflightBytesPerConn (default socket.request.max.bytes) between them:
// ten parked fetches of 16 MiB each (a ForgottenTopics partition list,
// which sluice ignores) pin about 32 MiB, not 160 (found by review: only
// their number was bounded, 100 of up to 100 MiB each). Once the first
// ones are answered, the rest are read and answered too.
func TestInflightBytesPerConnectionBounded(t *testing.T) {
	const reqBytes, n = 16 << 20, 10
	b, _ := startOne(t, runtime.Options{MaxInflightBytesPerConn: 40 << 20}) // two of them
	c := dialRaw(t, b.Addr())
	rawWaitLeader(t, c, "park") // empty: a fetch at offset 0 with MinBytes 1 parks
	req := fetchAt("park", 0, 60*time.Second)
	req.Version = 11
	req.ForgottenTopics = []kmsg.FetchRequestForgottenTopic{{Topic: "park", Partitions: make([]int32, reqBytes/4)}}
	var frames [][]byte
	for k := range n {
		frames = append(frames, kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, int32(100+k)))
	}
	req = nil
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	wrote := make(chan error, 1)
	go func() { // blocks once the broker stops reading
		for _, f := range frames {
			if _, err := c.nc.Write(f); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	time.Sleep(time.Second) // the first ones read, decoded and parked
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	goruntime.KeepAlive(frames) // live in both measurements: only the broker's side differs
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap held by one connection's parked fetches: %d MiB", held>>20)
	// Two decoded requests fit in 40 MiB; a third's frame may still be
	// live on the reader's stack. Unbounded, all ten are held.
	if held > 5*reqBytes {
		t.Errorf("one connection pins %d MiB of requests (%d sent of %d MiB each, at most 40 MiB in flight)", held>>20, n, reqBytes>>20)
	}
	// A record wakes the parked fetches; each answer lets the next request
	// in, and it finds the record at once.
	if code := produceRaw(t, dialRaw(t, b.Addr()), "park", recordBatch("v"), 1); code != 0 {
		t.Fatalf("produce: error code %d", code)
	}
	for k := range n {
		corr, _, err := c.recv(20 * time.Second)
		if err != nil || corr != int32(100+k) {
			t.Fatalf("answer %d: correlation id %d, %v", k, corr, err)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}
