package raftlog

import "hash/crc32"

// KnownCRC is a checksum the caller already holds for the last Len bytes
// of an entry's Data: the CRC32C (Castagnoli, as hash/crc32 computes it)
// of Data[len(Data)-Len:]. A Kafka record batch carries one over its bytes
// from the attributes on, which the leader checked when the batch was
// produced. When the entry is stored raw and the covered part is large (at
// least knownCRCMinBytes), the frame's CRC is derived from it (crc32
// combination) instead of reading those bytes again: a pass over memory
// that is often cold by then saved per entry (about 110 µs of Append's
// 180 µs per round of 16 × 64 KiB in BenchmarkAppend). The checksum
// guarding the bytes on disk is then the one their producer computed, so
// damage to them in memory after the check fails the frame's CRC rather
// than being sealed in under a fresh one. A wrong CRC makes a frame that
// fails its check like any damaged one: a read reports corruption, and
// recovery calls it corruption below the durable watermark and a torn
// tail in the last round. So a caller passes only CRCs it checked against
// the bytes (or computed). Len 0 means none.
type KnownCRC struct {
	Len int
	CRC uint32
}

// knownCRCMinBytes: below this, reading the bytes costs about what
// combining does (70-150 ns; 4 KiB of hot data takes ~170 ns at 23 GB/s,
// BenchmarkCRCCombine). It is also where bodies stop being copied into the
// round's buffer (zeroCopyBytes), so the bytes skipped are the cold ones.
const knownCRCMinBytes = 4 << 10

// crcCombine returns the CRC32C of a||b from crcA = CRC32C(a), crcB =
// CRC32C(b) and len(b) = lenB: crcA advanced over lenB zero bytes (a
// multiplication by x^(8·lenB) modulo the polynomial), then xored with
// crcB; the pre- and post-inversions of the standard CRC cancel out. The
// method is zlib's crc32_combine (Mark Adler).
func crcCombine(crcA, crcB uint32, lenB int) uint32 {
	if lenB <= 0 {
		return crcA ^ crcB
	}
	return multModP(xPow8N(uint64(lenB)), crcA) ^ crcB
}

// castagnoliReversed is the CRC32C polynomial, bit-reversed (LSB first),
// as hash/crc32.Castagnoli.
const castagnoliReversed = crc32.Castagnoli

// multModP multiplies a(x) by b(x) modulo the polynomial, both in the
// reflected representation (x^0 is the top bit).
func multModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ castagnoliReversed
		} else {
			b >>= 1
		}
	}
	return p
}

// x2n[k] is x^(2^k) modulo the polynomial, for every k an int's length
// can need (xPow8N starts at k = 3).
var x2n = func() (t [67]uint32) {
	t[0] = 1 << 30 // x^1
	for k := 1; k < len(t); k++ {
		t[k] = multModP(t[k-1], t[k-1])
	}
	return t
}()

// xPow8N is x^(8n) modulo the polynomial: n zero bytes.
func xPow8N(n uint64) uint32 {
	p := uint32(1) << 31 // x^0
	for k := 3; n != 0; n, k = n>>1, k+1 {
		if n&1 != 0 {
			p = multModP(x2n[k], p)
		}
	}
	return p
}

// frameCRC is the CRC32C of head followed by body, using tail for body's
// last tail.Len bytes when it is worth it.
func frameCRC(head, body []byte, tail KnownCRC) uint32 {
	crc := crc32.Checksum(head, crcTable)
	if tail.Len >= knownCRCMinBytes && tail.Len <= len(body) {
		crc = crc32.Update(crc, crcTable, body[:len(body)-tail.Len])
		return crcCombine(crc, tail.CRC, tail.Len)
	}
	return crc32.Update(crc, crcTable, body)
}
