package partition

// Decompression of produce batches, to validate the records inside a
// compressed batch as Kafka does. Bounded: a batch that inflates past
// maxInflateBytes is rejected (a compression bomb is bad input, not work).

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

const maxInflateBytes = 64 << 20

var errTooLarge = errors.New("decompressed batch exceeds the limit")

// xerialMagic starts snappy data framed the way the Java client writes it.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialHeaderBytes: the magic, then a version and a compatible version
// (int32 each).
const xerialHeaderBytes = 16

// inflate decompresses a batch's records section for codec (1 gzip,
// 2 snappy, 3 lz4, 4 zstd).
func inflate(codec int16, src []byte) ([]byte, error) {
	switch codec {
	case 1:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, err
		}
		return readLimited(r)
	case 2:
		if bytes.HasPrefix(src, xerialMagic) {
			if len(src) < xerialHeaderBytes {
				return nil, errors.New("truncated xerial header")
			}
			return unxerial(src[xerialHeaderBytes:])
		}
		return snappyBlock(src)
	case 3:
		return readLimited(lz4.NewReader(bytes.NewReader(src)))
	case 4:
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(maxInflateBytes))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(src, nil)
	}
	return nil, fmt.Errorf("unknown codec %d", codec)
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInflateBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInflateBytes {
		return nil, errTooLarge
	}
	return b, nil
}

func snappyBlock(src []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	if n > maxInflateBytes {
		return nil, errTooLarge
	}
	return snappy.Decode(nil, src)
}

// unxerial decodes xerial framing: blocks of (length u32 big-endian,
// snappy block).
func unxerial(src []byte) ([]byte, error) {
	var out []byte
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, errors.New("truncated xerial block header")
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return nil, errors.New("truncated xerial block")
		}
		b, err := snappyBlock(src[:n])
		if err != nil {
			return nil, err
		}
		if len(out)+len(b) > maxInflateBytes {
			return nil, errTooLarge
		}
		out = append(out, b...)
		src = src[n:]
	}
	return out, nil
}
