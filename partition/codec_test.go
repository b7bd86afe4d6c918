package partition

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// compressed re-encodes makeBatch's records with codec.
func compressed(t *testing.T, n int, codec int16, mangle func([]byte) []byte) []byte {
	t.Helper()
	plain := makeBatch(n, "compressible compressible compressible", 1)
	recs := plain[61:]
	var c []byte
	switch codec {
	case 1:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(recs)
		w.Close()
		c = buf.Bytes()
	case 2:
		c = snappy.Encode(nil, recs)
	case 3:
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		w.Write(recs)
		w.Close()
		c = buf.Bytes()
	case 4:
		e, _ := zstd.NewWriter(nil)
		c = e.EncodeAll(recs, nil)
	case 5: // snappy in xerial framing, as the Java client writes it
		codec = 2
		block := snappy.Encode(nil, recs)
		c = append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1)
		c = binary.BigEndian.AppendUint32(c, uint32(len(block)))
		c = append(c, block...)
	}
	if mangle != nil {
		c = mangle(c)
	}
	b := append(append([]byte{}, plain[:61]...), c...)
	binary.BigEndian.PutUint16(b[21:], uint16(codec))
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

func TestCompressedBatchesValidated(t *testing.T) {
	for _, codec := range []int16{1, 2, 3, 4, 5} {
		if _, err := validateBatch(compressed(t, 5, codec, nil), 1<<20); err != nil {
			t.Errorf("codec %d: valid batch rejected: %v", codec, err)
		}
		garbage := func(c []byte) []byte { return append(c[:len(c)/2:len(c)/2], 0xde, 0xad, 0xbe, 0xef) }
		if _, err := validateBatch(compressed(t, 5, codec, garbage), 1<<20); err == nil {
			t.Errorf("codec %d: corrupt compressed records accepted", codec)
		}
		// The header claims more records than the compressed section holds.
		b := compressed(t, 5, codec, nil)
		binary.BigEndian.PutUint32(b[23:], 9)
		binary.BigEndian.PutUint32(b[57:], 10)
		binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
		if _, err := validateBatch(b, 1<<20); err == nil {
			t.Errorf("codec %d: batch claiming 10 records with 5 inside accepted", codec)
		}
	}
}

// A compressed batch is stored and served exactly as sent.
func TestCompressedBatchRoundTrip(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	b := compressed(t, 4, 4, nil)
	r := c.send(1, append([]byte(nil), b...))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	got, err := c.waitLeader().Read(0, 1<<20)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0][21:], b[21:]) {
		t.Fatalf("read back %d batches, %v", len(got), err)
	}
}

// A snappy section holding the xerial magic but cut short of its 16-byte
// header is corrupt; it used to slice past the end and crash the broker
// (found by review).
func TestShortXerialHeaderRejected(t *testing.T) {
	for cut := len(xerialMagic); cut < xerialHeaderBytes; cut++ {
		short := func(c []byte) []byte { return c[:cut] }
		if _, err := validateBatch(compressed(t, 5, 5, short), 1<<20); err == nil {
			t.Errorf("xerial section of %d bytes accepted", cut)
		}
	}
}

// FuzzInflate: decompressing any bytes under any codec returns records or
// an error, never panics, and never returns more than the limit.
func FuzzInflate(f *testing.F) {
	for codec := int16(1); codec <= 5; codec++ {
		b := compressed(&testing.T{}, 3, codec, nil)
		f.Add(int16(binary.BigEndian.Uint16(b[21:])), b[61:])
	}
	f.Add(int16(2), append(append([]byte{}, xerialMagic...), 0, 0, 0, 1))
	f.Add(int16(2), append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, codec int16, src []byte) {
		out, err := inflate(codec, src)
		if err == nil && len(out) > maxInflateBytes {
			t.Fatalf("codec %d: %d bytes out, over the %d limit", codec, len(out), maxInflateBytes)
		}
	})
}
