package partition

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

func reCRC(b []byte) { binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli)) }

func TestRegressValidateGaps(t *testing.T) {
	// One record's bytes claiming 2^31-1 records.
	b := makeBatch(1, "x", 1)
	binary.BigEndian.PutUint32(b[23:], 1<<31-2)
	binary.BigEndian.PutUint32(b[57:], 1<<31-1)
	reCRC(b)
	if info, err := validateBatch(b, 1<<20); err == nil {
		t.Errorf("1-record batch claiming %d records accepted (takes that many offsets)", info.count)
	}
	// Control batch from a client.
	b = makeBatch(1, "x", 1)
	binary.BigEndian.PutUint16(b[21:], 0x20)
	reCRC(b)
	if _, err := validateBatch(b, 1<<20); err == nil {
		t.Errorf("control batch from a client accepted")
	}
	// Unknown compression codec 7.
	b = makeBatch(1, "x", 1)
	binary.BigEndian.PutUint16(b[21:], 7)
	reCRC(b)
	if _, err := validateBatch(b, 1<<20); err == nil {
		t.Errorf("compression codec 7 accepted")
	}
	// Garbage records section.
	b = makeBatch(2, "xy", 1)
	for i := 61; i < len(b); i++ {
		b[i] = 0xff
	}
	reCRC(b)
	if _, err := validateBatch(b, 1<<20); err == nil {
		t.Errorf("undecodable records accepted")
	}
}
