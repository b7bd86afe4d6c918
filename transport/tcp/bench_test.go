package tcp

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"sluice/transport"
)

// Throughput between two brokers on loopback, beside a raw TCP baseline
// measured in the same run. Each op is one raft message: a MsgApp with one
// entry of the payload size. A window bounds the messages in flight (Send
// never blocks; without it the sender would only measure drops).
//
//	go test -run '^$' -bench . -benchtime 2s ./transport/tcp

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
