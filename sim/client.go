package sim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type clientKind uint8

const (
	producer      clientKind = iota // idempotent, acks=all, retries
	looseProducer                   // acks=1 (or 0), not idempotent, no retries
	consumer                        // reads by offset
)

// client is a simulated Kafka client speaking kmsg requests.
type client struct {
	w     *World
	id    int
	kind  clientKind
	conns map[int32]*conn

	leaders      []int32 // per partition, -1 unknown
	epochs       []int32
	metaInFlight bool

	// producers
	pid     int64
	epoch   int16
	seqs    []int32
	batches []*pbatch // in flight, per partition
	values  int
	stop    bool // liveness phase: no new batches

	// consumers
	pos     []int64
	seek    []bool
	polling bool
	final   bool // the liveness phase's reader
	end     bool // the same, polling once more after the group settled

	acks int16 // a loose producer's acks: 1 or 0

	// generation: a group member's generation, recorded on its polls.
	generation int32
	// respTerm: for an OffsetCommit or OffsetFetch answer being handled,
	// the answering coordinator's term in the group's offsets partition.
	respTerm uint64

	// dead: the process crashed (crash); it sends nothing more, and the
	// workload's ticks drive its successor, once started, instead.
	dead      bool
	successor *client
	// polled: it has fetched with pollTick (a consumer of the workload,
	// not the admin client or the group's auditor).
	polled bool
}

// pbatch is one produce batch with its retries.
type pbatch struct {
	id        int
	partition int32
	sends     []int // indexes into History.Sends
	values    []string
	baseSeq   int32
	pid       int64
	epoch     int16
	tries     int
}

const maxTries = 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (w *World) newClient(kind clientKind) *client {
	c := &client{w: w, id: len(w.clients), kind: kind, conns: map[int32]*conn{}, pid: -1, epoch: -1}
	p := w.cfg.Partitions
	c.leaders, c.epochs = make([]int32, p), make([]int32, p)
	for i := range c.leaders {
		c.leaders[i], c.epochs[i] = -1, -1
	}
	c.seqs, c.batches = make([]int32, p), make([]*pbatch, p)
	c.pos, c.seek = make([]int64, p), make([]bool, p)
	for i := range c.seek {
		c.seek[i] = true
	}
	w.clients = append(w.clients, c)
	return c
}

// randomNode picks a broker to ask for metadata.
func (c *client) randomNode() int32 { return int32(c.w.rng.IntN(c.w.cfg.Nodes) + 1) }

// refreshMetadata asks a random broker for the topic's leaders.
func (c *client) refreshMetadata() {
	if c.metaInFlight || c.dead {
		return
	}
	c.metaInFlight = true
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(c.w.topic)
	req.Topics = append(req.Topics, t)
	c.call(c.randomNode(), req, func(r kmsg.Response) {
		c.metaInFlight = false
		resp, _ := r.(*kmsg.MetadataResponse)
		if resp == nil {
			return
		}
		for _, t := range resp.Topics {
			if t.Topic == nil || *t.Topic != c.w.topic {
				continue
			}
			for _, p := range t.Partitions {
				if p.Partition < 0 || int(p.Partition) >= len(c.leaders) {
					continue
				}
				// Never go back to an older epoch's leader.
				if p.ErrorCode == 0 && p.LeaderEpoch >= c.epochs[p.Partition] {
					c.leaders[p.Partition], c.epochs[p.Partition] = p.Leader, p.LeaderEpoch
				}
			}
		}
	})
}

// initProducer gets a producer id (idempotent producers).
func (c *client) initProducer(then func()) {
	c.initProducerAs(-1, -1, then)
}

// bumpEpoch starts over at the next epoch of the same producer id
// (KIP-360: InitProducerId naming the current id and epoch), sequences
// from 0: after a batch of unknown outcome the old sequences cannot be
// trusted. Batches of the old epoch still in the network are fenced by
// the partitions that have seen the new one (INVALID_PRODUCER_EPOCH): a
// zombie write landing after the new epoch's would break send order. No
// new batch starts until the answer (pid -1 meanwhile).
func (c *client) bumpEpoch() {
	pid, epoch := c.pid, c.epoch
	c.pid = -1
	c.initProducerAs(pid, epoch, func() {})
}

// initProducerAs asks for a producer id: a new one (pid -1), or pid's
// next epoch. It asks again until answered without error.
func (c *client) initProducerAs(pid int64, epoch int16, then func()) {
	if c.dead {
		return
	}
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = 4
	req.ProducerID, req.ProducerEpoch = pid, epoch
	c.call(c.randomNode(), req, func(r kmsg.Response) {
		resp, _ := r.(*kmsg.InitProducerIDResponse)
		if resp == nil || resp.ErrorCode != 0 {
			c.w.after(50e6, func() { c.initProducerAs(pid, epoch, then) })
			return
		}
		c.pid, c.epoch = resp.ProducerID, resp.ProducerEpoch
		clear(c.seqs)
		then()
	})
}

// produceTick starts a new batch on the next free partition.
func (c *client) produceTick() {
	c = c.live()
	if c.dead || c.stop || (c.kind == producer && c.pid < 0) {
		return
	}
	w := c.w
	p := int32(w.rng.IntN(w.cfg.Partitions))
	if c.batches[p] != nil {
		return // one batch in flight per partition: send order is kept
	}
	w.batchSeq++
	b := &pbatch{id: w.batchSeq, partition: p, pid: -1, epoch: -1, baseSeq: -1}
	if c.kind == producer {
		b.pid, b.epoch, b.baseSeq = c.pid, c.epoch, c.seqs[p]
	}
	n := 1 + w.rng.IntN(3)
	for i := 0; i < n; i++ {
		c.values++
		v := fmt.Sprintf("c%d-%d", c.id, c.values)
		b.values = append(b.values, v)
		s := Send{Process: c.id, Partition: p, Value: v, Invoke: w.nowNs, Complete: -1, Outcome: Unknown,
			Idempotent: c.kind == producer, Acks: -1, ProducerID: b.pid, Epoch: b.epoch, Batch: b.id, Seq: -1}
		if c.kind == looseProducer {
			s.Acks = c.acks
		}
		if b.baseSeq >= 0 {
			s.Seq = b.baseSeq + int32(i)
		}
		b.sends = append(b.sends, len(w.hist.Sends))
		w.hist.Sends = append(w.hist.Sends, s)
	}
	c.batches[p] = b
	c.sendBatch(b)
}

func (c *client) sendBatch(b *pbatch) {
	w := c.w
	if c.dead {
		return
	}
	b.tries++
	leader := c.leaders[b.partition]
	if leader < 0 {
		c.refreshMetadata()
		w.after(w.uniform(20e6, 60e6), func() { c.retry(b) })
		return
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version = 11
	req.Acks, req.TimeoutMillis = -1, 3000
	if c.kind == looseProducer {
		req.Acks = c.acks
	}
	t := kmsg.NewProduceRequestTopic()
	t.Topic = w.topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition = b.partition
	pp.Records = encodeBatch(b.values, b.pid, b.epoch, b.baseSeq, w.nowMs(), w.cfg.ValueBytes)
	t.Partitions = append(t.Partitions, pp)
	req.Topics = append(req.Topics, t)
	if req.Acks == 0 {
		// Nothing comes back: the outcome is unknown at once.
		c.send(leader, req)
		c.finish(b, Unknown, -1)
		return
	}
	c.call(leader, req, func(r kmsg.Response) { c.produced(b, r) })
}

// retry sends b again, or gives up on it: its outcome stays unknown.
func (c *client) retry(b *pbatch) {
	if c.dead {
		return // the process died: b stays unknown, never completed
	}
	if c.kind == looseProducer || b.tries >= maxTries {
		c.finish(b, Unknown, -1)
		if c.kind == producer && c.pid >= 0 {
			c.bumpEpoch() // sequences after an unknown batch cannot be trusted
		}
		return
	}
	c.sendBatch(b)
}

func (c *client) produced(b *pbatch, r kmsg.Response) {
	w := c.w
	resp, _ := r.(*kmsg.ProduceResponse)
	if resp == nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		// Reset or timeout: it may have been appended.
		c.leaders[b.partition] = -1
		c.refreshMetadata()
		w.after(w.uniform(10e6, 50e6), func() { c.retry(b) })
		return
	}
	pr := resp.Topics[0].Partitions[0]
	switch err := kerr.ErrorForCode(pr.ErrorCode); {
	case pr.ErrorCode == 0:
		c.finish(b, OK, pr.BaseOffset)
	case err == kerr.OutOfOrderSequenceNumber || err == kerr.InvalidProducerEpoch || err == kerr.UnknownProducerID ||
		err == kerr.CorruptMessage || err == kerr.InvalidRecord || err == kerr.MessageTooLarge:
		// Definitely not appended by this attempt; an earlier attempt
		// would have made this one a duplicate, answered with its offset
		// — unless the partition has moved to a later epoch of this
		// producer, which fences the retry without looking at it.
		o := Fail
		if b.tries > 1 && err == kerr.InvalidProducerEpoch {
			o = Unknown
		}
		c.finish(b, o, -1)
		if c.kind == producer && b.pid == c.pid && b.epoch == c.epoch {
			c.bumpEpoch() // a batch of an earlier epoch needs no new one
		}
	default:
		// NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
		// REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR...: retriable, the same
		// sequence numbers make the retry safe.
		c.leaders[b.partition] = -1
		c.refreshMetadata()
		w.after(w.uniform(10e6, 50e6), func() { c.retry(b) })
	}
}

func (c *client) finish(b *pbatch, o Outcome, base int64) {
	w := c.w
	for i, si := range b.sends {
		s := &w.hist.Sends[si]
		s.Outcome, s.Complete = o, w.nowNs
		if o == OK {
			s.Offset = base + int64(i)
		}
	}
	if o == OK && c.kind == producer && b.pid == c.pid && b.epoch == c.epoch {
		c.seqs[b.partition] = b.baseSeq + int32(len(b.values))
	}
	if c.batches[b.partition] == b {
		c.batches[b.partition] = nil
	}
}

// pending reports whether any batch is still in flight.
func (c *client) pending() bool {
	for _, b := range c.batches {
		if b != nil {
			return true
		}
	}
	return false
}

// begin takes the consumer's one request slot for a request to partition
// p's leader, which it returns; false when a request is in flight, the
// client is dead, or p's leader is unknown (metadata is then refreshed).
func (c *client) begin(p int32) (int32, bool) {
	if c.polling || c.dead {
		return -1, false
	}
	c.polled = true
	leader := c.leaders[p]
	if leader < 0 {
		c.refreshMetadata()
		return -1, false
	}
	c.polling = true
	return leader, true
}

// pollTick fetches the next partition round-robin.
func (c *client) pollTick(p int32, done func()) {
	c = c.live()
	w := c.w
	leader, ok := c.begin(p)
	if !ok {
		return
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 50, 1, 1<<20
	req.SessionEpoch = -1
	t := kmsg.NewFetchRequestTopic()
	t.Topic = w.topic
	fp := kmsg.NewFetchRequestTopicPartition()
	// The leader epoch the client knows goes with the fetch (KIP-320, as
	// Kafka clients send it): a broker at another epoch refuses it, so an
	// answered poll's epoch is the one it was served at.
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = p, c.pos[p], 256<<10, c.epochs[p]
	fp.LogStartOffset = -1
	t.Partitions = append(t.Partitions, fp)
	req.Topics = append(req.Topics, t)
	poll := Poll{Process: c.id, Partition: p, Invoke: w.nowNs, From: c.pos[p], LeaderEpoch: c.epochs[p], Seek: c.seek[p], Final: c.final,
		End: c.end, Generation: c.generation}
	c.call(leader, req, func(r kmsg.Response) {
		c.polling = false
		defer func() {
			if done != nil {
				done()
			}
		}()
		resp, _ := r.(*kmsg.FetchResponse)
		if resp == nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			c.leaders[p] = -1
			c.refreshMetadata()
			return
		}
		fr := resp.Topics[0].Partitions[0]
		// A consumer repositioned while the fetch was in flight (a group
		// assignment, a reset) keeps its new position, as clients discard
		// such fetches; the poll is still what the broker answered.
		moved := c.pos[p] != poll.From || (c.seek[p] && !poll.Seek)
		switch fr.ErrorCode {
		case 0:
		case kerr.OffsetOutOfRange.Code:
			if moved {
				return
			}
			// Below the log start (retention deleted it) or past the end:
			// reset to the earliest offset, as auto.offset.reset=earliest.
			c.resetToEarliest(p, leader)
			return
		default:
			c.leaders[p] = -1
			c.refreshMetadata()
			return
		}
		recs, err := decodeBatches(fr.RecordBatches)
		if err != nil {
			w.fail("consumer %d: partition %d from offset %d: undecodable fetch response: %v", c.id, p, c.pos[p], err)
			return
		}
		poll.Complete, poll.Outcome, poll.HighWatermark, poll.LogStart = w.nowNs, OK, fr.HighWatermark, fr.LogStartOffset
		// Records before the fetch offset (a batch starting earlier) are
		// skipped, as clients do.
		for _, r := range recs {
			if r.Offset >= poll.From {
				poll.Records = append(poll.Records, r)
			}
		}
		w.hist.Polls = append(w.hist.Polls, poll)
		if moved {
			return
		}
		if n := len(poll.Records); n > 0 {
			c.pos[p] = poll.Records[n-1].Offset + 1
		}
		c.seek[p] = false
	})
}

// latestEvery: a plain consumer asks for a partition's LATEST offset on
// one of this many poll ticks.
const latestEvery = 8

// latest asks p's leader for the partition's LATEST offset (ListOffsets
// timestamp -1) at the leader epoch the consumer knows, and records the
// answer (History.Latests). It holds the consumer's one request slot, as a
// poll does.
func (c *client) latest(p int32) {
	c = c.live()
	w := c.w
	leader, ok := c.begin(p)
	if !ok {
		return
	}
	l := Latest{Process: c.id, Partition: p, Invoke: w.nowNs, LeaderEpoch: c.epochs[p]}
	c.listOffsets(leader, p, -1, c.epochs[p], func(offset int64) {
		l.Complete, l.Offset = w.nowNs, offset
		w.hist.Latests = append(w.hist.Latests, l)
	})
}

// listOffsets asks leader for partition p's offset at timestamp ts
// (ListOffsets v4) at leader epoch epoch (-1: unchecked), and hands an
// answer without error to ok. It frees the request slot; after an error
// the leader is looked up again.
func (c *client) listOffsets(leader, p int32, ts int64, epoch int32, ok func(offset int64)) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = 4, -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = c.w.topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = p, ts, epoch
	t.Partitions = append(t.Partitions, lp)
	req.Topics = append(req.Topics, t)
	c.call(leader, req, func(r kmsg.Response) {
		c.polling = false
		resp, _ := r.(*kmsg.ListOffsetsResponse)
		if resp == nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			c.leaders[p] = -1
			c.refreshMetadata()
			return
		}
		ok(resp.Topics[0].Partitions[0].Offset)
	})
}

// resetToEarliest moves the consumer of partition p to the leader's log
// start offset (ListOffsets earliest); until it answers, the partition is
// not polled. A failed answer leaves the position at 0 (tried again).
func (c *client) resetToEarliest(p int32, leader int32) {
	c.pos[p], c.seek[p] = 0, true
	c.polling = true
	c.listOffsets(leader, p, -2, -1, func(offset int64) {
		if c.seek[p] && c.pos[p] == 0 {
			// Only while the reset is still pending: a late answer (after
			// the consumer polled again) must not move it backwards.
			c.pos[p] = max(offset, 0)
		}
	})
}

// encodeBatch builds an uncompressed magic-2 batch of values, each padded
// to valueBytes (padValue).
func encodeBatch(values []string, pid int64, epoch int16, baseSeq int32, nowMs int64, valueBytes int) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: padValue(v, valueBytes)}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: nowMs, MaxTimestamp: nowMs,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: baseSeq, NumRecords: int32(len(values)), Records: recs}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// padValue is v's record value, n bytes long when n leaves room: v, a
// '|', then bytes generated from v alone (incompressible), so that every
// retry of a batch sends the same bytes and a reader can check them all
// (Config.ValueBytes).
func padValue(v string, n int) []byte {
	if n <= len(v)+1 {
		return []byte(v)
	}
	b := make([]byte, n, n+7)
	copy(b, v)
	b[len(v)] = '|'
	x := uint64(14695981039346656037) // FNV-1a of v seeds a splitmix64
	for i := 0; i < len(v); i++ {
		x = (x ^ uint64(v[i])) * 1099511628211
	}
	for i := len(v) + 1; i < n; i += 8 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		binary.LittleEndian.PutUint64(b[i:i+8:cap(b)], z^z>>31)
	}
	return b
}

// unpadValue is the identity a record value was padded from, once its
// padding checks out.
func unpadValue(b []byte) (string, error) {
	i := bytes.IndexByte(b, '|')
	if i < 0 {
		return string(b), nil
	}
	v := string(b[:i])
	if !bytes.Equal(b, padValue(v, len(b))) {
		return "", fmt.Errorf("value %q: its %d bytes of padding are damaged", v, len(b)-i-1)
	}
	return v, nil
}

// decodeBatches parses concatenated uncompressed batches.
func decodeBatches(b []byte) ([]Record, error) {
	var out []Record
	for len(b) > 0 {
		if len(b) < 12 {
			return nil, fmt.Errorf("%d trailing bytes", len(b))
		}
		size := int(binary.BigEndian.Uint32(b[8:12])) + 12
		if size > len(b) || size < 61 {
			return nil, fmt.Errorf("batch of %d bytes in %d", size, len(b))
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b[:size]); err != nil {
			return nil, err
		}
		if crc32.Checksum(b[21:size], castagnoli) != uint32(rb.CRC) {
			return nil, fmt.Errorf("batch at offset %d: CRC mismatch", rb.FirstOffset)
		}
		raw := rb.Records
		for i := int32(0); i < rb.NumRecords; i++ {
			n, used := binary.Varint(raw)
			if used <= 0 || n < 0 || int64(len(raw)-used) < n {
				return nil, fmt.Errorf("batch at offset %d: record %d truncated", rb.FirstOffset, i)
			}
			var r kmsg.Record
			if err := r.ReadFrom(raw[:used+int(n)]); err != nil {
				return nil, err
			}
			raw = raw[used+int(n):]
			v, err := unpadValue(r.Value)
			if err != nil {
				return nil, fmt.Errorf("batch at offset %d: record %d: %w", rb.FirstOffset, i, err)
			}
			out = append(out, Record{Offset: rb.FirstOffset + int64(r.OffsetDelta), Value: v})
		}
		b = b[size:]
	}
	return out, nil
}

// live is the process now in c's place: c, or its successor (a crashed
// client's replacement, transitively).
func (c *client) live() *client {
	for c.dead && c.successor != nil {
		c = c.successor
	}
	return c
}

// crash kills c's process: its connections close (requests already written
// still reach the brokers), every call in flight is abandoned (its sends
// stay Unknown and never complete in the history), and nothing it had
// scheduled runs. After downNs a new process of the same kind replaces it
// with a new identity: a new client id (the checker's process), a fresh
// metadata view and, for an idempotent producer, a new producer id from
// InitProducerId; a consumer starts over from offset 0. It returns nothing
// the caller must drive: the workload's ticks for c reach the successor.
func (c *client) crash(downNs int64) {
	w := c.w
	c.dead = true
	ids := make([]int32, 0, len(c.conns))
	for id := range c.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c.conns[id].abandon()
	}
	clear(c.batches)
	w.after(downNs, func() {
		n := w.newClient(c.kind)
		n.acks, n.stop = c.acks, c.stop
		c.successor = n
		w.record("client-replaced", uint64(c.id), uint64(n.id))
		n.refreshMetadata()
		if n.kind == producer {
			n.initProducer(func() {})
		}
	})
}
