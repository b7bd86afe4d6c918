package raftlog

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/golang/snappy"
	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
)

// TestAdaptiveCompression: on an incompressible stream the log stops
// trying snappy after a few failures and then probes ever more rarely (one
// entry in 16, 32, ... 1,024); when the stream turns compressible, a probe
// notices within 1,024 entries and every entry after it is compressed.
func TestAdaptiveCompression(t *testing.T) {
	h := newCompressLog(t)
	rng := rand.New(rand.NewPCG(3, 4))
	random := func() []byte {
		b := make([]byte, 1024)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}

	h.appendN(20000, random)
	// 8 tries, then a probe ending each run of 16, 32, ..., 1,024 entries
	// (7 probes in 2,032 entries), then one in every 1,024.
	want := int64(8 + 7 + (20000-8-2032)/1024)
	if h.l.compTries != want {
		t.Fatalf("%d snappy tries over 20,000 random entries, want %d", h.l.compTries, want)
	}

	compressible := bytes.Repeat([]byte("sluice "), 150)
	before := h.l.compTries
	h.appendN(1025, func() []byte { return compressible })
	if h.l.compTries-before < 1 || h.l.compFailures != 0 {
		t.Fatalf("no successful probe within 1,025 compressible entries (tries %d, failures %d)", h.l.compTries-before, h.l.compFailures)
	}
	before = h.l.compTries
	disk := h.appendN(640, func() []byte { return compressible })
	if h.l.compTries-before != 640 {
		t.Fatalf("%d tries over 640 compressible entries after the stream turned, want every one", h.l.compTries-before)
	}
	if raw := int64(640 * len(compressible)); disk > raw/4 {
		t.Fatalf("640 compressible entries took %d bytes on disk (raw %d)", disk, raw)
	}

	// Reading back returns the data as written, compressed or not.
	ents, err := h.l.Entries(h.index-700, h.index, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !bytes.Equal(e.Data, compressible) {
			t.Fatalf("entry %d reads back %d bytes, not what was written", e.GetIndex(), len(e.Data))
		}
	}
}

// TestMarginalCompressionIsNotCompression: a Kafka batch of random records
// still gives snappy its headers to shrink, a few percent. Such bodies are
// stored raw and count as failures, so the log stops trying them too.
func TestMarginalCompressionIsNotCompression(t *testing.T) {
	h := newCompressLog(t)
	rng := rand.New(rand.NewPCG(5, 6))
	body := func() []byte {
		b := make([]byte, 1024) // 64 zero bytes of "headers", then random
		for i := 64; i < len(b); i++ {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	if b := body(); len(snappy.Encode(nil, b)) >= len(b) {
		t.Fatal("test data: snappy does not shrink the body at all")
	}
	const n = 640
	if disk := h.appendN(n, body); disk < n*(1024+frameHeaderSize) {
		t.Fatalf("%d marginally compressible entries took %d bytes: stored compressed", n, disk)
	}
	if want := int64(8 + 5); h.l.compTries != want { // 8 tries, then probes 16, 48, 112, 240 and 496 entries after them
		t.Fatalf("%d snappy tries over %d entries, want %d", h.l.compTries, n, want)
	}
}

// compressLog is a log on a Mem that the compression tests append to.
type compressLog struct {
	t     *testing.T
	fs    *vfs.Mem
	l     *Log
	index uint64 // the next entry's
}

func newCompressLog(t *testing.T) *compressLog {
	fs := vfs.NewMem(1)
	l, err := Open(fs, "p0", Options{SegmentBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &compressLog{t: t, fs: fs, l: l, index: 1}
}

// appendN appends n entries of data(), 64 to a round, runs the rounds and
// returns the bytes they wrote.
func (h *compressLog) appendN(n int, data func() []byte) (bytesOnDisk int64) {
	for ; n > 0; n -= 64 {
		var ents []*pb.Entry
		for k := 0; k < min(n, 64); k++ {
			ents = append(ents, &pb.Entry{Index: new(h.index), Term: new(uint64(1)), Data: data()})
			h.index++
		}
		r, err := h.l.Append(Batch{Entries: ents})
		if err != nil {
			h.t.Fatal(err)
		}
		bytesOnDisk += r.Bytes()
		if err := h.l.Complete(r, r.Run(h.fs)); err != nil {
			h.t.Fatal(err)
		}
	}
	return bytesOnDisk
}
