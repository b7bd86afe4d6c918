package node

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The broker core's hot paths, on the deterministic test harness: three
// brokers over in-memory disks and network, so what is measured is the
// CPU and allocations of the handlers, the partitions and raftlog (no
// fsync, no sockets; sluice bench measures those).
//
//	go test -run '^$' -bench 'HandleProduce|HandleFetch' -benchmem ./node/

// BenchmarkHandleProduce: one acks=all produce request of 16 records of
// 1 KiB to a partition with three replicas, from Handle to the answer
// (replicated, written to the in-memory disks, committed).
func BenchmarkHandleProduce(b *testing.B) {
	c := newCluster(b, 1, 3)
	c.createTopic("bench", 1, 3, nil)
	leader := c.leaderOf("bench", 0)
	batch := makeBatch(16, strings.Repeat("v", 1024), 1)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		// The request owns its batch (the partition stamps it in place).
		req := produceReq(12, -1, 5000, "bench", [16]byte{}, map[int32][]byte{0: append([]byte(nil), batch...)})
		op := c.do(leader, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if op.ErrorCode != 0 {
			b.Fatalf("produce: error %d", op.ErrorCode)
		}
	}
}

// BenchmarkHandleFetch: a consumer's fetch of up to 1 MiB from a partition
// holding 4 MiB, from Handle to the answer, cycling through the log (the
// most recent batches come from the partition's tail cache, older ones
// from the segments).
func BenchmarkHandleFetch(b *testing.B) {
	c := newCluster(b, 1, 3)
	c.createTopic("bench", 1, 3, nil)
	leader := c.leaderOf("bench", 0)
	batch := makeBatch(16, strings.Repeat("v", 1024), 1)
	var end int64
	for range 256 {
		end = c.mustProduce(leader, "bench", 0, append([]byte(nil), batch...)) + 16
	}
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	offset := int64(0)
	for range b.N {
		req := fetchReq(12, "bench", [16]byte{}, 0, offset, 0, 1, 1<<20, 1<<20)
		fp := c.do(leader, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if fp.ErrorCode != 0 || len(fp.RecordBatches) == 0 {
			b.Fatalf("fetch from %d: error %d, %d bytes", offset, fp.ErrorCode, len(fp.RecordBatches))
		}
		bytes += int64(len(fp.RecordBatches))
		if offset += 1024; offset >= end {
			offset = 0
		}
	}
	b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
}
