package tcp

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"sluice/transport"
)

// Throughput between two brokers on loopback, beside a raw TCP baseline
// measured in the same run. Each op is one raft message: a MsgApp with one
// entry of the payload size. A window bounds the messages in flight (Send
// never blocks; without it the sender would only measure drops).
//
//	go test -run '^$' -bench . -benchtime 2s ./transport/tcp
//
// BenchmarkRTT measures round trips one at a time (p50 and p99 latency),
// through two transports and over a raw loopback connection.

var benchSizes = []struct {
	name     string
	payload  int
	perBatch int // messages per Send (many groups in one Ready)
	window   int // messages in flight
}{
	{"100B", 100, 1, 4096},
	{"100B-batch64", 100, 64, 4096},
	{"64KiB", 64 << 10, 1, 256},
}

// BenchmarkTransport: broker 1 sends, broker 2 decodes and delivers.
// allocs/op include the receiver's decoding (protobuf allocates each
// message, entry and data slice); BenchmarkSendPath isolates the sender.
func BenchmarkTransport(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			tokens := make(chan struct{}, sz.window)
			n1, n2 := pair(b, func(c *Config) {
				if c.ID == 2 {
					c.Deliver = func(bt transport.Batch) bool {
						for range bt.Msgs {
							<-tokens
						}
						return true
					}
				}
			})
			waitFor(b, "connection", func() bool { return n1.tr.Connected(2) && n2.tr.Connected(1) })
			runSender(b, n1.tr, sz.payload, sz.perBatch, tokens)
			if s := n1.tr.Stats(); s.BatchesDropped != 0 {
				b.Fatalf("dropped %d batches", s.BatchesDropped)
			}
		})
	}
}

// runSender sends b.N messages in batches of perBatch, taking a token per
// message, and waits until the receiver has given every token back.
func runSender(b *testing.B, tr *Transport, payload, perBatch int, tokens chan struct{}) {
	msgs := make([]transport.Envelope, perBatch)
	for i := range msgs {
		msgs[i] = transport.Envelope{Group: transport.GroupID{TopicID: [16]byte{1}, Partition: int32(i)}, Msg: app(1, 2, 100, payload)}
		proto.Size(msgs[i].Msg)
	}
	b.SetBytes(int64(payload))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; {
		k := min(perBatch, b.N-sent)
		for range k {
			tokens <- struct{}{}
		}
		tr.Send(transport.Batch{From: 1, To: 2, Msgs: msgs[:k]})
		sent += k
	}
	for len(tokens) > 0 {
		time.Sleep(50 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkSendPath: broker 1 sends to a peer that answers the handshake
// and discards the bytes, so allocs/op are the send path's alone (Send,
// queue, encoding, vectored write).
func BenchmarkSendPath(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			tokens := make(chan struct{}, sz.window)
			addr := sink(b, 2, func(msgs int) {
				for range msgs {
					<-tokens
				}
			})
			n1 := startNode(b, 1, nil, map[uint64]string{2: addr}, nil)
			waitFor(b, "connection", func() bool { return n1.tr.Connected(2) })
			runSender(b, n1.tr, sz.payload, sz.perBatch, tokens)
		})
	}
}

// sink accepts one connection as broker id, then skips over the frames,
// calling got with the number of raft messages in each.
func sink(b *testing.B, id uint64, got func(msgs int)) string {
	ln := listen(b, "127.0.0.1:0")
	b.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		h, err := readHello(c)
		if err != nil {
			return
		}
		reply := hello{version: protocolVersion, from: id, to: h.from, clusterID: clusterA}
		rb := reply.encode()
		c.Write(rb[:])
		r := bufio.NewReaderSize(c, 256<<10)
		for {
			hdr, err := r.Peek(frameHeaderBytes + 4)
			if err != nil {
				return
			}
			n := binary.BigEndian.Uint32(hdr)
			msgs := int(binary.BigEndian.Uint32(hdr[frameHeaderBytes:]))
			if _, err := r.Discard(frameLengthBytes + int(n)); err != nil {
				return
			}
			got(msgs)
		}
	}()
	return ln.Addr().String()
}

// BenchmarkRawTCP is the baseline: length-prefixed frames of the payload
// size over one loopback connection, read with io.ReadFull. "write" does
// one Write per frame; "bufio" buffers writes (64 KiB), as a batching
// sender would.
func BenchmarkRawTCP(b *testing.B) {
	for _, sz := range benchSizes {
		if sz.perBatch != 1 {
			continue
		}
		for _, mode := range []string{"write", "bufio"} {
			b.Run(fmt.Sprintf("%s/%s", sz.name, mode), func(b *testing.B) {
				ln := listen(b, "127.0.0.1:0")
				defer ln.Close()
				var read atomic.Int64
				done := make(chan struct{})
				go func() {
					defer close(done)
					c, err := ln.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					r := bufio.NewReaderSize(c, readBufferBytes)
					var hdr [4]byte
					body := make([]byte, sz.payload)
					for {
						if _, err := io.ReadFull(r, hdr[:]); err != nil {
							return
						}
						if _, err := io.ReadFull(r, body[:binary.BigEndian.Uint32(hdr[:])]); err != nil {
							return
						}
						read.Add(1)
					}
				}()
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				frame := binary.BigEndian.AppendUint32(nil, uint32(sz.payload))
				frame = append(frame, make([]byte, sz.payload)...)
				var w io.Writer = c
				bw := bufio.NewWriterSize(c, 64<<10)
				if mode == "bufio" {
					w = bw
				}
				b.SetBytes(int64(sz.payload))
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					if _, err := w.Write(frame); err != nil {
						b.Fatal(err)
					}
				}
				bw.Flush()
				for read.Load() < int64(b.N) {
					time.Sleep(50 * time.Microsecond)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
				c.Close()
				<-done
			})
		}
	}
}

// rttPayload is the entry data of a BenchmarkRTT request: a small raft
// message, so the figure is latency, not bandwidth.
const rttPayload = 100

// BenchmarkRTT: one message out and one back, b.N times, never more than
// one in flight. "transport": broker 1 sends a MsgApp, broker 2's Deliver
// answers with a MsgAppResp through its own transport (connection 2→1),
// and broker 1's Deliver wakes the sender. "raw": the same 100-byte
// payload as a length-prefixed frame over one loopback connection, echoed
// by the reader. Reports p50 and p99 round trips in µs.
func BenchmarkRTT(b *testing.B) {
	b.Run("transport", func(b *testing.B) {
		var tr2 atomic.Pointer[Transport]
		replies := make(chan struct{}, 1)
		n1, n2 := pair(b, func(c *Config) {
			switch c.ID {
			case 1:
				c.Deliver = func(bt transport.Batch) bool {
					if len(bt.Msgs) > 0 {
						replies <- struct{}{}
					}
					return true
				}
			case 2:
				c.Deliver = func(bt transport.Batch) bool {
					for _, e := range bt.Msgs {
						resp := msg(raftpb.MsgAppResp, 2, 1, e.Msg.GetIndex())
						tr2.Load().Send(transport.Batch{From: 2, To: 1, Msgs: []transport.Envelope{{Group: e.Group, Msg: resp}}})
					}
					return true
				}
			}
		})
		tr2.Store(n2.tr)
		waitFor(b, "connections", func() bool { return n1.tr.Connected(2) && n2.tr.Connected(1) })
		req := transport.Batch{From: 1, To: 2, Msgs: []transport.Envelope{{Group: g1, Msg: app(1, 2, 100, rttPayload)}}}
		runRTT(b, func() {
			n1.tr.Send(req)
			<-replies
		})
		if s1, s2 := n1.tr.Stats(), n2.tr.Stats(); s1.BatchesDropped+s2.BatchesDropped != 0 {
			b.Fatalf("dropped batches: %+v, %+v", s1, s2)
		}
	})
	b.Run("raw", func(b *testing.B) {
		ln := listen(b, "127.0.0.1:0")
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 4+rttPayload)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		frame := binary.BigEndian.AppendUint32(nil, rttPayload)
		frame = append(frame, make([]byte, rttPayload)...)
		echo := make([]byte, len(frame))
		runRTT(b, func() {
			if _, err := c.Write(frame); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, echo); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// runRTT times b.N calls of roundTrip and reports their p50 and p99.
func runRTT(b *testing.B, roundTrip func()) {
	for range 100 { // warm up: connections, buffers, scheduler
		roundTrip()
	}
	rtts := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		roundTrip()
		rtts[i] = time.Since(start)
	}
	b.StopTimer()
	slices.Sort(rtts)
	b.ReportMetric(float64(rtts[len(rtts)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(rtts[len(rtts)*99/100].Nanoseconds())/1e3, "p99-µs")
}
