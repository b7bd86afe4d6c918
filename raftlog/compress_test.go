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
	fs := vfs.NewMem(1)
	l, err := Open(fs, "p0", Options{SegmentBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	random := func() []byte {
		b := make([]byte, 1024)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	index := uint64(1)
	appendN := func(n int, data func() []byte) (bytesOnDisk int64) {
		for ; n > 0; n -= 64 {
			var ents []*pb.Entry
			for k := 0; k < min(n, 64); k++ {
				ents = append(ents, &pb.Entry{Index: new(index), Term: new(uint64(1)), Data: data()})
				index++
			}
			r, err := l.Append(Batch{Entries: ents})
			if err != nil {
				t.Fatal(err)
			}
			bytesOnDisk += r.Bytes()
			if err := l.Complete(r, r.Run(fs)); err != nil {
				t.Fatal(err)
			}
		}
		return bytesOnDisk
	}

	appendN(20000, random)
	// 8 tries, then a probe ending each run of 16, 32, ..., 1,024 entries
	// (7 probes in 2,032 entries), then one in every 1,024.
	want := int64(8 + 7 + (20000-8-2032)/1024)
	if l.compTries != want {
		t.Fatalf("%d snappy tries over 20,000 random entries, want %d", l.compTries, want)
	}

	compressible := bytes.Repeat([]byte("sluice "), 150)
	before := l.compTries
	appendN(1025, func() []byte { return compressible })
	if l.compTries-before < 1 || l.compFailures != 0 {
		t.Fatalf("no successful probe within 1,025 compressible entries (tries %d, failures %d)", l.compTries-before, l.compFailures)
	}
	before = l.compTries
	disk := appendN(640, func() []byte { return compressible })
	if l.compTries-before != 640 {
		t.Fatalf("%d tries over 640 compressible entries after the stream turned, want every one", l.compTries-before)
	}
	if raw := int64(640 * len(compressible)); disk > raw/4 {
		t.Fatalf("640 compressible entries took %d bytes on disk (raw %d)", disk, raw)
	}

	// Reading back returns the data as written, compressed or not.
	ents, err := l.Entries(index-700, index, 1<<30)
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
	fs := vfs.NewMem(1)
	l, err := Open(fs, "p0", Options{SegmentBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
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
	var disk int64
	const n = 640
	for i := uint64(1); i <= n; i += 64 {
		var ents []*pb.Entry
		for k := range uint64(64) {
			ents = append(ents, &pb.Entry{Index: new(i + k), Term: new(uint64(1)), Data: body()})
		}
		r, err := l.Append(Batch{Entries: ents})
		if err != nil {
			t.Fatal(err)
		}
		disk += r.Bytes()
		if err := l.Complete(r, r.Run(fs)); err != nil {
			t.Fatal(err)
		}
	}
	if disk < n*(1024+frameHeaderSize+entryMetaSize) {
		t.Fatalf("%d marginally compressible entries took %d bytes: stored compressed", n, disk)
	}
	if want := int64(8 + 5); l.compTries != want { // 8 tries, then probes 16, 48, 112, 240 and 496 entries after them
		t.Fatalf("%d snappy tries over %d entries, want %d", l.compTries, n, want)
	}
}
