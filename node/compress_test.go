package node

import (
	"bytes"
	"compress/gzip"
	"slices"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// compressBatch is makeBatch with its records compressed by codec (1 gzip,
// 2 snappy, 3 lz4, 4 zstd).
func compressBatch(t *testing.T, codec int16, n int, value string) []byte {
	t.Helper()
	plain := makeBatch(n, value, 1000)
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(plain); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	switch codec {
	case 1:
		w := gzip.NewWriter(&buf)
		w.Write(rb.Records)
		w.Close()
	case 2:
		buf.Write(snappy.Encode(nil, rb.Records))
	case 3:
		w := lz4.NewWriter(&buf)
		w.Write(rb.Records)
		w.Close()
	case 4:
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(rb.Records)
		w.Close()
	}
	rb.Attributes |= codec
	rb.Records = buf.Bytes()
	return finishBatch(rb.AppendTo(nil))
}

// Every compression codec is accepted and stored as sent: the batch read
// back is the one produced, byte for byte from its attributes on (the
// broker sets only the base offset and the partition leader epoch, which
// the CRC does not cover). A compressed batch whose records do not
// decompress is CORRUPT_MESSAGE.
func TestProduceCompressedStoredAsSent(t *testing.T) {
	c, _ := oneBroker(t)
	value := string(bytes.Repeat([]byte("compressible "), 20))
	for _, tc := range []struct {
		name  string
		codec int16
	}{{"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}} {
		t.Run(tc.name, func(t *testing.T) {
			sent := compressBatch(t, tc.codec, 5, value)
			off := c.mustProduce(1, "t", 0, slices.Clone(sent))
			resp := c.do(1, fetchReq(12, "t", [16]byte{}, 0, off, 0, 0, 1<<20, 1<<20)).(*kmsg.FetchResponse)
			op := resp.Topics[0].Partitions[0]
			checkCode(t, "fetch", op.ErrorCode, nil)
			got := splitBatches(t, op.RecordBatches)
			if len(got) == 0 {
				t.Fatal("fetched nothing")
			}
			if !bytes.Equal(got[0][8:12], sent[8:12]) || !bytes.Equal(got[0][16:], sent[16:]) {
				t.Errorf("stored batch differs from the one sent:\n got %x\nsent %x", got[0], sent)
			}
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(got[0]); err != nil || rb.FirstOffset != off || rb.NumRecords != 5 {
				t.Errorf("fetched batch: err %v, base offset %d (want %d), %d records", err, rb.FirstOffset, off, rb.NumRecords)
			}

			bad := compressBatch(t, tc.codec, 2, value)
			var rbb kmsg.RecordBatch
			rbb.ReadFrom(bad)
			rbb.Records = bytes.Repeat([]byte{0xa5}, len(rbb.Records))
			op2 := c.produce(1, "t", 0, finishBatch(rbb.AppendTo(nil)))
			checkCode(t, "records that do not decompress", op2.ErrorCode, kerr.CorruptMessage)
		})
	}
}
