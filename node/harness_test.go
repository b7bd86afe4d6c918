package node

// A deterministic test driver for node cores: N brokers, each with its own
// in-memory disk and seeded environment, over transport.Mem. Every Write's
// Round runs synchronously, every cold Read executes at once, time moves
// 100 ms per tick, and responses are collected by (Conn, Seq). Requests are
// encoded and decoded with kmsg on the way in (as the runtime decodes a
// frame) and responses are encoded on the way out, so a field that cannot
// be encoded at the request's version shows up here as it would on the wire.

import (
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"maps"
	"slices"
	"testing"
	"testing/cryptotest"

	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/proto"

	"sluice/env"
	"sluice/raftlog/vfs"
	"sluice/transport"
)

const tickMs = 100

type reqKey struct{ conn, seq uint64 }

type cluster struct {
	t     testing.TB
	seed  uint64
	ids   []int32
	nodes map[int32]*Node
	fs    map[int32]*vfs.Mem
	cfgs  map[int32]Config
	down  map[int32]bool
	net   *transport.Mem
	nowMs int64
	seq   uint64

	resps map[reqKey]Response
	// order lists responses as they came out, for tests that check order.
	order []reqKey
	// trace, if set, hashes every output in order (determinism test).
	trace hash.Hash
	// holdReads keeps cold reads pending instead of executing them.
	holdReads bool
	heldReads map[int32][]Read
	// rawRequests passes requests to Handle as given; by default they are
	// encoded and decoded first, as the runtime decodes a frame.
	rawRequests bool
	// observe, if set, sees every batch a broker sends.
	observe func(from int32, b transport.Batch)
}

type clusterOpt func(*Config)

// newCluster opens n brokers (ids 1..n) and ticks until they agree on a
// controller. etcd raft's election jitter comes from crypto/rand, so the
// run seeds it.
func newCluster(t testing.TB, seed uint64, n int, opts ...clusterOpt) *cluster {
	t.Helper()
	return newTracedCluster(t, seed, n, nil, opts...)
}

// newTracedCluster is newCluster hashing every output into trace from the
// start.
func newTracedCluster(t testing.TB, seed uint64, n int, trace hash.Hash, opts ...clusterOpt) *cluster {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		cryptotest.SetGlobalRandom(tt, seed)
	}
	c := &cluster{t: t, seed: seed, nodes: map[int32]*Node{}, fs: map[int32]*vfs.Mem{}, cfgs: map[int32]Config{},
		down: map[int32]bool{}, net: transport.NewMem(transport.MemOptions{}), resps: map[reqKey]Response{},
		heldReads: map[int32][]Read{}, trace: trace}
	var brokers []Broker
	for i := 1; i <= n; i++ {
		c.ids = append(c.ids, int32(i))
		c.down[int32(i)] = true // until started
		brokers = append(brokers, Broker{ID: int32(i), Host: fmt.Sprintf("broker%d.test", i), Port: int32(9090 + i)})
	}
	for _, id := range c.ids {
		e, _ := env.NewDeterministic(seed*1000+uint64(id), 0)
		cfg := Config{ID: id, ClusterID: "sluice-test-cluster", Incarnation: [16]byte{byte(id), 0xaa},
			Brokers: brokers, FS: vfs.NewMem(seed*1000 + uint64(id)), Dir: "data", Env: e, SegmentBytes: 1 << 20}
		for _, o := range opts {
			o(&cfg)
		}
		c.fs[id] = cfg.FS.(*vfs.Mem)
		c.cfgs[id] = cfg
		c.open(id)
	}
	c.settle()
	c.waitController()
	return c
}

func (c *cluster) start(id int32) {
	c.t.Helper()
	c.open(id)
	c.settle()
}

// open opens broker id from its disk without running it.
func (c *cluster) open(id int32) {
	c.t.Helper()
	nd, err := Open(c.cfgs[id])
	if err != nil {
		c.t.Fatalf("open broker %d: %v", id, err)
	}
	c.nodes[id] = nd
	c.down[id] = false
	c.net.SetReporter(uint64(id), reporter{c: c, id: id})
	nd.Tick(c.nowMs)
}

// restart closes broker id and opens it again from its disk (a clean
// restart: nothing is lost).
func (c *cluster) restart(id int32) {
	c.t.Helper()
	c.settle()
	c.nodes[id].Close()
	c.start(id)
}

type reporter struct {
	c  *cluster
	id int32
}

func (r reporter) Unreachable(g transport.GroupID, to uint64) {
	if !r.c.down[r.id] {
		r.c.nodes[r.id].Unreachable(g, to)
	}
}

func (r reporter) SnapshotStatus(g transport.GroupID, to uint64, ok bool) {
	if !r.c.down[r.id] {
		r.c.nodes[r.id].SnapshotStatus(g, to, ok)
	}
}

func (c *cluster) record(kind string, b []byte) {
	if c.trace == nil {
		return
	}
	c.trace.Write([]byte(kind))
	c.trace.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(b))))
	c.trace.Write(b)
}

// process carries out one Ready's output of broker id; it reports whether
// there was any.
func (c *cluster) process(id int32, out Output) bool {
	nd := c.nodes[id]
	for _, w := range out.Writes {
		for _, op := range w.W.Round.Writes {
			c.record("write", op.Data)
		}
		nd.WriteDone(w, w.W.Round.Run(c.fs[id]))
	}
	for _, r := range out.Reads {
		if c.holdReads {
			c.heldReads[id] = append(c.heldReads[id], r)
			continue
		}
		c.runRead(id, r)
	}
	for _, r := range out.Responses {
		c.takeResponse(id, r)
	}
	for _, b := range out.Batches {
		if c.observe != nil {
			c.observe(id, b)
		}
		c.recordBatch(b)
		c.net.Node(uint64(id)).Send(b)
	}
	return len(out.Writes)+len(out.Reads)+len(out.Responses)+len(out.Batches) > 0
}

func (c *cluster) runRead(id int32, r Read) {
	batches, err := r.Plan.Execute()
	for _, b := range batches {
		c.record("read", b)
	}
	c.nodes[id].ReadDone(r.ID, batches, err)
}

// releaseReads executes the cold reads held back by holdReads.
func (c *cluster) releaseReads() {
	for _, id := range c.ids {
		rs := c.heldReads[id]
		c.heldReads[id] = nil
		for _, r := range rs {
			c.runRead(id, r)
		}
	}
	c.settle()
}

func (c *cluster) recordBatch(b transport.Batch) {
	if c.trace == nil {
		return
	}
	c.record("batch", fmt.Appendf(nil, "%d>%d %v %v %v", b.From, b.To, b.Leaders, b.Incarnations, b.Forwards))
	for _, e := range b.Msgs {
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(e.Msg)
		if err != nil {
			c.t.Fatalf("marshal: %v", err)
		}
		c.record("msg", fmt.Appendf(data, "%v", e.Group))
	}
}

func (c *cluster) takeResponse(id int32, r Response) {
	c.t.Helper()
	k := reqKey{r.Conn, r.Seq}
	if _, dup := c.resps[k]; dup {
		c.t.Fatalf("broker %d answered request %v twice", id, k)
	}
	enc := []byte{}
	if r.Msg != nil {
		// Every response must encode at its version.
		enc = r.Msg.AppendTo(nil)
		dec := kmsg.ResponseForKey(r.Msg.Key())
		dec.SetVersion(r.Msg.GetVersion())
		if err := dec.ReadFrom(enc); err != nil {
			c.t.Fatalf("broker %d: response to %v (key %d v%d) does not decode: %v", id, k, r.Key, r.Msg.GetVersion(), err)
		}
	}
	c.record("resp", fmt.Appendf(enc, "%d %d %d %v", r.Conn, r.Seq, r.Key, r.Close))
	c.resps[k] = r
	c.order = append(c.order, k)
}

// settle runs every live broker's Ready and delivers its batches until
// nothing moves.
func (c *cluster) settle() {
	c.t.Helper()
	for i := 0; i < 10000; i++ {
		busy := false
		for _, id := range c.ids {
			if c.down[id] {
				continue
			}
			if c.process(id, c.nodes[id].Ready()) {
				busy = true
			}
		}
		for _, b := range c.net.DeliverAll() {
			busy = true
			if c.down[int32(b.To)] {
				continue
			}
			c.nodes[int32(b.To)].Receive(b)
		}
		if !busy {
			return
		}
	}
	c.t.Fatalf("the cluster did not settle")
}

// tick moves time one tick on every live broker, then settles.
func (c *cluster) tick() {
	c.t.Helper()
	c.nowMs += tickMs
	for _, id := range c.ids {
		if !c.down[id] {
			c.nodes[id].Tick(c.nowMs)
		}
	}
	c.settle()
}

func (c *cluster) ticks(n int) {
	c.t.Helper()
	for range n {
		c.tick()
	}
}

// waitController ticks until every live broker reports the same controller
// and the metadata group has committed in its term.
func (c *cluster) waitController() int32 {
	c.t.Helper()
	for i := 0; i < 300; i++ {
		ctl := int32(-1)
		agree := true
		for _, id := range c.ids {
			if c.down[id] {
				continue
			}
			got := c.nodes[id].Controller()
			if ctl == -1 {
				ctl = got
			}
			if got == -1 || got != ctl {
				agree = false
			}
		}
		if agree && ctl != -1 {
			if _, ok := c.nodes[ctl].meta.p.HighWatermark(); ok {
				return ctl
			}
		}
		c.tick()
	}
	c.t.Fatalf("no controller")
	return -1
}

func (c *cluster) controller() int32 { return c.waitController() }

// handle sends msg to broker to at msg's version (encoded and decoded
// first, as the runtime would) and returns the key its answer comes by.
func (c *cluster) handle(to int32, msg kmsg.Request) reqKey {
	c.t.Helper()
	r := Request{Key: msg.Key(), Version: msg.GetVersion(), ClientID: "test-client", Msg: msg}
	if !c.rawRequests {
		fresh := kmsg.RequestForKey(msg.Key())
		fresh.SetVersion(msg.GetVersion())
		if err := fresh.ReadFrom(msg.AppendTo(nil)); err != nil {
			c.t.Fatalf("request key %d v%d does not round-trip: %v", msg.Key(), msg.GetVersion(), err)
		}
		r.Msg = fresh
	}
	return c.handleRaw(to, r)
}

// handleRaw passes r to broker to as it is, with a fresh Conn/Seq.
func (c *cluster) handleRaw(to int32, r Request) reqKey {
	c.seq++
	r.Conn, r.Seq = uint64(to), c.seq
	c.nodes[to].Handle(r)
	return reqKey{r.Conn, r.Seq}
}

// answered returns the response to k, if there is one yet.
func (c *cluster) answered(k reqKey) (Response, bool) {
	r, ok := c.resps[k]
	return r, ok
}

// await settles, then ticks up to maxTicks times until k is answered.
func (c *cluster) await(k reqKey, maxTicks int) Response {
	c.t.Helper()
	c.settle()
	for i := 0; ; i++ {
		if r, ok := c.resps[k]; ok {
			return r
		}
		if i >= maxTicks {
			c.t.Fatalf("request %v not answered within %d ticks", k, maxTicks)
		}
		c.tick()
	}
}

// do sends msg and waits (up to 100 ticks) for its response message.
func (c *cluster) do(to int32, msg kmsg.Request) kmsg.Response {
	c.t.Helper()
	r := c.await(c.handle(to, msg), 100)
	if r.Msg == nil {
		c.t.Fatalf("request key %d answered with no message (close %v)", msg.Key(), r.Close)
	}
	if r.Msg.GetVersion() != msg.GetVersion() && msg.Key() != 18 {
		c.t.Fatalf("request key %d v%d answered at v%d", msg.Key(), msg.GetVersion(), r.Msg.GetVersion())
	}
	return r.Msg
}

// topic returns broker id's view of a topic, nil if it does not know it.
func (c *cluster) topic(id int32, name string) *topicInfo {
	return c.nodes[id].topics.byName[name]
}

// leaderOf returns the broker whose replica leads partition p of topic and
// has committed in its term, 0 if none.
func (c *cluster) leaderOf(name string, p int32) int32 {
	for _, id := range c.ids {
		if c.down[id] {
			continue
		}
		t := c.topic(id, name)
		if t == nil {
			continue
		}
		h := c.nodes[id].hosts[c.nodes[id].group(t, p)]
		if h == nil || h.leader != uint64(id) {
			continue
		}
		if _, ok := h.p.HighWatermark(); ok {
			return id
		}
	}
	return 0
}

// hostedOn returns broker id's replica of partition p of topic.
func (c *cluster) hostedOn(id int32, name string, p int32) *hosted {
	t := c.topic(id, name)
	if t == nil {
		return nil
	}
	return c.nodes[id].hosts[c.nodes[id].group(t, p)]
}

// waitTopic ticks until every live broker knows the topic and every
// partition has a committed leader that every live broker knows.
func (c *cluster) waitTopic(name string) {
	c.t.Helper()
	for i := 0; i < 300; i++ {
		if c.topicReady(name) {
			return
		}
		c.tick()
	}
	c.t.Fatalf("topic %q has no leaders", name)
}

func (c *cluster) topicReady(name string) bool {
	for _, id := range c.ids {
		if c.down[id] {
			continue
		}
		t := c.topic(id, name)
		if t == nil {
			return false
		}
		for p := range t.Replicas {
			lead := c.leaderOf(name, int32(p))
			if lead == 0 {
				return false
			}
			li, ok := c.nodes[id].leaderOf(c.nodes[id].group(t, int32(p)))
			if !ok || li.Leader != uint64(lead) {
				return false
			}
		}
	}
	return true
}

// createTopic creates a topic through the controller and waits for its
// partitions' leaders. assign, if given, places partition i on assign[i]
// (the first replica leads); otherwise partitions and rf are used.
func (c *cluster) createTopic(name string, partitions int32, rf int16, assign [][]int32, configs ...string) *topicInfo {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for i, a := range assign {
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, kmsg.CreateTopicsRequestTopicReplicaAssignment{Partition: int32(i), Replicas: a})
	}
	for i := 0; i+1 < len(configs); i += 2 {
		v := configs[i+1]
		rt.Configs = append(rt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: configs[i], Value: &v})
	}
	req.Topics = append(req.Topics, rt)
	resp := c.do(c.controller(), req).(*kmsg.CreateTopicsResponse)
	if got := resp.Topics[0].ErrorCode; got != 0 {
		c.t.Fatalf("create topic %q: error %d", name, got)
	}
	c.waitTopic(name)
	return c.topic(c.ids[0], name)
}

// makeBatch encodes one uncompressed magic-2 batch of n records, each
// holding value, timestamps ts, ts+1, ...
func makeBatch(n int, value string, ts int64) []byte {
	return makeBatchWith(n, value, ts, nil)
}

// makeBatchWith is makeBatch with a chance to edit the batch header before
// the length and CRC are computed.
func makeBatchWith(n int, value string, ts int64, edit func(*kmsg.RecordBatch)) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte(value)}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1) // a zero Length encodes as one varint byte
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(n - 1), FirstTimestamp: ts, MaxTimestamp: ts + int64(n-1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: recs}
	if edit != nil {
		edit(&rb)
	}
	return finishBatch(rb.AppendTo(nil))
}

// finishBatch sets a batch's length and CRC32C.
func finishBatch(b []byte) []byte {
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// produceReq builds a produce request of one batch per (topic, partition).
func produceReq(version int16, acks int16, timeoutMs int32, topic string, id [16]byte, batches map[int32][]byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, acks, timeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	for _, p := range slices.Sorted(maps.Keys(batches)) {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, batches[p]
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// produce sends one batch to topic/p on broker to (acks=all) and returns
// the partition's answer.
func (c *cluster) produce(to int32, topic string, p int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	c.t.Helper()
	resp := c.do(to, produceReq(12, -1, 5000, topic, [16]byte{}, map[int32][]byte{p: batch})).(*kmsg.ProduceResponse)
	return resp.Topics[0].Partitions[0]
}

// mustProduce is produce that fails the test on an error; it returns the
// base offset.
func (c *cluster) mustProduce(to int32, topic string, p int32, batch []byte) int64 {
	c.t.Helper()
	op := c.produce(to, topic, p, batch)
	if op.ErrorCode != 0 {
		c.t.Fatalf("produce to %s/%d on broker %d: error %d", topic, p, to, op.ErrorCode)
	}
	return op.BaseOffset
}

// fetchReq builds a one-partition fetch.
func fetchReq(version int16, topic string, id [16]byte, p int32, offset int64, maxWaitMs, minBytes, maxBytes, partMaxBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = version, -1, maxWaitMs, minBytes, maxBytes
	req.SessionID, req.SessionEpoch = 0, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = p, offset, partMaxBytes, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// splitBatches splits a fetched record set into its batches.
func splitBatches(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("record set has a %d-byte tail", len(b))
		}
		n := 12 + int(binary.BigEndian.Uint32(b[8:12]))
		if n > len(b) {
			t.Fatalf("record set batch of %d bytes, %d left", n, len(b))
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}
