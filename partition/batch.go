package partition

// Produce batches and the proposal envelope.
//
// A Kafka record batch (magic 2) begins:
//
//	0  baseOffset            int64   outside the CRC: stamped by the leader
//	8  batchLength           int32
//	12 partitionLeaderEpoch  int32   outside the CRC: stamped (= raft term)
//	16 magic                 int8    must be 2
//	17 crc                   uint32  CRC32C of bytes 21..end
//	21 attributes            int16
//	23 lastOffsetDelta       int32
//	27 baseTimestamp         int64
//	35 maxTimestamp          int64
//	43 producerId ...
//
// The leader proposes each batch inside an envelope:
//
//	proposal id u64 | leader clock ms i64 | batch
//
// so the proposal's fate can be read back from the log, and time-based
// state is computed from the leader's clock stamp, never a replica's own.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/raftlog"
)

const (
	batchHeaderBytes = 61
	envelopeBytes    = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchInfo is what the partition needs from a batch header.
type batchInfo struct {
	count        int64 // lastOffsetDelta + 1
	maxTimestamp int64
	recordsMax   int64 // the records' largest timestamp (validateBatch only)
	nullKey      bool  // some record has no key (validateBatch only)
}

// validateBatch checks a produce batch: one whole magic-2 batch, a valid
// CRC32C, sane counts, within maxBytes.
func validateBatch(b []byte, maxBytes int) (batchInfo, error) {
	if len(b) > maxBytes {
		return batchInfo{}, fmt.Errorf("%w: batch of %d bytes exceeds %d", kerr.MessageTooLarge, len(b), maxBytes)
	}
	if len(b) < batchHeaderBytes {
		return batchInfo{}, fmt.Errorf("%w: batch of %d bytes is shorter than its header", kerr.InvalidRecord, len(b))
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		return batchInfo{}, fmt.Errorf("%w: %v", kerr.CorruptMessage, err)
	}
	if rb.Magic != 2 {
		return batchInfo{}, fmt.Errorf("%w: magic %d (produce v3+ takes magic 2 only)", kerr.InvalidRecord, rb.Magic)
	}
	if int(rb.Length)+12 != len(b) {
		return batchInfo{}, fmt.Errorf("%w: batch length %d for %d bytes", kerr.InvalidRecord, rb.Length, len(b))
	}
	if rb.LastOffsetDelta < 0 || rb.NumRecords != rb.LastOffsetDelta+1 {
		return batchInfo{}, fmt.Errorf("%w: lastOffsetDelta %d with %d records", kerr.InvalidRecord, rb.LastOffsetDelta, rb.NumRecords)
	}
	if crc32.Checksum(b[21:], castagnoli) != uint32(rb.CRC) {
		return batchInfo{}, fmt.Errorf("%w: batch CRC mismatch", kerr.CorruptMessage)
	}
	if err := checkAttributes(rb.Attributes); err != nil {
		return batchInfo{}, err
	}
	if rb.ProducerID >= 0 && rb.FirstSequence < 0 {
		// As Kafka's LogValidator: an idempotent batch carries a sequence.
		return batchInfo{}, fmt.Errorf("%w: producer %d with base sequence %d", kerr.InvalidRecord, rb.ProducerID, rb.FirstSequence)
	}
	recordsMax, nullKey, err := checkRecords(rb)
	if err != nil {
		return batchInfo{}, err
	}
	return batchInfo{count: int64(rb.LastOffsetDelta) + 1, maxTimestamp: rb.MaxTimestamp, recordsMax: recordsMax, nullKey: nullKey}, nil
}

// stampCreateTime makes a batch of a CreateTime topic say so, as Kafka's
// LogValidator: the timestamp type CreateTime (a client may not set
// LogAppendTime) and the records' own largest timestamp as the header's.
// Retention, ListOffsets by time and MAX_TIMESTAMP trust the header, so one
// claiming the epoch would have retention delete records written now. The
// CRC covers both: recomputed, only when something changed.
func stampCreateTime(b []byte, recordsMax int64) {
	attrs := binary.BigEndian.Uint16(b[21:])
	if attrs&attrLogAppendTime == 0 && int64(binary.BigEndian.Uint64(b[35:])) == recordsMax {
		return
	}
	binary.BigEndian.PutUint16(b[21:], attrs&^attrLogAppendTime)
	binary.BigEndian.PutUint64(b[35:], uint64(recordsMax))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
}

// Batch attribute bits (Kafka's record batch v2).
const (
	attrCodecMask     = 0x07 // 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

func checkAttributes(attrs int16) error {
	if codec := attrs & attrCodecMask; codec > 4 {
		return fmt.Errorf("%w: unknown compression codec %d", kerr.CorruptMessage, codec)
	}
	if attrs&attrControl != 0 {
		return fmt.Errorf("%w: control batches come from the broker, not clients", kerr.InvalidRecord)
	}
	if attrs&attrTransactional != 0 {
		// Transactions are a later feature; never store half of one.
		return fmt.Errorf("%w: transactional batches are not supported yet", kerr.InvalidRecord)
	}
	return nil
}

// checkRecords decodes a batch's records (decompressing them first, within
// a bound): exactly NumRecords of them, offset deltas 0..n-1, filling the
// section exactly. It returns the largest record timestamp and whether
// some record has no key. The batch is stored as sent, still compressed.
func checkRecords(rb kmsg.RecordBatch) (maxTimestamp int64, nullKey bool, err error) {
	rest := rb.Records
	if codec := rb.Attributes & attrCodecMask; codec != 0 {
		if rest, err = inflate(codec, rb.Records); err != nil {
			return 0, false, fmt.Errorf("%w: codec %d: %v", kerr.CorruptMessage, codec, err)
		}
	}
	maxTimestamp = -1 // Kafka's NO_TIMESTAMP
	for i := int32(0); i < rb.NumRecords; i++ {
		n, used := binary.Varint(rest)
		if used <= 0 || n < 0 || int64(len(rest)-used) < n {
			return 0, false, fmt.Errorf("%w: record %d of %d is truncated", kerr.CorruptMessage, i, rb.NumRecords)
		}
		var r kmsg.Record
		if err := r.ReadFrom(rest[:used+int(n)]); err != nil {
			return 0, false, fmt.Errorf("%w: record %d: %v", kerr.CorruptMessage, i, err)
		}
		if r.OffsetDelta != i {
			return 0, false, fmt.Errorf("%w: record %d has offset delta %d", kerr.CorruptMessage, i, r.OffsetDelta)
		}
		maxTimestamp = max(maxTimestamp, rb.FirstTimestamp+r.TimestampDelta64)
		nullKey = nullKey || r.Key == nil
		rest = rest[used+int(n):]
	}
	if len(rest) != 0 {
		return 0, false, fmt.Errorf("%w: %d bytes after the last record", kerr.CorruptMessage, len(rest))
	}
	return maxTimestamp, nullKey, nil
}

// stamp writes the offsets and epoch that lie outside the batch CRC.
func stamp(b []byte, baseOffset int64, epoch int32) {
	binary.BigEndian.PutUint64(b[0:], uint64(baseOffset))
	binary.BigEndian.PutUint32(b[12:], uint32(epoch))
}

// stampAppendTime makes a batch LogAppendTime: the timestamp-type attribute
// and the max timestamp (which consumers then use for every record) are
// inside the CRC, so the CRC32C is recomputed, once, on the leader.
func stampAppendTime(b []byte, nowMs int64) {
	attrs := binary.BigEndian.Uint16(b[21:])
	binary.BigEndian.PutUint16(b[21:], attrs|0x08)
	binary.BigEndian.PutUint64(b[35:], uint64(nowMs))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
}

func stampedOffset(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }

// headerInfo reads count and max timestamp from a batch already validated
// by the leader (replicas trust the header; the CRC was checked once).
func headerInfo(b []byte) batchInfo {
	return batchInfo{
		count:        int64(int32(binary.BigEndian.Uint32(b[23:]))) + 1,
		maxTimestamp: int64(binary.BigEndian.Uint64(b[35:])),
	}
}

func encodeEnvelope(id uint64, clockMs int64, batch []byte) []byte {
	out := make([]byte, envelopeBytes+len(batch))
	binary.LittleEndian.PutUint64(out, id)
	binary.LittleEndian.PutUint64(out[8:], uint64(clockMs))
	copy(out[envelopeBytes:], batch)
	return out
}

// knownCRC is the CRC32C a produce entry's batch carries over its bytes
// from the attributes on: the leader checked it against the bytes before
// proposing (validateBatch), or computed it when it stamped LogAppendTime,
// and what the leader stamps later lies before the attributes. The log
// derives the entry's frame CRC from it (raftlog.KnownCRC), on every
// replica, instead of reading the batch again. data must hold a produce
// envelope (entryCount > 0).
func knownCRC(data []byte) raftlog.KnownCRC {
	b := data[envelopeBytes:]
	return raftlog.KnownCRC{Len: len(b) - 21, CRC: binary.BigEndian.Uint32(b[17:])}
}

// decodeEnvelope splits an entry's data; ok is false for entries that are
// not produce envelopes (empty leader no-ops).
func decodeEnvelope(data []byte) (id uint64, clockMs int64, batch []byte, ok bool) {
	if len(data) < envelopeBytes+batchHeaderBytes {
		return 0, 0, nil, false
	}
	return binary.LittleEndian.Uint64(data), int64(binary.LittleEndian.Uint64(data[8:])), data[envelopeBytes:], true
}
