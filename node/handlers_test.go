package node

// Table tests per Kafka API, each asserting the exact error code (kerr) the
// broker answers, over the deterministic harness in harness_test.go.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/transport"
)

func code(e *kerr.Error) int16 {
	if e == nil {
		return 0
	}
	return e.Code
}

func errName(c int16) string {
	if c == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(c).Error()
}

func checkCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	if got != code(want) {
		t.Errorf("%s: error %d (%s), want %d (%s)", what, got, errName(got), code(want), errName(code(want)))
	}
}

func strp(s string) *string { return &s }

// oneBroker is a one-broker cluster with topic "t" (2 partitions) and topic
// "small" (max.message.bytes=1000).
func oneBroker(t *testing.T) (*cluster, *topicInfo) {
	t.Helper()
	c := newCluster(t, 1, 1)
	tp := c.createTopic("t", 2, 1, nil)
	c.createTopic("small", 1, 1, nil, "max.message.bytes", "1000")
	return c, tp
}

// leaderAndFollower returns the leader of topic/p and one other replica.
func leaderAndFollower(t *testing.T, c *cluster, topic string, p int32) (leader, follower int32) {
	t.Helper()
	leader = c.leaderOf(topic, p)
	for _, r := range c.topic(leader, topic).Replicas[p] {
		if r != leader {
			return leader, r
		}
	}
	t.Fatalf("%s/%d has no follower", topic, p)
	return 0, 0
}

// --- Produce ---------------------------------------------------------------

func TestProduceErrors(t *testing.T) {
	c, tp := oneBroker(t)
	unknownID := [16]byte{0xde, 0xad}
	corruptCRC := makeBatch(3, "v", 1000)
	corruptCRC[len(corruptCRC)-1] ^= 0xff // a record byte: the CRC no longer matches
	tooBig := makeBatch(1, strings.Repeat("x", 2000), 1000)
	tests := []struct {
		name      string
		version   int16
		acks      int16
		topic     string
		id        [16]byte
		partition int32
		records   []byte
		txn       bool
		want      *kerr.Error
		appended  int64 // records appended to t/0 on success
	}{
		{name: "acks=1", version: 12, acks: 1, topic: "t", records: makeBatch(3, "a", 1000), appended: 3},
		{name: "acks=all", version: 12, acks: -1, topic: "t", records: makeBatch(2, "b", 1000), appended: 2},
		{name: "oldest served version v3", version: 3, acks: -1, topic: "t", records: makeBatch(1, "c", 1000), appended: 1},
		{name: "v13 by topic id", version: 13, acks: -1, id: tp.id, records: makeBatch(1, "d", 1000), appended: 1},
		{name: "empty records", version: 12, acks: -1, topic: "t", records: []byte{}, want: kerr.InvalidRecord},
		{name: "batch over max.message.bytes", version: 12, acks: -1, topic: "small", records: tooBig, want: kerr.MessageTooLarge},
		{name: "bad CRC", version: 12, acks: -1, topic: "t", records: corruptCRC, want: kerr.CorruptMessage},
		{name: "lastOffsetDelta disagrees with the record count", version: 12, acks: -1, topic: "t",
			records: makeBatchWith(3, "e", 1000, func(rb *kmsg.RecordBatch) { rb.LastOffsetDelta = 5 }), want: kerr.InvalidRecord},
		{name: "two batches in one partition", version: 12, acks: -1, topic: "t",
			records: append(makeBatch(1, "f", 1000), makeBatch(1, "g", 1000)...), want: kerr.InvalidRecord},
		{name: "unknown topic", version: 12, acks: -1, topic: "nope", records: makeBatch(1, "h", 1000), want: kerr.UnknownTopicOrPartition},
		{name: "v13 unknown topic id", version: 13, acks: -1, id: unknownID, records: makeBatch(1, "i", 1000), want: kerr.UnknownTopicID},
		{name: "partition out of range", version: 12, acks: -1, topic: "t", partition: 2, records: makeBatch(1, "j", 1000), want: kerr.UnknownTopicOrPartition},
		{name: "negative partition", version: 12, acks: -1, topic: "t", partition: -1, records: makeBatch(1, "k", 1000), want: kerr.UnknownTopicOrPartition},
		{name: "acks=2", version: 12, acks: 2, topic: "t", records: makeBatch(1, "l", 1000), want: kerr.InvalidRequiredAcks},
		{name: "acks=-2", version: 12, acks: -2, topic: "t", records: makeBatch(1, "m", 1000), want: kerr.InvalidRequiredAcks},
		{name: "transactional id (no transactions yet)", version: 12, acks: -1, topic: "t", txn: true, records: makeBatch(1, "n", 1000), want: kerr.InvalidRequest},
	}
	var leo int64
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := produceReq(tc.version, tc.acks, 5000, tc.topic, tc.id, map[int32][]byte{tc.partition: tc.records})
			if tc.txn {
				req.TransactionID = strp("txn")
			}
			resp := c.do(1, req).(*kmsg.ProduceResponse)
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("response has %d topics; want the request's one topic and partition", len(resp.Topics))
			}
			rt := resp.Topics[0]
			if rt.Topic != tc.topic && tc.version < 13 || rt.TopicID != tc.id && tc.version >= 13 {
				t.Errorf("response names topic %q %x", rt.Topic, rt.TopicID)
			}
			op := rt.Partitions[0]
			if op.Partition != tc.partition {
				t.Errorf("response partition %d, want %d", op.Partition, tc.partition)
			}
			checkCode(t, "produce", op.ErrorCode, tc.want)
			if tc.want != nil {
				if op.BaseOffset != -1 {
					t.Errorf("failed produce has base offset %d, want -1", op.BaseOffset)
				}
				return
			}
			if op.BaseOffset != leo {
				t.Errorf("base offset %d, want %d", op.BaseOffset, leo)
			}
			if op.LogAppendTime != -1 || op.LogStartOffset != 0 {
				t.Errorf("log append time %d, log start %d; want -1, 0", op.LogAppendTime, op.LogStartOffset)
			}
			leo += tc.appended
		})
	}
	// Nothing a refused request carried reached the log.
	if got := c.hostedOn(1, "t", 0).p.LogEndOffset(); got != leo {
		t.Errorf("t/0 log end offset %d, want %d", got, leo)
	}
	if got := c.hostedOn(1, "t", 1).p.LogEndOffset(); got != 0 {
		t.Errorf("t/1 log end offset %d, want 0", got)
	}
}

// A produce request spanning topics and partitions answers each of them,
// the good ones with their offsets and the bad ones with their errors.
func TestProduceMixedRequest(t *testing.T) {
	c, _ := oneBroker(t)
	req := produceReq(12, -1, 5000, "t", [16]byte{}, map[int32][]byte{0: makeBatch(2, "a", 1), 1: makeBatch(1, "b", 1), 7: makeBatch(1, "c", 1)})
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "nope"
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: makeBatch(1, "d", 1)}}
	req.Topics = append(req.Topics, rt)
	rt = kmsg.NewProduceRequestTopic()
	rt.Topic = "small"
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: makeBatch(4, "e", 1)}}
	req.Topics = append(req.Topics, rt)
	resp := c.do(1, req).(*kmsg.ProduceResponse)
	type res struct {
		code int16
		base int64
	}
	got := map[string]res{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			got[rt.Topic+"/"+string(rune('0'+p.Partition))] = res{p.ErrorCode, p.BaseOffset}
		}
	}
	want := map[string]res{
		"t/0": {0, 0}, "t/1": {0, 0}, "t/7": {kerr.UnknownTopicOrPartition.Code, -1},
		"nope/0": {kerr.UnknownTopicOrPartition.Code, -1}, "small/0": {0, 0},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d partitions, want %d: %v", len(got), len(want), got)
	}
}

func TestProduceNotLeader(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.createTopic("t", 1, 3, nil)
	leader, follower := leaderAndFollower(t, c, "t", 0)
	term := c.hostedOn(leader, "t", 0).term
	// A broker that hosts no replica answers from its leader table.
	c.createTopic("solo", 1, 1, [][]int32{{leader}})
	for _, tc := range []struct {
		name    string
		to      int32
		topic   string
		version int16
		hints   bool
	}{
		{"follower v12", follower, "t", 12, true},
		{"follower v10", follower, "t", 10, true},
		{"follower v9 (no KIP-951 fields)", follower, "t", 9, false},
		{"no replica here v12", follower, "solo", 12, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do(tc.to, produceReq(tc.version, -1, 5000, tc.topic, [16]byte{}, map[int32][]byte{0: makeBatch(1, "x", 1)})).(*kmsg.ProduceResponse)
			op := resp.Topics[0].Partitions[0]
			checkCode(t, "produce to a non-leader", op.ErrorCode, kerr.NotLeaderForPartition)
			if !tc.hints {
				return
			}
			wantTerm := term
			if tc.topic == "solo" {
				wantTerm = c.hostedOn(leader, "solo", 0).term
			}
			if op.CurrentLeader.LeaderID != leader || op.CurrentLeader.LeaderEpoch != int32(wantTerm) {
				t.Errorf("CurrentLeader %+v, want leader %d epoch %d", op.CurrentLeader, leader, wantTerm)
			}
			if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != leader || resp.Brokers[0].Host != c.cfgs[leader].Brokers[leader-1].Host ||
				resp.Brokers[0].Port != c.cfgs[leader].Brokers[leader-1].Port {
				t.Errorf("Brokers %+v, want only broker %d's endpoint", resp.Brokers, leader)
			}
		})
	}
}

func TestProduceAcksZero(t *testing.T) {
	c, _ := oneBroker(t)
	for _, tc := range []struct {
		name      string
		topic     string
		records   []byte
		wantClose bool
	}{
		{"success", "t", makeBatch(2, "a", 1), false},
		{"unknown topic", "nope", makeBatch(1, "b", 1), true},
		{"bad CRC (partition-level failure)", "t", func() []byte { b := makeBatch(1, "c", 1); b[len(b)-1] ^= 1; return b }(), true},
		{"too large", "small", makeBatch(1, strings.Repeat("x", 2000), 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := c.handle(1, produceReq(12, 0, 5000, tc.topic, [16]byte{}, map[int32][]byte{0: tc.records}))
			c.settle()
			r, ok := c.answered(k)
			if !ok {
				t.Fatal("acks=0 produce got no Response (the runtime needs one to release later responses)")
			}
			if r.Msg != nil {
				t.Errorf("acks=0 produce answered with a message %+v", r.Msg)
			}
			if r.Close != tc.wantClose {
				t.Errorf("Close %v, want %v", r.Close, tc.wantClose)
			}
		})
	}
	c.ticks(2)
	if got := c.hostedOn(1, "t", 0).p.LogEndOffset(); got != 2 {
		t.Errorf("t/0 log end offset %d after the acks=0 produces, want 2", got)
	}
}

func TestProduceTimeout(t *testing.T) {
	c := newCluster(t, 5, 3)
	c.createTopic("t", 1, 3, nil)
	leader, _ := leaderAndFollower(t, c, "t", 0)
	c.ticks(3)
	// The leader can no longer reach its followers: acks=all cannot complete.
	for _, id := range c.ids {
		if id != leader {
			c.net.Partition(uint64(leader), uint64(id))
		}
	}
	all := c.handle(leader, produceReq(12, -1, 500, "t", [16]byte{}, map[int32][]byte{0: makeBatch(1, "a", 1)}))
	one := c.handle(leader, produceReq(12, 1, 500, "t", [16]byte{}, map[int32][]byte{0: makeBatch(1, "b", 1)}))
	c.settle()
	r, ok := c.answered(one)
	if !ok {
		t.Fatal("acks=1 produce on an isolated leader not answered at once")
	}
	op := r.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	checkCode(t, "acks=1", op.ErrorCode, nil)
	if op.BaseOffset != 1 {
		t.Errorf("acks=1 base offset %d, want 1", op.BaseOffset)
	}
	for i := 0; i < 4; i++ {
		c.tick()
		if _, ok := c.answered(all); ok {
			t.Fatalf("acks=all produce answered after %d ms, before its 500 ms timeout", (i+1)*tickMs)
		}
	}
	r = c.await(all, 2)
	op = r.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	checkCode(t, "acks=all past its timeout", op.ErrorCode, kerr.RequestTimedOut)
}

func TestProduceIdempotent(t *testing.T) {
	c, _ := oneBroker(t)
	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipid.Version = 4
	pr := c.do(1, ipid).(*kmsg.InitProducerIDResponse)
	checkCode(t, "InitProducerId", pr.ErrorCode, nil)
	batch := func(seq int32, n int) []byte {
		return makeBatchWith(n, "p", 1000, func(rb *kmsg.RecordBatch) {
			rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = pr.ProducerID, pr.ProducerEpoch, seq
		})
	}
	for _, tc := range []struct {
		name string
		seq  int32
		n    int
		want *kerr.Error
		base int64
	}{
		{"first", 0, 3, nil, 0},
		{"retry of the first", 0, 3, nil, 0},
		{"next", 3, 2, nil, 3},
		{"gap", 9, 1, kerr.OutOfOrderSequenceNumber, -1},
		{"after the gap was refused", 5, 1, nil, 5},
	} {
		op := c.produce(1, "t", 0, batch(tc.seq, tc.n))
		checkCode(t, tc.name, op.ErrorCode, tc.want)
		if op.BaseOffset != tc.base {
			t.Errorf("%s: base offset %d, want %d", tc.name, op.BaseOffset, tc.base)
		}
	}
	if got := c.hostedOn(1, "t", 0).p.LogEndOffset(); got != 6 {
		t.Errorf("log end offset %d, want 6 (the retry is not appended twice)", got)
	}
}

// --- Fetch -----------------------------------------------------------------

// fetchFixture is a one-broker cluster whose t/0 holds batches of 3, 2 and
// 1 records (offsets 0, 3, 5; log end 6).
func fetchFixture(t *testing.T) (*cluster, *topicInfo, [][]byte) {
	c, tp := oneBroker(t)
	var sent [][]byte
	for i, n := range []int{3, 2, 1} {
		b := makeBatch(n, "f", int64(1000*(i+1)))
		sent = append(sent, slices.Clone(b))
		c.mustProduce(1, "t", 0, b)
	}
	return c, tp, sent
}

// fetched checks a partition's record set and returns its batches' base
// offsets.
func fetchedOffsets(t *testing.T, op kmsg.FetchResponseTopicPartition) []int64 {
	t.Helper()
	if op.RecordBatches == nil {
		t.Errorf("partition %d: RecordBatches is nil (librdkafka rejects a null record set)", op.Partition)
	}
	var out []int64
	for _, b := range splitBatches(t, op.RecordBatches) {
		out = append(out, int64(binary.BigEndian.Uint64(b)))
	}
	return out
}

func TestFetch(t *testing.T) {
	c, tp, _ := fetchFixture(t)
	term := int32(c.hostedOn(1, "t", 0).term)
	for _, tc := range []struct {
		name    string
		version int16
		topic   string
		id      [16]byte
		p       int32
		offset  int64
		epoch   int32
		want    *kerr.Error
		offsets []int64
	}{
		{name: "from 0", version: 12, topic: "t", offset: 0, epoch: -1, offsets: []int64{0, 3, 5}},
		{name: "mid-batch offset", version: 12, topic: "t", offset: 4, epoch: -1, offsets: []int64{3, 5}},
		{name: "oldest served v4", version: 4, topic: "t", offset: 3, epoch: -1, offsets: []int64{3, 5}},
		{name: "at the log end", version: 12, topic: "t", offset: 6, epoch: -1},
		{name: "beyond the log end", version: 12, topic: "t", offset: 7, epoch: -1, want: kerr.OffsetOutOfRange},
		{name: "below the log start", version: 12, topic: "t", offset: -1, epoch: -1, want: kerr.OffsetOutOfRange},
		{name: "current leader epoch", version: 12, topic: "t", offset: 0, epoch: term, offsets: []int64{0, 3, 5}},
		{name: "older leader epoch", version: 12, topic: "t", offset: 0, epoch: term - 1, want: kerr.FencedLeaderEpoch},
		{name: "newer leader epoch", version: 12, topic: "t", offset: 0, epoch: term + 1, want: kerr.UnknownLeaderEpoch},
		{name: "unknown topic", version: 12, topic: "nope", offset: 0, epoch: -1, want: kerr.UnknownTopicOrPartition},
		{name: "partition out of range", version: 12, topic: "t", p: 2, offset: 0, epoch: -1, want: kerr.UnknownTopicOrPartition},
		{name: "v13 by topic id", version: 13, id: tp.id, offset: 0, epoch: -1, offsets: []int64{0, 3, 5}},
		{name: "v18 by topic id", version: 18, id: tp.id, offset: 5, epoch: -1, offsets: []int64{5}},
		{name: "v13 unknown topic id", version: 13, id: [16]byte{1}, offset: 0, epoch: -1, want: kerr.UnknownTopicID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := fetchReq(tc.version, tc.topic, tc.id, tc.p, tc.offset, 0, 0, 1<<20, 1<<20)
			req.Topics[0].Partitions[0].CurrentLeaderEpoch = tc.epoch
			resp := c.do(1, req).(*kmsg.FetchResponse)
			checkCode(t, "top-level", resp.ErrorCode, nil)
			if resp.SessionID != 0 {
				t.Errorf("session id %d, want 0 (no sessions)", resp.SessionID)
			}
			op := resp.Topics[0].Partitions[0]
			checkCode(t, "fetch", op.ErrorCode, tc.want)
			if got := fetchedOffsets(t, op); !slices.Equal(got, tc.offsets) {
				t.Errorf("batches at %v, want %v", got, tc.offsets)
			}
			if tc.want == nil && (op.HighWatermark != 6 || op.LastStableOffset != 6 || op.LogStartOffset != 0) {
				t.Errorf("high watermark %d, last stable %d, log start %d; want 6, 6, 0", op.HighWatermark, op.LastStableOffset, op.LogStartOffset)
			}
			if tc.version >= 13 && resp.Topics[0].TopicID != tc.id {
				t.Errorf("response topic id %x, want %x", resp.Topics[0].TopicID, tc.id)
			}
		})
	}
}

// No sessions (KIP-227): a full fetch (epoch 0 or -1) is served with
// session id 0, whatever session it names; an incremental one (any other
// epoch) is told its session does not exist.
func TestFetchSessions(t *testing.T) {
	c, _, _ := fetchFixture(t)
	for _, tc := range []struct {
		name      string
		id, epoch int32
		want      *kerr.Error
	}{
		{"sessionless full fetch", 0, -1, nil},
		{"full fetch opening a session", 0, 0, nil},
		{"full fetch closing a session", 77, -1, nil},
		{"full fetch replacing a session", 77, 0, nil},
		{"incremental fetch", 77, 3, kerr.FetchSessionIDNotFound},
		{"incremental fetch without a session id", 0, 1, kerr.FetchSessionIDNotFound},
		{"epoch below -1", 0, -2, kerr.FetchSessionIDNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := fetchReq(12, "t", [16]byte{}, 0, 0, 0, 0, 1<<20, 1<<20)
			req.SessionID, req.SessionEpoch = tc.id, tc.epoch
			resp := c.do(1, req).(*kmsg.FetchResponse)
			checkCode(t, "top-level", resp.ErrorCode, tc.want)
			if resp.SessionID != 0 {
				t.Errorf("session id %d, want 0", resp.SessionID)
			}
			if tc.want != nil {
				if len(resp.Topics) != 0 {
					t.Errorf("an error answer carries %d topics", len(resp.Topics))
				}
				return
			}
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("answer has %d topics, want the request's one", len(resp.Topics))
			}
			op := resp.Topics[0].Partitions[0]
			checkCode(t, "partition", op.ErrorCode, nil)
			if got := fetchedOffsets(t, op); !slices.Equal(got, []int64{0, 3, 5}) {
				t.Errorf("batches at %v, want [0 3 5]", got)
			}
		})
	}
}

func TestFetchLongPoll(t *testing.T) {
	c, _, _ := fetchFixture(t)
	k := c.handle(1, fetchReq(12, "t", [16]byte{}, 0, 6, 5000, 1, 1<<20, 1<<20))
	c.ticks(3)
	if _, ok := c.answered(k); ok {
		t.Fatal("a fetch at the log end with MinBytes 1 was answered before data arrived")
	}
	c.mustProduce(1, "t", 0, makeBatch(2, "new", 5000))
	r, ok := c.answered(k)
	if !ok {
		t.Fatal("the parked fetch was not answered when data arrived")
	}
	op := r.Msg.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	checkCode(t, "long poll", op.ErrorCode, nil)
	if got := fetchedOffsets(t, op); !slices.Equal(got, []int64{6}) {
		t.Errorf("long poll returned batches at %v, want [6]", got)
	}
}

func TestFetchMaxWaitExpires(t *testing.T) {
	c, _, _ := fetchFixture(t)
	k := c.handle(1, fetchReq(12, "t", [16]byte{}, 0, 6, 300, 1, 1<<20, 1<<20))
	c.ticks(2)
	if _, ok := c.answered(k); ok {
		t.Fatal("answered before MaxWait")
	}
	r := c.await(k, 1)
	op := r.Msg.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	checkCode(t, "expired long poll", op.ErrorCode, nil)
	if op.RecordBatches == nil || len(op.RecordBatches) != 0 {
		t.Errorf("expired long poll returned %d bytes (nil %v), want an empty non-nil record set", len(op.RecordBatches), op.RecordBatches == nil)
	}
	if op.HighWatermark != 6 {
		t.Errorf("high watermark %d, want 6", op.HighWatermark)
	}
}

func TestFetchMinBytes(t *testing.T) {
	c, _, sent := fetchFixture(t)
	total := 0
	for _, b := range sent {
		total += len(b)
	}
	k := c.handle(1, fetchReq(12, "t", [16]byte{}, 0, 0, 1000, int32(total+1), 1<<20, 1<<20))
	c.settle()
	if _, ok := c.answered(k); ok {
		t.Fatalf("a fetch with %d of MinBytes %d available was answered at once", total, total+1)
	}
	// A small batch brings it to MinBytes: the parked fetch wakes.
	c.mustProduce(1, "t", 0, makeBatch(1, "more", 9000))
	r, ok := c.answered(k)
	if !ok {
		t.Fatal("the fetch was not answered once MinBytes were available")
	}
	op := r.Msg.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if got := fetchedOffsets(t, op); !slices.Equal(got, []int64{0, 3, 5, 6}) {
		t.Errorf("batches at %v, want [0 3 5 6]", got)
	}
	// Below MinBytes until MaxWait: answered with what there is.
	k = c.handle(1, fetchReq(12, "t", [16]byte{}, 0, 5, 500, 1<<20, 1<<20, 1<<20))
	c.ticks(4)
	if _, ok := c.answered(k); ok {
		t.Fatal("answered before MaxWait with less than MinBytes")
	}
	r = c.await(k, 1)
	if got := fetchedOffsets(t, r.Msg.(*kmsg.FetchResponse).Topics[0].Partitions[0]); !slices.Equal(got, []int64{5, 6}) {
		t.Errorf("batches at %v, want [5 6]", got)
	}
}

// KIP-74: the first batch is returned whole even when it exceeds MaxBytes
// or PartitionMaxBytes; nothing else is.
func TestFetchFirstBatchWhole(t *testing.T) {
	c, _ := oneBroker(t)
	big := makeBatch(1, strings.Repeat("B", 3000), 1)
	c.mustProduce(1, "t", 0, slices.Clone(big))
	c.mustProduce(1, "t", 0, makeBatch(1, "small", 2))
	c.mustProduce(1, "t", 1, makeBatch(1, strings.Repeat("C", 3000), 3))
	for _, tc := range []struct {
		name              string
		maxBytes, partMax int32
		want0, want1      []int64
	}{
		{"response limit below the first batch", 100, 1 << 20, []int64{0}, nil},
		// As Kafka's ReplicaManager.readFromLog: once a partition returned
		// data, the others keep to their limits (minOneMessage off).
		{"partition limit below the first batch", 1 << 20, 100, []int64{0}, nil},
		{"both limits zero", 0, 0, []int64{0}, nil},
		{"room for everything", 1 << 20, 1 << 20, []int64{0, 1}, []int64{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := fetchReq(12, "t", [16]byte{}, 0, 0, 0, 0, tc.maxBytes, tc.partMax)
			rp := req.Topics[0].Partitions[0]
			rp.Partition = 1
			req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
			resp := c.do(1, req).(*kmsg.FetchResponse)
			ps := resp.Topics[0].Partitions
			for i, want := range [][]int64{tc.want0, tc.want1} {
				checkCode(t, "fetch", ps[i].ErrorCode, nil)
				if got := fetchedOffsets(t, ps[i]); !slices.Equal(got, want) {
					t.Errorf("partition %d: batches at %v, want %v", i, got, want)
				}
			}
			if bs := splitBatches(t, ps[0].RecordBatches); len(bs) > 0 && len(bs[0]) != len(big) {
				t.Errorf("first batch is %d bytes, want it whole (%d)", len(bs[0]), len(big))
			}
		})
	}
}

func TestFetchNotLeader(t *testing.T) {
	c := newCluster(t, 7, 3)
	tp := c.createTopic("t", 1, 3, nil)
	leader, follower := leaderAndFollower(t, c, "t", 0)
	term := int32(c.hostedOn(leader, "t", 0).term)
	for _, v := range []int16{12, 16, 18} {
		req := fetchReq(v, "t", tp.id, 0, 0, 0, 0, 1<<20, 1<<20)
		resp := c.do(follower, req).(*kmsg.FetchResponse)
		op := resp.Topics[0].Partitions[0]
		checkCode(t, "fetch from a follower", op.ErrorCode, kerr.NotLeaderForPartition)
		if op.RecordBatches == nil {
			t.Errorf("v%d: RecordBatches is nil", v)
		}
		if v < 16 {
			continue
		}
		if op.CurrentLeader.LeaderID != leader || op.CurrentLeader.LeaderEpoch != term {
			t.Errorf("v%d: CurrentLeader %+v, want leader %d epoch %d", v, op.CurrentLeader, leader, term)
		}
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != leader {
			t.Errorf("v%d: Brokers %+v, want broker %d", v, resp.Brokers, leader)
		}
	}
}

// After a restart the log's tail cache is empty: a fetch becomes a cold
// read (Output.Reads), answered on ReadDone.
func TestFetchColdRead(t *testing.T) {
	c, _, sent := fetchFixture(t)
	c.restart(1)
	c.waitTopic("t")
	c.holdReads = true
	k := c.handle(1, fetchReq(12, "t", [16]byte{}, 0, 0, 0, 0, 1<<20, 1<<20))
	c.settle()
	if len(c.heldReads[1]) == 0 {
		t.Fatal("the fetch after a restart was answered from memory; want a cold read (Output.Reads)")
	}
	if _, ok := c.answered(k); ok {
		t.Fatal("answered before its cold read completed")
	}
	c.holdReads = false
	c.releaseReads()
	r, ok := c.answered(k)
	if !ok {
		t.Fatal("not answered after its cold read completed")
	}
	op := r.Msg.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	checkCode(t, "cold fetch", op.ErrorCode, nil)
	got := splitBatches(t, op.RecordBatches)
	if len(got) < len(sent) {
		t.Fatalf("cold fetch returned %d batches, want at least %d", len(got), len(sent))
	}
	for i := range sent {
		// Offsets and epochs are stamped; everything from the CRC on is as sent.
		if !bytes.Equal(got[i][16:], sent[i][16:]) {
			t.Errorf("batch %d differs from what was produced", i)
		}
	}
}

// --- ListOffsets -----------------------------------------------------------

func TestListOffsets(t *testing.T) {
	c, _ := oneBroker(t)
	c.mustProduce(1, "t", 0, makeBatch(3, "a", 1000)) // offsets 0-2, ts 1000-1002
	c.mustProduce(1, "t", 0, makeBatch(2, "b", 2000)) // offsets 3-4, ts 2000-2001
	c.mustProduce(1, "t", 0, makeBatch(1, "c", 1500)) // offset 5, ts 1500
	term := int32(c.hostedOn(1, "t", 0).term)
	for _, tc := range []struct {
		name     string
		version  int16
		topic    string
		p        int32
		ts       int64
		epoch    int32
		iso      int8
		want     *kerr.Error
		offset   int64
		tsOut    int64
		lenEpoch bool
	}{
		{name: "earliest", version: 7, topic: "t", ts: -2, epoch: -1, offset: 0, tsOut: -1},
		{name: "latest", version: 7, topic: "t", ts: -1, epoch: -1, offset: 6, tsOut: -1},
		{name: "latest read_committed", version: 7, topic: "t", ts: -1, epoch: -1, iso: 1, offset: 6, tsOut: -1},
		{name: "max timestamp", version: 7, topic: "t", ts: -3, epoch: -1, offset: 4, tsOut: 2001},
		{name: "earliest local", version: 9, topic: "t", ts: -4, epoch: -1, offset: 0, tsOut: -1},
		{name: "latest tiered (none)", version: 9, topic: "t", ts: -5, epoch: -1, offset: -1, tsOut: -1},
		{name: "by timestamp: exact", version: 7, topic: "t", ts: 1001, epoch: -1, offset: 1, tsOut: 1001},
		{name: "by timestamp: between batches", version: 7, topic: "t", ts: 1500, epoch: -1, offset: 3, tsOut: 2000},
		{name: "by timestamp: before everything", version: 7, topic: "t", ts: 0, epoch: -1, offset: 0, tsOut: 1000},
		{name: "by timestamp: after everything", version: 7, topic: "t", ts: 3000, epoch: -1, offset: -1, tsOut: -1},
		{name: "oldest served v1", version: 1, topic: "t", ts: -1, epoch: -1, offset: 6, tsOut: -1},
		{name: "newest v11", version: 11, topic: "t", ts: -1, epoch: -1, offset: 6, tsOut: -1},
		{name: "empty partition latest", version: 7, topic: "t", p: 1, ts: -1, epoch: -1, offset: 0, tsOut: -1},
		{name: "empty partition max timestamp", version: 7, topic: "t", p: 1, ts: -3, epoch: -1, offset: -1, tsOut: -1},
		{name: "current leader epoch", version: 7, topic: "t", ts: -1, epoch: term, offset: 6, tsOut: -1},
		{name: "older leader epoch", version: 7, topic: "t", ts: -1, epoch: term - 1, want: kerr.FencedLeaderEpoch, offset: -1, tsOut: -1},
		{name: "newer leader epoch", version: 7, topic: "t", ts: -1, epoch: term + 1, want: kerr.UnknownLeaderEpoch, offset: -1, tsOut: -1},
		{name: "unknown topic", version: 7, topic: "nope", ts: -1, epoch: -1, want: kerr.UnknownTopicOrPartition, offset: -1, tsOut: -1},
		{name: "partition out of range", version: 7, topic: "t", p: 2, ts: -1, epoch: -1, want: kerr.UnknownTopicOrPartition, offset: -1, tsOut: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrListOffsetsRequest()
			req.Version, req.ReplicaID, req.IsolationLevel = tc.version, -1, tc.iso
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = tc.topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = tc.p, tc.ts, tc.epoch
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := c.do(1, req).(*kmsg.ListOffsetsResponse)
			op := resp.Topics[0].Partitions[0]
			checkCode(t, "list offsets", op.ErrorCode, tc.want)
			if op.Offset != tc.offset || op.Timestamp != tc.tsOut {
				t.Errorf("offset %d timestamp %d, want %d %d", op.Offset, op.Timestamp, tc.offset, tc.tsOut)
			}
			if tc.want == nil && tc.version >= 4 && op.LeaderEpoch != term {
				t.Errorf("leader epoch %d, want %d", op.LeaderEpoch, term)
			}
		})
	}
}

// A partition named twice in one ListOffsets is INVALID_REQUEST at each
// place, across topic entries too; the others are answered.
func TestListOffsetsDuplicatePartitions(t *testing.T) {
	c, _ := oneBroker(t)
	c.mustProduce(1, "t", 0, makeBatch(3, "a", 1000))
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = 7, -1
	for _, ps := range [][]int32{{0, 1}, {0}} {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		for _, p := range ps {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp := c.do(1, req).(*kmsg.ListOffsetsResponse)
	if len(resp.Topics) != 2 || len(resp.Topics[0].Partitions) != 2 || len(resp.Topics[1].Partitions) != 1 {
		t.Fatalf("answer's shape: %+v", resp.Topics)
	}
	checkCode(t, "partition 0, first", resp.Topics[0].Partitions[0].ErrorCode, kerr.InvalidRequest)
	checkCode(t, "partition 0, second", resp.Topics[1].Partitions[0].ErrorCode, kerr.InvalidRequest)
	p1 := resp.Topics[0].Partitions[1]
	checkCode(t, "partition 1", p1.ErrorCode, nil)
	if p1.Offset != 0 {
		t.Errorf("partition 1: offset %d, want 0", p1.Offset)
	}
}

func TestListOffsetsNotLeader(t *testing.T) {
	c := newCluster(t, 11, 3)
	c.createTopic("t", 1, 3, nil)
	_, follower := leaderAndFollower(t, c, "t", 0)
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 7
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.do(follower, req).(*kmsg.ListOffsetsResponse)
	checkCode(t, "list offsets on a follower", resp.Topics[0].Partitions[0].ErrorCode, kerr.NotLeaderForPartition)
}

// --- OffsetForLeaderEpoch --------------------------------------------------

func offsetForEpochReq(version int16, topic string, p, epoch, current int32) *kmsg.OffsetForLeaderEpochRequest {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version, req.ReplicaID = version, -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.CurrentLeaderEpoch = p, epoch, current
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	c, _ := oneBroker(t)
	c.mustProduce(1, "t", 0, makeBatch(3, "a", 1)) // offsets 0-2
	// A restart starts a new term: the next records carry a new epoch.
	c.restart(1)
	c.waitTopic("t")
	c.mustProduce(1, "t", 0, makeBatch(2, "b", 2)) // offsets 3-4
	// (One fetch each: a cold read stops where the in-memory tail begins.)
	var bs [][]byte
	for _, off := range []int64{0, 3} {
		f := c.do(1, fetchReq(12, "t", [16]byte{}, 0, off, 0, 0, 1<<20, 1<<20)).(*kmsg.FetchResponse)
		got := splitBatches(t, f.Topics[0].Partitions[0].RecordBatches)
		if len(got) == 0 {
			t.Fatalf("fetch at %d returned nothing", off)
		}
		bs = append(bs, got[0])
	}
	e1, e2 := int32(binary.BigEndian.Uint32(bs[0][12:])), int32(binary.BigEndian.Uint32(bs[1][12:]))
	term := int32(c.hostedOn(1, "t", 0).term)
	if e1 >= e2 || e2 != term {
		t.Fatalf("batch epochs %d, %d with term %d: want two increasing epochs, the second current", e1, e2, term)
	}
	for _, tc := range []struct {
		name           string
		version        int16
		topic          string
		p              int32
		epoch, current int32
		want           *kerr.Error
		wantEpoch      int32
		wantEnd        int64
	}{
		{"first epoch ends where the second began", 4, "t", 0, e1, -1, nil, e1, 3},
		{"current epoch ends at the log end", 4, "t", 0, e2, -1, nil, e2, 5},
		// Terms skip numbers: the largest epoch at or below the one asked for.
		{"an epoch between the two", 4, "t", 0, e2 - 1, -1, nil, e1, 3},
		{"oldest served v2", 2, "t", 0, e2, -1, nil, e2, 5},
		{"current leader epoch matches", 4, "t", 0, e1, term, nil, e1, 3},
		{"older current leader epoch", 4, "t", 0, e1, term - 1, kerr.FencedLeaderEpoch, -1, -1},
		{"newer current leader epoch", 4, "t", 0, e1, term + 1, kerr.UnknownLeaderEpoch, -1, -1},
		{"unknown topic", 4, "nope", 0, e1, -1, kerr.UnknownTopicOrPartition, -1, -1},
		{"partition out of range", 4, "t", 5, e1, -1, kerr.UnknownTopicOrPartition, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do(1, offsetForEpochReq(tc.version, tc.topic, tc.p, tc.epoch, tc.current)).(*kmsg.OffsetForLeaderEpochResponse)
			op := resp.Topics[0].Partitions[0]
			checkCode(t, "offset for leader epoch", op.ErrorCode, tc.want)
			if op.LeaderEpoch != tc.wantEpoch || op.EndOffset != tc.wantEnd {
				t.Errorf("epoch %d end %d, want %d %d", op.LeaderEpoch, op.EndOffset, tc.wantEpoch, tc.wantEnd)
			}
		})
	}
}

func TestOffsetForLeaderEpochNotLeader(t *testing.T) {
	c := newCluster(t, 13, 3)
	c.createTopic("t", 1, 3, nil)
	_, follower := leaderAndFollower(t, c, "t", 0)
	resp := c.do(follower, offsetForEpochReq(4, "t", 0, 1, -1)).(*kmsg.OffsetForLeaderEpochResponse)
	checkCode(t, "on a follower", resp.Topics[0].Partitions[0].ErrorCode, kerr.NotLeaderForPartition)
}

// --- Metadata --------------------------------------------------------------

func metadataReq(version int16, autoCreate bool, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version, req.AllowAutoTopicCreation = version, autoCreate
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = strp(name)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func topicNames(resp *kmsg.MetadataResponse) []string {
	var out []string
	for _, t := range resp.Topics {
		if t.Topic != nil {
			out = append(out, *t.Topic)
		}
	}
	return out
}

func TestMetadata(t *testing.T) {
	c := newCluster(t, 17, 3)
	ctl := c.controller()
	tb := c.createTopic("b", 2, 3, nil)
	c.createTopic("a", 1, 2, nil)
	for _, id := range c.ids {
		resp := c.do(id, metadataReq(12, false)).(*kmsg.MetadataResponse)
		if resp.ControllerID != ctl {
			t.Errorf("broker %d: controller %d, want %d", id, resp.ControllerID, ctl)
		}
		if resp.ClusterID == nil || *resp.ClusterID != "sluice-test-cluster" {
			t.Errorf("broker %d: cluster id %v", id, resp.ClusterID)
		}
		if len(resp.Brokers) != 3 {
			t.Errorf("broker %d: %d brokers, want 3", id, len(resp.Brokers))
		}
		for i, b := range resp.Brokers {
			want := c.cfgs[id].Brokers[i]
			if b.NodeID != want.ID || b.Host != want.Host || b.Port != want.Port {
				t.Errorf("broker %d: broker %+v, want %+v", id, b, want)
			}
		}
		if got := topicNames(resp); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("broker %d: all topics %v, want [a b]", id, got)
		}
		// Partition details agree with the leaders.
		for _, mt := range resp.Topics {
			checkCode(t, "topic", mt.ErrorCode, nil)
			for _, mp := range mt.Partitions {
				checkCode(t, "partition", mp.ErrorCode, nil)
				lead := c.leaderOf(*mt.Topic, mp.Partition)
				if mp.Leader != lead || mp.LeaderEpoch != int32(c.hostedOn(lead, *mt.Topic, mp.Partition).term) {
					t.Errorf("broker %d: %s/%d leader %d epoch %d, want %d", id, *mt.Topic, mp.Partition, mp.Leader, mp.LeaderEpoch, lead)
				}
				if !slices.Equal(mp.Replicas, c.topic(id, *mt.Topic).Replicas[mp.Partition]) {
					t.Errorf("broker %d: %s/%d replicas %v", id, *mt.Topic, mp.Partition, mp.Replicas)
				}
				if !slices.Contains(mp.ISR, lead) {
					t.Errorf("broker %d: %s/%d ISR %v lacks the leader", id, *mt.Topic, mp.Partition, mp.ISR)
				}
			}
		}
		if mt := resp.Topics[1]; mt.TopicID != tb.id {
			t.Errorf("broker %d: topic b id %x, want %x", id, mt.TopicID, tb.id)
		}
	}
	for _, tc := range []struct {
		name string
		req  *kmsg.MetadataRequest
		want []string
	}{
		{"v0 empty list means all", metadataReq(0, false, []string{}...), []string{"a", "b"}},
		{"v1 null list means all", metadataReq(1, false), []string{"a", "b"}},
		{"v1 empty list means none", metadataReq(1, false, []string{}...), nil},
		{"specific", metadataReq(12, false, "b"), []string{"b"}},
		{"newest v13", metadataReq(13, false, "a", "b"), []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do(2, tc.req).(*kmsg.MetadataResponse)
			if got := topicNames(resp); !slices.Equal(got, tc.want) {
				t.Errorf("topics %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("by topic id", func(t *testing.T) {
		for _, v := range []int16{10, 12, 13} {
			req := kmsg.NewPtrMetadataRequest()
			req.Version = v
			req.Topics = []kmsg.MetadataRequestTopic{{TopicID: tb.id}, {TopicID: [16]byte{9, 9}}}
			resp := c.do(3, req).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 2 {
				t.Fatalf("v%d: %d topics, want 2", v, len(resp.Topics))
			}
			if mt := resp.Topics[0]; mt.ErrorCode != 0 || mt.Topic == nil || *mt.Topic != "b" || len(mt.Partitions) != 2 {
				t.Errorf("v%d: by id: error %d topic %v with %d partitions, want b with 2", v, mt.ErrorCode, mt.Topic, len(mt.Partitions))
			}
			checkCode(t, "unknown topic id", resp.Topics[1].ErrorCode, kerr.UnknownTopicID)
		}
	})
}

func TestMetadataUnknownTopics(t *testing.T) {
	c := newCluster(t, 19, 3)
	for _, tc := range []struct {
		name    string
		to      int32
		req     *kmsg.MetadataRequest
		want    *kerr.Error
		creates bool
	}{
		{"auto-create on the controller", 1, metadataReq(12, true, "auto1"), kerr.LeaderNotAvailable, true},
		{"auto-create forwarded by another broker", 3, metadataReq(12, true, "auto2"), kerr.LeaderNotAvailable, true},
		{"v3 always auto-creates", 2, metadataReq(3, false, "auto3"), kerr.LeaderNotAvailable, true},
		{"auto-create not allowed", 2, metadataReq(12, false, "manual"), kerr.UnknownTopicOrPartition, false},
		{"invalid name", 2, metadataReq(12, true, "bad/name"), kerr.InvalidTopicException, false},
		{"name too long", 2, metadataReq(12, true, strings.Repeat("n", 250)), kerr.InvalidTopicException, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := *tc.req.Topics[0].Topic
			resp := c.do(tc.to, tc.req).(*kmsg.MetadataResponse)
			checkCode(t, "metadata", resp.Topics[0].ErrorCode, tc.want)
			if !tc.creates {
				c.ticks(3)
				for _, id := range c.ids {
					if c.topic(id, name) != nil {
						t.Errorf("broker %d created %q", id, name)
					}
				}
				return
			}
			c.waitTopic(name)
			resp = c.do(tc.to, metadataReq(12, true, name)).(*kmsg.MetadataResponse)
			mt := resp.Topics[0]
			checkCode(t, "metadata after auto-create", mt.ErrorCode, nil)
			if len(mt.Partitions) != 1 || mt.Partitions[0].Leader < 1 || len(mt.Partitions[0].Replicas) != 3 {
				t.Errorf("auto-created topic: %+v, want 1 partition with a leader and 3 replicas", mt.Partitions)
			}
		})
	}
	// Asked for twice before it exists, a topic is created once.
	k1 := c.handle(2, metadataReq(12, true, "twice"))
	k2 := c.handle(2, metadataReq(12, true, "twice"))
	c.settle()
	for _, k := range []reqKey{k1, k2} {
		r := c.await(k, 5)
		checkCode(t, "twice", r.Msg.(*kmsg.MetadataResponse).Topics[0].ErrorCode, kerr.LeaderNotAvailable)
	}
	c.waitTopic("twice")
	c.ticks(5)
	id := c.topic(1, "twice").id
	for _, b := range c.ids {
		if got := c.topic(b, "twice"); got == nil || got.id != id || len(got.Replicas) != 1 {
			t.Errorf("broker %d: topic twice is %+v", b, got)
		}
	}
}

func TestMetadataAutoCreateDisabled(t *testing.T) {
	c := newCluster(t, 23, 1, func(cfg *Config) { cfg.DisableAutoCreate = true })
	resp := c.do(1, metadataReq(12, true, "x")).(*kmsg.MetadataResponse)
	checkCode(t, "auto.create.topics.enable=false", resp.Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)
	resp = c.do(1, metadataReq(3, true, "x")).(*kmsg.MetadataResponse)
	checkCode(t, "auto.create.topics.enable=false, v3", resp.Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)
}

// --- CreateTopics ----------------------------------------------------------

type createSpec struct {
	name       string
	partitions int32
	rf         int16
	assign     [][]int32
	configs    []string
}

func createReq(version int16, validateOnly bool, specs ...createSpec) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis, req.ValidateOnly = version, 5000, validateOnly
	for _, s := range specs {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = s.name, s.partitions, s.rf
		for i, a := range s.assign {
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, kmsg.CreateTopicsRequestTopicReplicaAssignment{Partition: int32(i), Replicas: a})
		}
		for i := 0; i+1 < len(s.configs); i += 2 {
			rt.Configs = append(rt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: s.configs[i], Value: strp(s.configs[i+1])})
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func TestCreateTopics(t *testing.T) {
	c := newCluster(t, 29, 3)
	ctl := c.controller()
	other := ctl%3 + 1
	c.createTopic("exists", 1, 1, nil)
	for _, tc := range []struct {
		name     string
		to       int32
		spec     createSpec
		want     *kerr.Error
		wantP    int32
		wantRF   int16
		validate bool
	}{
		{name: "explicit", to: ctl, spec: createSpec{name: "ok1", partitions: 2, rf: 3}, wantP: 2, wantRF: 3},
		{name: "broker defaults", to: ctl, spec: createSpec{name: "ok2", partitions: -1, rf: -1}, wantP: 1, wantRF: 3},
		{name: "manual assignment", to: ctl, spec: createSpec{name: "ok3", partitions: -1, rf: -1, assign: [][]int32{{2, 3}, {3, 1}}}, wantP: 2, wantRF: 2},
		{name: "valid configs", to: ctl, spec: createSpec{name: "ok4", partitions: 1, rf: 3, configs: []string{"min.insync.replicas", "3", "cleanup.policy", "compact"}}, wantP: 1, wantRF: 3},
		{name: "validate only", to: ctl, spec: createSpec{name: "dry", partitions: 4, rf: 2}, wantP: 4, wantRF: 2, validate: true},
		{name: "forwarded to the controller", to: other, spec: createSpec{name: "nc", partitions: 2, rf: 2}, wantP: 2, wantRF: 2},
		{name: "already exists", to: ctl, spec: createSpec{name: "exists", partitions: 1, rf: 1}, want: kerr.TopicAlreadyExists, wantP: -1, wantRF: -1},
		{name: "zero partitions", to: ctl, spec: createSpec{name: "p0", partitions: 0, rf: 1}, want: kerr.InvalidPartitions, wantP: -1, wantRF: -1},
		{name: "negative partitions", to: ctl, spec: createSpec{name: "pneg", partitions: -2, rf: 1}, want: kerr.InvalidPartitions, wantP: -1, wantRF: -1},
		{name: "replication factor above brokers", to: ctl, spec: createSpec{name: "rf4", partitions: 1, rf: 4}, want: kerr.InvalidReplicationFactor, wantP: -1, wantRF: -1},
		{name: "replication factor zero", to: ctl, spec: createSpec{name: "rf0", partitions: 1, rf: 0}, want: kerr.InvalidReplicationFactor, wantP: -1, wantRF: -1},
		{name: "replication factor negative", to: ctl, spec: createSpec{name: "rfneg", partitions: 1, rf: -3}, want: kerr.InvalidReplicationFactor, wantP: -1, wantRF: -1},
		{name: "unknown config", to: ctl, spec: createSpec{name: "cfg1", partitions: 1, rf: 1, configs: []string{"no.such.config", "1"}}, want: kerr.InvalidConfig, wantP: -1, wantRF: -1},
		{name: "config value not a number", to: ctl, spec: createSpec{name: "cfg2", partitions: 1, rf: 1, configs: []string{"max.message.bytes", "lots"}}, want: kerr.InvalidConfig, wantP: -1, wantRF: -1},
		{name: "min.insync.replicas zero", to: ctl, spec: createSpec{name: "cfg3", partitions: 1, rf: 2, configs: []string{"min.insync.replicas", "0"}}, want: kerr.InvalidConfig, wantP: -1, wantRF: -1},
		{name: "config value not allowed", to: ctl, spec: createSpec{name: "cfg4", partitions: 1, rf: 1, configs: []string{"cleanup.policy", "shred"}}, want: kerr.InvalidConfig, wantP: -1, wantRF: -1},
		{name: "empty name", to: ctl, spec: createSpec{name: "", partitions: 1, rf: 1}, want: kerr.InvalidTopicException, wantP: -1, wantRF: -1},
		{name: "name with a space", to: ctl, spec: createSpec{name: "a b", partitions: 1, rf: 1}, want: kerr.InvalidTopicException, wantP: -1, wantRF: -1},
		{name: "name ..", to: ctl, spec: createSpec{name: "..", partitions: 1, rf: 1}, want: kerr.InvalidTopicException, wantP: -1, wantRF: -1},
		{name: "name of 250 characters", to: ctl, spec: createSpec{name: strings.Repeat("x", 250), partitions: 1, rf: 1}, want: kerr.InvalidTopicException, wantP: -1, wantRF: -1},
		{name: "assignment naming an unknown broker", to: ctl, spec: createSpec{name: "as1", partitions: -1, rf: -1, assign: [][]int32{{1, 9}}}, want: kerr.InvalidReplicaAssignment, wantP: -1, wantRF: -1},
		{name: "assignment listing a broker twice", to: ctl, spec: createSpec{name: "as2", partitions: -1, rf: -1, assign: [][]int32{{2, 2}}}, want: kerr.InvalidReplicaAssignment, wantP: -1, wantRF: -1},
		{name: "assignment with uneven replication", to: ctl, spec: createSpec{name: "as3", partitions: -1, rf: -1, assign: [][]int32{{1, 2}, {3}}}, want: kerr.InvalidReplicaAssignment, wantP: -1, wantRF: -1},
		{name: "assignment and a partition count", to: ctl, spec: createSpec{name: "as4", partitions: 2, rf: -1, assign: [][]int32{{1}}}, want: kerr.InvalidRequest, wantP: -1, wantRF: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do(tc.to, createReq(7, tc.validate, tc.spec)).(*kmsg.CreateTopicsResponse)
			if len(resp.Topics) != 1 {
				t.Fatalf("%d topics in the response", len(resp.Topics))
			}
			rt := resp.Topics[0]
			checkCode(t, "create", rt.ErrorCode, tc.want)
			if rt.Topic != tc.spec.name {
				t.Errorf("response topic %q", rt.Topic)
			}
			if rt.NumPartitions != tc.wantP || rt.ReplicationFactor != tc.wantRF {
				t.Errorf("partitions %d rf %d, want %d %d", rt.NumPartitions, rt.ReplicationFactor, tc.wantP, tc.wantRF)
			}
			if tc.want != nil && tc.want != kerr.NotController && tc.want != kerr.TopicAlreadyExists && rt.ErrorMessage == nil {
				t.Errorf("no error message")
			}
			created := tc.want == nil && !tc.validate
			if created != (rt.TopicID != [16]byte{}) {
				t.Errorf("topic id %x (created %v)", rt.TopicID, created)
			}
			if created {
				c.waitTopic(tc.spec.name)
				got := c.topic(1, tc.spec.name)
				if got.id != rt.TopicID || len(got.Replicas) != int(tc.wantP) || len(got.Replicas[0]) != int(tc.wantRF) {
					t.Errorf("created %+v", got)
				}
				// Every effective config, the overrides as topic configs.
				if len(rt.Configs) != len(topicConfigDefs) {
					t.Errorf("%d response configs, want %d", len(rt.Configs), len(topicConfigDefs))
				}
				for k := 0; k+1 < len(tc.spec.configs); k += 2 {
					i := slices.IndexFunc(rt.Configs, func(c kmsg.CreateTopicsResponseTopicConfig) bool { return c.Name == tc.spec.configs[k] })
					if i < 0 || *rt.Configs[i].Value != tc.spec.configs[k+1] || rt.Configs[i].Source != int8(kmsg.ConfigSourceDynamicTopicConfig) {
						t.Errorf("response config %s: %+v", tc.spec.configs[k], rt.Configs)
					}
				}
				return
			}
			if tc.spec.name == "exists" {
				return
			}
			c.ticks(3)
			for _, id := range c.ids {
				if c.topic(id, tc.spec.name) != nil {
					t.Errorf("broker %d has topic %q", id, tc.spec.name)
				}
			}
		})
	}
	t.Run("listed twice", func(t *testing.T) {
		resp := c.do(ctl, createReq(7, false, createSpec{name: "dup", partitions: 1, rf: 1}, createSpec{name: "dup", partitions: 1, rf: 1})).(*kmsg.CreateTopicsResponse)
		for _, rt := range resp.Topics {
			checkCode(t, "duplicate", rt.ErrorCode, kerr.InvalidRequest)
		}
		c.ticks(3)
		if c.topic(ctl, "dup") != nil {
			t.Error("dup was created")
		}
	})
	t.Run("oldest served v2", func(t *testing.T) {
		resp := c.do(ctl, createReq(2, false, createSpec{name: "v2", partitions: 1, rf: 1})).(*kmsg.CreateTopicsResponse)
		checkCode(t, "v2 create", resp.Topics[0].ErrorCode, nil)
	})
}

// The first replica of each partition campaigns at once (node.host), so a
// new topic's partitions are led by their first replicas: leadership is
// spread as assign intends, and there is no election timeout to wait out.
func TestCreateTopicsFirstReplicaLeads(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		c := newCluster(t, seed, 3)
		c.createTopic("t", 3, 3, nil)
		tp := c.topic(1, "t")
		for p := int32(0); p < 3; p++ {
			if got, want := c.leaderOf("t", p), tp.Replicas[p][0]; got != want {
				t.Errorf("seed %d: t/%d (replicas %v) is led by %d, not its first replica %d", seed, p, tp.Replicas[p], got, want)
			}
		}
	}
}

// --- DeleteTopics ----------------------------------------------------------

func deleteReq(version int16, names ...string) *kmsg.DeleteTopicsRequest {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version, req.TimeoutMillis = version, 5000
	for _, n := range names {
		if version < 6 {
			req.TopicNames = append(req.TopicNames, n)
		} else {
			req.Topics = append(req.Topics, kmsg.DeleteTopicsRequestTopic{Topic: strp(n)})
		}
	}
	return req
}

func TestDeleteTopics(t *testing.T) {
	c := newCluster(t, 31, 3)
	ctl := c.controller()
	other := ctl%3 + 1
	ta := c.createTopic("a", 2, 3, nil)
	tb := c.createTopic("b", 1, 3, nil)
	for _, tc := range []struct {
		name string
		to   int32
		req  *kmsg.DeleteTopicsRequest
		want *kerr.Error
	}{
		{"unknown name", ctl, deleteReq(5, "nope"), kerr.UnknownTopicOrPartition},
		{"unknown name v6", ctl, deleteReq(6, "nope"), kerr.UnknownTopicOrPartition},
		{"unknown id v6", ctl, func() *kmsg.DeleteTopicsRequest {
			r := deleteReq(6)
			r.Topics = append(r.Topics, kmsg.DeleteTopicsRequestTopic{TopicID: [16]byte{7}})
			return r
		}(), kerr.UnknownTopicID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do(tc.to, tc.req).(*kmsg.DeleteTopicsResponse)
			checkCode(t, "delete", resp.Topics[0].ErrorCode, tc.want)
		})
	}
	if c.topic(1, "a") == nil || c.topic(1, "b") == nil {
		t.Fatal("a failed delete removed a topic")
	}
	// Delete a by name (oldest served version, through a broker that
	// forwards it to the controller) and b by id.
	resp := c.do(other, deleteReq(1, "a")).(*kmsg.DeleteTopicsResponse)
	checkCode(t, "delete a", resp.Topics[0].ErrorCode, nil)
	req := deleteReq(6)
	req.Topics = append(req.Topics, kmsg.DeleteTopicsRequestTopic{TopicID: tb.id})
	resp = c.do(ctl, req).(*kmsg.DeleteTopicsResponse)
	checkCode(t, "delete b by id", resp.Topics[0].ErrorCode, nil)
	if rt := resp.Topics[0]; rt.Topic == nil || *rt.Topic != "b" || rt.TopicID != tb.id {
		t.Errorf("delete by id answered topic %v id %x", rt.Topic, rt.TopicID)
	}
	c.ticks(5)
	for _, id := range c.ids {
		if c.topic(id, "a") != nil || c.topic(id, "b") != nil {
			t.Errorf("broker %d still has a deleted topic", id)
		}
		for p := range ta.Replicas {
			g := c.nodes[id].group(ta, int32(p))
			if c.nodes[id].hosts[g] != nil {
				t.Errorf("broker %d still hosts %v", id, g)
			}
			if names, _ := c.fs[id].List(c.nodes[id].groupDir(g)); len(names) > 0 {
				t.Errorf("broker %d kept files of %v: %v", id, g, names)
			}
		}
	}
	op := c.produce(ctl, "a", 0, makeBatch(1, "x", 1))
	checkCode(t, "produce to a deleted topic", op.ErrorCode, kerr.UnknownTopicOrPartition)
	// The name can be used again: a new topic with a new id.
	again := c.createTopic("a", 1, 3, nil)
	if again.id == ta.id {
		t.Errorf("recreated topic kept the old id %x", ta.id)
	}
	c.mustProduce(c.leaderOf("a", 0), "a", 0, makeBatch(1, "y", 1))
}

// --- CreatePartitions ------------------------------------------------------

func createPartitionsReq(validateOnly bool, topic string, count int32, assign [][]int32) *kmsg.CreatePartitionsRequest {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Version, req.TimeoutMillis, req.ValidateOnly = 3, 5000, validateOnly
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	if assign != nil {
		rt.Assignment = []kmsg.CreatePartitionsRequestTopicAssignment{}
	}
	for _, a := range assign {
		rt.Assignment = append(rt.Assignment, kmsg.CreatePartitionsRequestTopicAssignment{Replicas: a})
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func TestCreatePartitions(t *testing.T) {
	c := newCluster(t, 37, 3)
	ctl := c.controller()
	other := ctl%3 + 1
	c.createTopic("t", 2, 2, nil)
	for _, tc := range []struct {
		name   string
		to     int32
		req    *kmsg.CreatePartitionsRequest
		want   *kerr.Error
		wantN  int
		waitOn bool
	}{
		{"unknown topic", ctl, createPartitionsReq(false, "nope", 3, nil), kerr.UnknownTopicOrPartition, 2, false},
		{"same count", ctl, createPartitionsReq(false, "t", 2, nil), kerr.InvalidPartitions, 2, false},
		{"fewer", ctl, createPartitionsReq(false, "t", 1, nil), kerr.InvalidPartitions, 2, false},
		{"too many", ctl, createPartitionsReq(false, "t", 10001, nil), kerr.InvalidPartitions, 2, false},
		{"assignment of the wrong length", ctl, createPartitionsReq(false, "t", 4, [][]int32{{1, 2}}), kerr.InvalidReplicaAssignment, 2, false},
		{"assignment naming an unknown broker", ctl, createPartitionsReq(false, "t", 3, [][]int32{{1, 8}}), kerr.InvalidReplicaAssignment, 2, false},
		{"assignment with another replication factor", ctl, createPartitionsReq(false, "t", 3, [][]int32{{1, 2, 3}}), kerr.InvalidReplicaAssignment, 2, false},
		{"validate only", ctl, createPartitionsReq(true, "t", 5, nil), nil, 2, false},
		{"add one, through a broker that forwards it", other, createPartitionsReq(false, "t", 3, nil), nil, 3, true},
		{"add one, assigned", ctl, createPartitionsReq(false, "t", 4, [][]int32{{3, 1}}), nil, 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do(tc.to, tc.req).(*kmsg.CreatePartitionsResponse)
			checkCode(t, "create partitions", resp.Topics[0].ErrorCode, tc.want)
			if tc.waitOn {
				c.waitTopic("t")
			} else {
				c.ticks(2)
			}
			for _, id := range c.ids {
				if got := len(c.topic(id, "t").Replicas); got != tc.wantN {
					t.Errorf("broker %d: %d partitions, want %d", id, got, tc.wantN)
				}
			}
		})
	}
	if got := c.topic(1, "t").Replicas[3]; !slices.Equal(got, []int32{3, 1}) {
		t.Errorf("assigned partition has replicas %v, want [3 1]", got)
	}
	for p := int32(2); p < 4; p++ {
		c.mustProduce(c.leaderOf("t", p), "t", p, makeBatch(1, "new", 1))
	}
}

// --- InitProducerId --------------------------------------------------------

func TestInitProducerID(t *testing.T) {
	c := newCluster(t, 41, 1)
	seen := map[int64]bool{}
	for v := int16(0); v <= 5; v++ {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = v
		resp := c.do(1, req).(*kmsg.InitProducerIDResponse)
		checkCode(t, "init producer id", resp.ErrorCode, nil)
		if resp.ProducerID < 0 || resp.ProducerEpoch != 0 || seen[resp.ProducerID] {
			t.Errorf("v%d: producer id %d epoch %d (seen %v)", v, resp.ProducerID, resp.ProducerEpoch, seen[resp.ProducerID])
		}
		seen[resp.ProducerID] = true
	}
	for _, tc := range []struct {
		name      string
		version   int16
		txn       *string
		pid       int64
		epoch     int16
		want      *kerr.Error
		samePID   bool
		wantEpoch int16
	}{
		{name: "transactional", version: 4, txn: strp("tx"), pid: -1, epoch: -1, want: kerr.InvalidRequest, wantEpoch: -1},
		{name: "epoch bump (KIP-360)", version: 3, pid: 1234, epoch: 7, samePID: true, wantEpoch: 8},
		{name: "epoch exhausted", version: 4, pid: 1234, epoch: 32766, wantEpoch: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch = tc.version, tc.txn, tc.pid, tc.epoch
			resp := c.do(1, req).(*kmsg.InitProducerIDResponse)
			checkCode(t, "init producer id", resp.ErrorCode, tc.want)
			if resp.ProducerEpoch != tc.wantEpoch || tc.want == nil && (resp.ProducerID == tc.pid) != tc.samePID {
				t.Errorf("producer id %d epoch %d, want epoch %d (same id %v)", resp.ProducerID, resp.ProducerEpoch, tc.wantEpoch, tc.samePID)
			}
			if tc.want != nil && resp.ProducerID != -1 {
				t.Errorf("failed request got producer id %d", resp.ProducerID)
			}
		})
	}
}

// --- FindCoordinator -------------------------------------------------------

func TestFindCoordinator(t *testing.T) {
	c := newCluster(t, 43, 1)
	for v := int16(0); v <= 6; v++ {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version, req.CoordinatorKey, req.CoordinatorKeys = v, "g", []string{"g1", "g2"}
		resp := c.do(1, req).(*kmsg.FindCoordinatorResponse)
		if v < 4 {
			checkCode(t, "find coordinator", resp.ErrorCode, kerr.CoordinatorNotAvailable)
			if resp.NodeID != -1 {
				t.Errorf("v%d: node id %d, want -1", v, resp.NodeID)
			}
			continue
		}
		if len(resp.Coordinators) != 2 {
			t.Fatalf("v%d: %d coordinators, want 2", v, len(resp.Coordinators))
		}
		for i, co := range resp.Coordinators {
			checkCode(t, "find coordinator", co.ErrorCode, kerr.CoordinatorNotAvailable)
			if co.Key != req.CoordinatorKeys[i] || co.NodeID != -1 {
				t.Errorf("v%d: coordinator %+v", v, co)
			}
		}
	}
	// A transaction coordinator: refused for good, not "not available yet"
	// (a client would retry that until its timeout).
	for _, v := range []int16{1, 4} {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version, req.CoordinatorType, req.CoordinatorKey, req.CoordinatorKeys = v, 1, "tx", []string{"tx"}
		resp := c.do(1, req).(*kmsg.FindCoordinatorResponse)
		code, msg := resp.ErrorCode, resp.ErrorMessage
		if v >= 4 {
			if len(resp.Coordinators) != 1 {
				t.Fatalf("v%d: %d coordinators, want 1", v, len(resp.Coordinators))
			}
			code, msg = resp.Coordinators[0].ErrorCode, resp.Coordinators[0].ErrorMessage
		}
		checkCode(t, "find transaction coordinator", code, kerr.InvalidRequest)
		if msg == nil || !strings.Contains(*msg, "transactions are not supported") {
			t.Errorf("v%d: error message %v, want one saying transactions are not supported", v, msg)
		}
	}
}

// --- ApiVersions and unsupported versions ----------------------------------

func servedKeys() []int16 {
	return slices.Sorted(maps.Keys(served))
}

func checkAPITable(t *testing.T, got []kmsg.ApiVersionsResponseApiKey) {
	t.Helper()
	keys := servedKeys()
	if len(got) != len(keys) {
		t.Fatalf("%d APIs advertised, want %d", len(got), len(keys))
	}
	for i, k := range keys {
		want := served[k]
		if got[i].ApiKey != k || got[i].MinVersion != want.min || got[i].MaxVersion != want.max {
			t.Errorf("advertised %+v, want key %d v%d-%d", got[i], k, want.min, want.max)
		}
	}
}

func TestApiVersions(t *testing.T) {
	c := newCluster(t, 47, 1)
	for v := int16(0); v <= 5; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = v, "sluice-test", "1.0"
		resp := c.do(1, req).(*kmsg.ApiVersionsResponse)
		checkCode(t, "api versions", resp.ErrorCode, nil)
		if resp.Version != v {
			t.Errorf("v%d answered at v%d", v, resp.Version)
		}
		checkAPITable(t, resp.ApiKeys)
	}
	// Above the newest version: answered at v0 with UNSUPPORTED_VERSION and
	// the table, so the client can retry at a version both speak.
	for _, v := range []int16{6, 127} {
		r := c.await(c.handleRaw(1, Request{Key: 18, Version: v}), 1)
		resp, ok := r.Msg.(*kmsg.ApiVersionsResponse)
		if !ok {
			t.Fatalf("v%d: answered %T", v, r.Msg)
		}
		checkCode(t, "api versions above max", resp.ErrorCode, kerr.UnsupportedVersion)
		if resp.Version != 0 {
			t.Errorf("v%d: answered at v%d, want v0", v, resp.Version)
		}
		checkAPITable(t, resp.ApiKeys)
	}
	// Everything advertised can be encoded by kmsg, and is handled.
	for _, k := range servedKeys() {
		req := kmsg.RequestForKey(k)
		if req == nil || req.MaxVersion() < served[k].max {
			t.Errorf("key %d advertised up to v%d, beyond what kmsg encodes", k, served[k].max)
		}
	}
}

// Every served version of every served API is answered at its own version
// without UNSUPPORTED_VERSION.
func TestServedVersionsAnswered(t *testing.T) {
	c, tp := oneBroker(t)
	for _, k := range servedKeys() {
		for v := served[k].min; v <= served[k].max; v++ {
			req := sampleRequest(k, v, tp.id)
			r := c.await(c.handle(1, req), 20)
			if r.Msg == nil {
				t.Errorf("key %d v%d: no response message", k, v)
				continue
			}
			if r.Msg.GetVersion() != v {
				t.Errorf("key %d v%d: answered at v%d", k, v, r.Msg.GetVersion())
			}
			if codes := errorCodes(r.Msg); slices.Contains(codes, kerr.UnsupportedVersion.Code) {
				t.Errorf("key %d v%d: answered UNSUPPORTED_VERSION: %v", k, v, codes)
			}
		}
	}
}

// An unsupported version of a served API that kmsg decodes is answered at
// that version with UNSUPPORTED_VERSION on every item the request named.
func TestUnsupportedVersion(t *testing.T) {
	c, tp := oneBroker(t)
	for _, tc := range []struct {
		name    string
		key     int16
		version int16
		items   int // error codes expected in the response
	}{
		{"Produce v2", 0, 2, 1},
		{"Fetch v3", 1, 3, 1},
		{"ListOffsets v0", 2, 0, 1},
		{"CreateTopics v1", 19, 1, 1},
		{"DeleteTopics v0", 20, 0, 1},
		{"OffsetForLeaderEpoch v1", 23, 1, 1},
		{"OffsetCommit v1", 8, 1, 1},
		{"OffsetFetch v0", 9, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if Served(tc.key, tc.version) {
				t.Fatalf("key %d v%d is served", tc.key, tc.version)
			}
			req := sampleRequest(tc.key, tc.version, tp.id)
			r := c.await(c.handle(1, req), 5)
			if r.Msg == nil {
				t.Fatal("no response message")
			}
			if r.Msg.Key() != tc.key || r.Msg.GetVersion() != tc.version {
				t.Errorf("answered key %d v%d", r.Msg.Key(), r.Msg.GetVersion())
			}
			codes := errorCodes(r.Msg)
			n := 0
			for _, cd := range codes {
				if cd != kerr.UnsupportedVersion.Code {
					t.Errorf("error code %d in the answer, want only UNSUPPORTED_VERSION", cd)
				}
				n++
			}
			if n < tc.items {
				t.Errorf("answer carries %d UNSUPPORTED_VERSION codes, want one per requested item (%d): %+v", n, tc.items, r.Msg)
			}
		})
	}
	// An API the broker does not serve at all, with a top-level error code.
	da := kmsg.NewPtrDescribeACLsRequest()
	da.Version = 1
	r := c.await(c.handle(1, da), 5)
	resp, ok := r.Msg.(*kmsg.DescribeACLsResponse)
	if !ok {
		t.Fatalf("DescribeACLs answered %T", r.Msg)
	}
	checkCode(t, "DescribeACLs", resp.ErrorCode, kerr.UnsupportedVersion)
}

// sampleRequest is a small valid request of key at version v, naming topic
// "t" (id tid) partition 0 where the API names partitions.
func sampleRequest(key, v int16, tid [16]byte) kmsg.Request {
	req := kmsg.RequestForKey(key)
	req.SetVersion(v)
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		*r = *produceReq(v, -1, 1000, "t", tid, map[int32][]byte{0: makeBatch(1, "s", 1)})
	case *kmsg.FetchRequest:
		*r = *fetchReq(v, "t", tid, 0, 0, 0, 0, 1<<20, 1<<20)
	case *kmsg.ListOffsetsRequest:
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
	case *kmsg.MetadataRequest:
		*r = *metadataReq(v, false, "t")
	case *kmsg.FindCoordinatorRequest:
		r.CoordinatorKey, r.CoordinatorKeys = "g", []string{"g"}
	case *kmsg.ApiVersionsRequest:
		r.ClientSoftwareName, r.ClientSoftwareVersion = "sluice-test", "1.0"
	case *kmsg.CreateTopicsRequest:
		*r = *createReq(v, true, createSpec{name: "sample", partitions: 1, rf: 1})
	case *kmsg.DeleteTopicsRequest:
		*r = *deleteReq(v, "no-such-topic")
	case *kmsg.InitProducerIDRequest:
	case *kmsg.OffsetForLeaderEpochRequest:
		*r = *offsetForEpochReq(v, "t", 0, 1, -1)
	case *kmsg.CreatePartitionsRequest:
		*r = *createPartitionsReq(true, "t", 3, nil)
	case *kmsg.OffsetCommitRequest:
		r.Group, r.Generation = "g", -1
		r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", TopicID: tid, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, LeaderEpoch: -1}}}}
	case *kmsg.OffsetFetchRequest:
		r.Group = "g"
		r.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}}
		r.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g", MemberEpoch: -1, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", TopicID: tid, Partitions: []int32{0}}}}}
	case *kmsg.JoinGroupRequest:
		r.Group, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis, r.ProtocolType = "g", 10000, 10000, "consumer"
		r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0}}}
	case *kmsg.SyncGroupRequest:
		r.Group, r.MemberID = "g", "m"
	case *kmsg.HeartbeatRequest:
		r.Group, r.MemberID = "g", "m"
	case *kmsg.LeaveGroupRequest:
		r.Group, r.MemberID = "g", "m"
		r.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "m"}}
	case *kmsg.DescribeGroupsRequest:
		r.Groups = []string{"g"}
	case *kmsg.DeleteGroupsRequest:
		r.Groups = []string{"g"}
	case *kmsg.OffsetDeleteRequest:
		r.Group = "g"
		r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	}
	req.SetVersion(v)
	return req
}

// errorCodes lists every ErrorCode field reachable in a response.
func errorCodes(resp kmsg.Response) []int16 {
	var out []int16
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).Name == "ErrorCode" && v.Field(i).Kind() == reflect.Int16 {
					out = append(out, int16(v.Field(i).Int()))
					continue
				}
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(resp))
	return out
}

// --- Produce and fetch under leadership changes and bounds -----------------

// isolate cuts broker id off from every other broker.
func (c *cluster) isolate(id int32) {
	for _, o := range c.ids {
		if o != id {
			c.net.Partition(uint64(id), uint64(o))
		}
	}
}

// A leader that loses its leadership answers its waiting acks=all produce
// once the entry is overwritten: NOT_LEADER_OR_FOLLOWER with the new leader.
func TestProduceLeaderChange(t *testing.T) {
	c := newCluster(t, 53, 3)
	c.createTopic("t", 1, 3, nil)
	old := c.leaderOf("t", 0)
	c.mustProduce(old, "t", 0, makeBatch(1, "before", 1))
	c.isolate(old)
	k := c.handle(old, produceReq(12, -1, 60000, "t", [16]byte{}, map[int32][]byte{0: makeBatch(1, "lost", 2)}))
	c.settle()
	var lead int32
	for i := 0; i < 200 && (lead == 0 || lead == old); i++ {
		c.tick()
		lead = 0
		for _, id := range c.ids {
			if h := c.hostedOn(id, "t", 0); id != old && h.leader == uint64(id) {
				if _, ok := h.p.HighWatermark(); ok {
					lead = id
				}
			}
		}
	}
	if lead == 0 {
		t.Fatal("the majority elected no new leader")
	}
	if r, ok := c.answered(k); ok {
		op := r.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		t.Fatalf("the isolated leader answered its produce with %d (offset %d) before it learned its fate", op.ErrorCode, op.BaseOffset)
	}
	c.mustProduce(lead, "t", 0, makeBatch(1, "after", 3))
	newTerm := c.hostedOn(lead, "t", 0).term
	c.net.HealAll()
	r := c.await(k, 100)
	op := r.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	checkCode(t, "overwritten produce", op.ErrorCode, kerr.NotLeaderForPartition)
	if op.CurrentLeader.LeaderID != lead || op.CurrentLeader.LeaderEpoch != int32(newTerm) {
		t.Errorf("CurrentLeader %+v, want %d epoch %d", op.CurrentLeader, lead, newTerm)
	}
	// The log holds "before" and "after", never "lost".
	f := c.do(lead, fetchReq(12, "t", [16]byte{}, 0, 0, 0, 0, 1<<20, 1<<20)).(*kmsg.FetchResponse)
	recs := f.Topics[0].Partitions[0].RecordBatches
	if bytes.Contains(recs, []byte("lost")) || !bytes.Contains(recs, []byte("before")) || !bytes.Contains(recs, []byte("after")) {
		t.Errorf("log after the leader change holds the wrong records")
	}
}

// min.insync.replicas above the ISR: acks=all is refused with
// NOT_ENOUGH_REPLICAS; acks=1 is taken.
func TestProduceNotEnoughReplicas(t *testing.T) {
	c := newCluster(t, 59, 3)
	c.createTopic("t", 1, 3, nil, "min.insync.replicas", "3")
	leader, follower := leaderAndFollower(t, c, "t", 0)
	c.isolate(follower)
	for i := 0; i < 400 && len(c.hostedOn(leader, "t", 0).p.ISR()) == 3; i++ {
		c.tick()
	}
	if isr := c.hostedOn(leader, "t", 0).p.ISR(); len(isr) != 2 {
		t.Fatalf("ISR %v after the follower was cut off", isr)
	}
	op := c.produce(leader, "t", 0, makeBatch(1, "x", 1))
	checkCode(t, "acks=all below min.insync.replicas", op.ErrorCode, kerr.NotEnoughReplicas)
	resp := c.do(leader, produceReq(12, 1, 5000, "t", [16]byte{}, map[int32][]byte{0: makeBatch(1, "y", 1)})).(*kmsg.ProduceResponse)
	checkCode(t, "acks=1 below min.insync.replicas", resp.Topics[0].Partitions[0].ErrorCode, nil)
	// Metadata reports the shrunken ISR.
	md := c.do(leader, metadataReq(12, false, "t")).(*kmsg.MetadataResponse)
	if isr := md.Topics[0].Partitions[0].ISR; len(isr) != 2 || slices.Contains(isr, follower) {
		t.Errorf("metadata ISR %v, want the two connected replicas", isr)
	}
}

// Over Config.MaxPendingProduces a produce is answered at once with
// REQUEST_TIMED_OUT; over Config.MaxParkedFetches a fetch is answered at
// once with what there is.
func TestProduceAndFetchBounds(t *testing.T) {
	c := newCluster(t, 61, 3, func(cfg *Config) { cfg.MaxPendingProduces, cfg.MaxParkedFetches = 1, 1 })
	c.createTopic("t", 1, 3, nil)
	leader, _ := leaderAndFollower(t, c, "t", 0)
	c.isolate(leader)
	k1 := c.handle(leader, produceReq(12, -1, 1000, "t", [16]byte{}, map[int32][]byte{0: makeBatch(1, "a", 1)}))
	k2 := c.handle(leader, produceReq(12, -1, 1000, "t", [16]byte{}, map[int32][]byte{0: makeBatch(1, "b", 1)}))
	c.settle()
	if _, ok := c.answered(k1); ok {
		t.Fatal("the first produce did not wait")
	}
	r, ok := c.answered(k2)
	if !ok {
		t.Fatal("the produce over the cap was not answered at once")
	}
	checkCode(t, "produce over the cap", r.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode, kerr.RequestTimedOut)
	f1 := c.handle(leader, fetchReq(12, "t", [16]byte{}, 0, 0, 1000, 1, 1<<20, 1<<20))
	f2 := c.handle(leader, fetchReq(12, "t", [16]byte{}, 0, 0, 1000, 1, 1<<20, 1<<20))
	c.settle()
	if _, ok := c.answered(f1); ok {
		t.Fatal("the first fetch did not park")
	}
	r, ok = c.answered(f2)
	if !ok {
		t.Fatal("the fetch over the cap was not answered at once")
	}
	checkCode(t, "fetch over the cap", r.Msg.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode, nil)
	c.await(k1, 15)
	c.await(f1, 15)
}

// Two creates of one name in flight at once: one wins, the other is told
// the topic exists.
func TestCreateTopicsRace(t *testing.T) {
	c := newCluster(t, 67, 3)
	ctl := c.controller()
	k1 := c.handle(ctl, createReq(7, false, createSpec{name: "race", partitions: 1, rf: 3}))
	k2 := c.handle(ctl, createReq(7, false, createSpec{name: "race", partitions: 2, rf: 3}))
	r1 := c.await(k1, 20).Msg.(*kmsg.CreateTopicsResponse).Topics[0]
	r2 := c.await(k2, 20).Msg.(*kmsg.CreateTopicsResponse).Topics[0]
	codes := []int16{r1.ErrorCode, r2.ErrorCode}
	slices.Sort(codes)
	if !slices.Equal(codes, []int16{0, kerr.TopicAlreadyExists.Code}) {
		t.Errorf("codes %v, want one success and one TOPIC_ALREADY_EXISTS", codes)
	}
	c.waitTopic("race")
	winner := r1
	if r1.ErrorCode != 0 {
		winner = r2
	}
	if got := c.topic(2, "race"); got.id != winner.TopicID || len(got.Replicas) != int(winner.NumPartitions) {
		t.Errorf("topic %+v, want the winner's id %x with %d partitions", got, winner.TopicID, winner.NumPartitions)
	}
}

// A produce waiting on a partition that is deleted under it is still
// answered, and parked fetches on it too.
func TestRequestsOnDeletedTopicAnswered(t *testing.T) {
	c := newCluster(t, 71, 3)
	c.createTopic("t", 1, 3, nil)
	ctl := c.controller()
	leader, _ := leaderAndFollower(t, c, "t", 0)
	f := c.handle(leader, fetchReq(12, "t", [16]byte{}, 0, 0, 3000, 1, 1<<20, 1<<20))
	p := c.handle(leader, produceReq(12, -1, 3000, "t", [16]byte{}, map[int32][]byte{0: makeBatch(1, "a", 1)}))
	d := c.handle(ctl, deleteReq(6, "t"))
	checkCode(t, "delete", c.await(d, 20).Msg.(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode, nil)
	c.await(p, 40)
	c.await(f, 40)
}

// --- Determinism -----------------------------------------------------------

// workloadHash runs a scripted workload on three brokers — topic creation,
// produces, fetches (one of them long-polling), metadata, a leader cut off
// and healed, a deletion — and hashes every output in order: responses as
// encoded, raft messages, disk writes and reads.
func workloadHash(t *testing.T, seed uint64) [32]byte {
	h := sha256.New()
	c := newTracedCluster(t, seed, 3, h)
	c.createTopic("d", 3, 3, nil)
	c.createTopic("e", 2, 2, nil)
	poll := c.handle(c.leaderOf("d", 0), fetchReq(12, "d", [16]byte{}, 0, 0, 2000, 1, 1<<20, 1<<20))
	for i := 0; i < 12; i++ {
		p := int32(i % 3)
		c.mustProduce(c.leaderOf("d", p), "d", p, makeBatch(1+i%4, fmt.Sprintf("v%d", i), int64(1000+i)))
		if i%5 == 0 {
			c.tick()
		}
	}
	c.await(poll, 30)
	for _, id := range c.ids {
		c.do(id, metadataReq(12, false))
		c.do(id, fetchReq(12, "d", [16]byte{}, 1, 0, 0, 0, 1<<20, 1<<20))
	}
	lead := c.leaderOf("d", 0)
	c.isolate(lead)
	c.ticks(30)
	c.net.HealAll()
	c.waitTopic("d")
	c.mustProduce(c.leaderOf("d", 0), "d", 0, makeBatch(2, "after", 5000))
	c.do(c.controller(), deleteReq(6, "e"))
	c.do(2, metadataReq(12, true, "auto"))
	c.waitTopic("auto")
	c.ticks(10)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func TestDeterminism(t *testing.T) {
	a, b := workloadHash(t, 42), workloadHash(t, 42)
	if a != b {
		t.Fatalf("same seed, different outputs: %x vs %x", a, b)
	}
	if c := workloadHash(t, 43); c == a {
		t.Fatalf("different seeds gave the same outputs %x", a)
	}
}

// message.timestamp.type=LogAppendTime: the leader stamps its clock into
// the batch (attribute bit 3, max timestamp, a recomputed CRC) and answers
// it as LogAppendTime.
func TestProduceLogAppendTime(t *testing.T) {
	c := newCluster(t, 73, 1)
	c.createTopic("lat", 1, 1, nil, "message.timestamp.type", "LogAppendTime")
	c.ticks(3)
	now := c.nowMs
	resp := c.do(1, produceReq(12, -1, 5000, "lat", [16]byte{}, map[int32][]byte{0: makeBatch(2, "x", 5)})).(*kmsg.ProduceResponse)
	op := resp.Topics[0].Partitions[0]
	checkCode(t, "produce", op.ErrorCode, nil)
	if op.LogAppendTime != now {
		t.Errorf("LogAppendTime %d, want %d", op.LogAppendTime, now)
	}
	f := c.do(1, fetchReq(12, "lat", [16]byte{}, 0, 0, 0, 0, 1<<20, 1<<20)).(*kmsg.FetchResponse)
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(f.Topics[0].Partitions[0].RecordBatches); err != nil {
		t.Fatal(err)
	}
	if rb.Attributes&0x08 == 0 || rb.MaxTimestamp != now {
		t.Errorf("stored batch attributes %#x max timestamp %d, want LogAppendTime %d", rb.Attributes, rb.MaxTimestamp, now)
	}
	b := f.Topics[0].Partitions[0].RecordBatches
	if crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)) != uint32(rb.CRC) {
		t.Error("stored batch CRC does not match after stamping")
	}

	// Between ticks the stamp is the time the request is handled (SetNow,
	// which the runtime calls before handing requests over), not the last
	// tick's: a record produced after T is never stamped before T (found by
	// a kcat review: stamps were up to a tick old, and a ListOffsets for T
	// skipped the record).
	later := c.nowMs + 70
	c.nodes[1].SetNow(later)
	op = c.produce(1, "lat", 0, makeBatch(1, "y", 5))
	checkCode(t, "produce between ticks", op.ErrorCode, nil)
	if op.LogAppendTime != later {
		t.Errorf("LogAppendTime between ticks %d, want %d (the last tick was %d)", op.LogAppendTime, later, c.nowMs)
	}
	bs := fetchBatches(t, c, "lat")
	if got := bs[len(bs)-1].MaxTimestamp; got != later {
		t.Errorf("stored timestamp %d, want %d", got, later)
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version = 7
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "lat"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp = 0, later
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	lr := c.do(1, lo).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if lr.ErrorCode != 0 || lr.Offset != 2 {
		t.Errorf("ListOffsets for %d: offset %d error %d, want 2 (the record produced then)", later, lr.Offset, lr.ErrorCode)
	}
	c.nodes[1].SetNow(later - 50) // never backwards
	if op := c.produce(1, "lat", 0, makeBatch(1, "z", 5)); op.LogAppendTime < later {
		t.Errorf("LogAppendTime %d after SetNow back to %d, want at least %d", op.LogAppendTime, later-50, later)
	}
}

// A topic named twice in one DeleteTopics or CreatePartitions request is
// refused with INVALID_REQUEST, as Apache Kafka's controller does (and as
// CreateTopics here does).
func TestAdminDuplicateTopics(t *testing.T) {
	c := newCluster(t, 79, 1)
	c.createTopic("t", 1, 1, nil)
	cp := createPartitionsReq(false, "t", 2, nil)
	cp.Topics = append(cp.Topics, cp.Topics[0])
	cr := c.do(1, cp).(*kmsg.CreatePartitionsResponse)
	for _, rt := range cr.Topics {
		checkCode(t, "CreatePartitions naming a topic twice", rt.ErrorCode, kerr.InvalidRequest)
	}
	dr := c.do(1, deleteReq(6, "t", "t")).(*kmsg.DeleteTopicsResponse)
	for _, rt := range dr.Topics {
		checkCode(t, "DeleteTopics naming a topic twice", rt.ErrorCode, kerr.InvalidRequest)
	}
	c.ticks(2)
	if c.topic(1, "t") == nil || len(c.topic(1, "t").Replicas) != 1 {
		t.Errorf("a refused request changed the topic: %+v", c.topic(1, "t"))
	}
}

// A fetch parked on a leader is answered NOT_LEADER_OR_FOLLOWER soon after
// that broker loses the leadership, not only when MaxWait runs out (Apache
// Kafka completes delayed fetches when a partition becomes a follower), so
// consumers move to the new leader without waiting out their long poll.
func TestFetchParkedAnsweredOnLeadershipLoss(t *testing.T) {
	c := newCluster(t, 53, 3)
	c.createTopic("t", 1, 3, nil)
	old := c.leaderOf("t", 0)
	k := c.handle(old, fetchReq(12, "t", [16]byte{}, 0, 0, 10000, 1, 1<<20, 1<<20))
	c.settle()
	c.isolate(old)
	lost := -1
	for i := 0; i < 100; i++ {
		c.tick()
		if lost < 0 && c.hostedOn(old, "t", 0).leader != uint64(old) {
			lost = i
		}
		if r, ok := c.answered(k); ok {
			if lost < 0 || i > lost+2 {
				t.Fatalf("answered %d ticks after the leadership was lost (at tick %d); want within 2", i-lost, lost)
			}
			checkCode(t, "parked fetch on a deposed leader", r.Msg.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode, kerr.NotLeaderForPartition)
			return
		}
	}
	t.Fatalf("not answered; leadership lost at tick %d", lost)
}

// TestUnknownGroupMessagesDroppedAndCounted: raft messages for a group the
// broker does not host never create it; they are dropped and counted.
func TestUnknownGroupMessagesDroppedAndCounted(t *testing.T) {
	c := newCluster(t, 1, 3)
	c.waitController()
	n := c.nodes[1]
	before := n.Stats().UnknownGroupMsgs
	g := transport.GroupID{TopicID: [16]byte{9, 9, 9}, Partition: 0}
	m := &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: new(uint64(2)), To: new(uint64(1)), Term: new(uint64(5))}
	n.Receive(transport.Batch{From: 2, To: 1, Msgs: []transport.Envelope{{Group: g, Msg: m}}})
	if got := n.Stats().UnknownGroupMsgs; got != before+1 {
		t.Fatalf("UnknownGroupMsgs = %d, want %d", got, before+1)
	}
	if n.Replica(g) != nil {
		t.Fatal("a message created a group")
	}
}

// A produce waiting on a replica that closes (its topic deleted) is
// answered at once, NOT_LEADER_OR_FOLLOWER, not at its timeout.
func TestProduceAnsweredWhenReplicaCloses(t *testing.T) {
	c := newCluster(t, 61, 3)
	c.createTopic("t", 1, 3, nil, "min.insync.replicas", "3")
	leader, follower := leaderAndFollower(t, c, "t", 0)
	if follower == c.controller() {
		for _, id := range c.ids {
			if id != leader && id != follower {
				follower = id
			}
		}
	}
	// min.insync.replicas 3 with a follower cut off just now (still in the
	// ISR): the acks=all produce is taken and waits.
	c.isolate(follower)
	k := c.handle(leader, produceReq(12, -1, 60000, "t", [16]byte{}, map[int32][]byte{0: makeBatch(1, "x", 1)}))
	c.ticks(3)
	if _, ok := c.answered(k); ok {
		t.Fatal("answered without the third replica")
	}
	resp := c.do(c.controller(), deleteReq(6, "t")).(*kmsg.DeleteTopicsResponse)
	checkCode(t, "delete topic", resp.Topics[0].ErrorCode, nil)
	// Well inside the 60 s timeout (a tick is 100 ms).
	r := c.await(k, 30)
	op := r.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	checkCode(t, "produce to a deleted topic", op.ErrorCode, kerr.NotLeaderForPartition)
	if op.BaseOffset != -1 {
		t.Errorf("base offset %d, want -1", op.BaseOffset)
	}
}
