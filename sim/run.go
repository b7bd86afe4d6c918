package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/raftlog/vfs"
)

// setup starts the brokers and creates the workload topic.
func (w *World) setup() {
	w.net = newNetwork(w)
	w.conns = map[uint64]*conn{}
	members := w.brokers()
	for i := range w.cfg.Nodes {
		sn := &simNode{w: w, id: uint64(i + 1), mem: vfs.NewMem(w.rng.Uint64()), rate: 1, members: members}
		sn.fs = vfs.Inject(sn.mem, w.diskRule(sn))
		binaryPutU64(sn.incarnation[:8], w.rng.Uint64())
		binaryPutU64(sn.incarnation[8:], w.rng.Uint64())
		if w.cfg.Faults {
			// Tick-rate skew: each broker's clock runs up to 10% off.
			sn.rate = 0.9 + 0.2*w.rng.Float64()
		}
		w.nodes = append(w.nodes, sn)
	}
	for _, sn := range w.nodes {
		w.start(sn)
	}
	admin := w.newClient(consumer)
	created := false
	var create func()
	create = func() {
		if created {
			return
		}
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version, req.TimeoutMillis = 7, 5000
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = w.topic, int32(w.cfg.Partitions), int16(w.cfg.RF)
		t.Configs = w.topicConfigs()
		req.Topics = append(req.Topics, t)
		target := int32(1) // the lowest id campaigns for the metadata group first
		if sn := w.nodes[0]; sn.n != nil && sn.n.Controller() > 0 {
			target = sn.n.Controller()
		}
		admin.call(target, req, func(r kmsg.Response) {
			resp, _ := r.(*kmsg.CreateTopicsResponse)
			if resp != nil && len(resp.Topics) == 1 && (resp.Topics[0].ErrorCode == 0 || resp.Topics[0].ErrorCode == 36) {
				created = true
				return
			}
			w.after(50e6, create)
		})
	}
	w.after(10e6, create)
	ready := func() bool {
		if !created {
			return false
		}
		for _, l := range admin.leaders {
			if l < 0 {
				return false
			}
		}
		return true
	}
	var poll func()
	poll = func() {
		if ready() {
			return
		}
		admin.refreshMetadata()
		w.after(20e6, poll)
	}
	w.after(20e6, poll)
	if !w.runWhile(w.nowNs+20e9, ready) {
		w.fail("setup: the topic has no leaders after 20 s")
	}
	w.setupNs = w.nowNs
}

// topicConfigs are the workload topic's configs that Config sets.
func (w *World) topicConfigs() []kmsg.CreateTopicsRequestTopicConfig {
	var out []kmsg.CreateTopicsRequestTopicConfig
	add := func(name string, v int64) {
		if v > 0 {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = name, kmsg.StringPtr(strconv.FormatInt(v, 10))
			out = append(out, c)
		}
	}
	add("min.insync.replicas", int64(w.cfg.MinInsyncReplicas))
	add("flush.messages", w.cfg.FlushMessages)
	add("flush.ms", w.cfg.FlushMs)
	add("retention.bytes", w.cfg.RetentionBytes)
	add("segment.bytes", w.cfg.SegmentBytes)
	if w.hist.DeleteOnly {
		// Nothing but DeleteRecords deletes: retention.ms unlimited too,
		// not 7 days (a run is shorter, but the checker should not rest
		// on that).
		for _, name := range []string{"retention.bytes", "retention.ms"} {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = name, kmsg.StringPtr("-1")
			out = append(out, c)
		}
	}
	return out
}

func binaryPutU64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

// startWorkload schedules the clients until endNs.
func (w *World) startWorkload(endNs int64) {
	var producers []*client
	for range w.cfg.Producers {
		c := w.newClient(producer)
		producers = append(producers, c)
		c.refreshMetadata()
		c.initProducer(func() {})
	}
	for i := range w.cfg.LooseProducers {
		c := w.newClient(looseProducer)
		c.acks = 1
		if i%2 == 1 {
			c.acks = 0
		}
		producers = append(producers, c)
		c.refreshMetadata()
	}
	if len(producers) > 0 {
		every := int64(1e9) * int64(len(producers)) / int64(w.cfg.ProduceRate)
		for _, c := range producers {
			c := c
			var tick func()
			tick = func() {
				if w.nowNs >= endNs {
					return
				}
				c.produceTick()
				w.after(every/2+w.uniform(0, every), tick)
			}
			w.after(w.uniform(0, every), tick)
		}
	}
	for range max(w.cfg.GroupMembers, 0) {
		w.members = append(w.members, w.newGroupMember())
	}
	if w.cfg.GroupMembers > 0 {
		w.newAuditor()
	}
	every := int64(1e9) * int64(max(w.cfg.Consumers, 1)) / int64(w.cfg.FetchRate)
	for range w.cfg.Consumers {
		c := w.newClient(consumer)
		c.refreshMetadata()
		next, ticks := int32(0), 0
		var tick func()
		tick = func() {
			if w.nowNs >= endNs {
				return
			}
			// One tick in latestEvery asks for the partition's LATEST
			// offset instead of fetching it (checked by latest-above-hw).
			if ticks++; ticks%latestEvery == 0 {
				c.latest(next)
			} else {
				c.pollTick(next, nil)
			}
			next = (next + 1) % int32(w.cfg.Partitions)
			w.after(every/2+w.uniform(0, every), tick)
		}
		w.after(w.uniform(0, every), tick)
	}
}

// healAll ends every fault: links healed, paused brokers resumed, crashed
// ones restarted.
func (w *World) healAll() {
	w.record("heal")
	for _, k := range w.linkKeys() {
		l := w.net.links[k]
		l.cut, l.loss, l.dup, l.clogUntil = false, 0, 0, 0
		l.latLoNs, l.latHiNs = 100_000, 1_000_000
	}
	for _, sn := range w.nodes {
		sn.disk.slowUntilNs = 0
		sn.diskErr = nil
		sn.flipUntil, sn.clientClogUntil = 0, 0
		if sn.paused {
			w.resume(sn, sn.gen)
		}
		if sn.n == nil {
			sn.gen++
			w.start(sn)
		}
	}
}

// liveness lets every producer finish, then reads every partition from
// the start with a fresh consumer; all by deadlineNs.
func (w *World) liveness(deadlineNs int64) {
	var producers []*client
	for _, c := range w.clients {
		if c.kind != consumer {
			c.stop = true
			producers = append(producers, c)
		}
	}
	settled := func() bool {
		for _, c := range producers {
			if c.pending() {
				return false
			}
		}
		return true
	}
	if !w.runWhile(deadlineNs, settled) {
		for _, c := range producers {
			for p, b := range c.batches {
				if b != nil {
					w.fail("liveness: producer %d's batch %d to partition %d still pending after faults healed (%d tries)", c.id, b.id, p, b.tries)
				}
			}
		}
		return
	}
	// The highest offset acknowledged with acks=all, per partition, must be
	// read (acks=1 records may be lost lawfully).
	want := make([]int64, w.cfg.Partitions)
	for _, s := range w.hist.Sends {
		if s.Outcome == OK && s.Acks == -1 && s.Offset+1 > want[s.Partition] {
			want[s.Partition] = s.Offset + 1
		}
	}
	reader := w.newClient(consumer)
	reader.final = true
	reader.refreshMetadata()
	doneParts := w.pollEach(reader, deadlineNs, func(p int32, last Poll) bool {
		return reader.pos[p] >= last.HighWatermark && reader.pos[p] >= want[p]
	})
	if doneParts != nil {
		for p, d := range doneParts {
			if !d {
				w.fail("liveness: the final reader reached offset %d of partition %d, want %d, within the bound; %s",
					reader.pos[p], p, want[p], w.describePartition(int32(p)))
			}
		}
		return
	}
	// The consumer group, still running, must commit every partition up to
	// its end.
	if len(w.members) == 0 {
		return
	}
	ends := slices.Clone(reader.pos)
	if !w.runWhile(deadlineNs, func() bool { return w.groupSettled(ends) }) {
		got := make([]int64, len(ends))
		for _, c := range w.hist.Commits {
			if c.Outcome == OK {
				got[c.Partition] = max(got[c.Partition], c.Offset)
			}
		}
		var states []string
		for _, m := range w.members {
			states = append(states, fmt.Sprintf("member %d: coordinator %d, id %q, generation %d, state %d, partitions %v",
				m.c.id, m.coord, m.memberID, m.gen, m.state, m.assigned))
		}
		w.fail("liveness: the consumer group committed %v, want the ends %v, within the bound; %s", got, ends, strings.Join(states, "; "))
		return
	}
	// Retention goes on after the final read: a later pass can delete
	// records the final read still saw, and a group member catching up
	// after it lawfully resets past them. The final reader polls every
	// partition once more, and the log start those polls report bounds
	// what the group may have skipped (checker.Poll.End).
	if w.hist.Retention {
		reader.final, reader.end = false, true
		if missed := w.pollEach(reader, deadlineNs, func(_ int32, last Poll) bool { return last.Outcome == OK }); missed != nil {
			w.fail("liveness: the final reader could not poll every partition after the group settled (polled: %v)", missed)
		}
	}
}

// pollEach has c poll the workload's partitions in turn, every 5 ms, until
// done says a partition's latest poll finishes it, for every partition, or
// deadlineNs passes; it returns nil, or which partitions were done when
// time ran out.
func (w *World) pollEach(c *client, deadlineNs int64, done func(p int32, last Poll) bool) []bool {
	doneParts := make([]bool, w.cfg.Partitions)
	caughtUp := func() bool {
		for _, d := range doneParts {
			if !d {
				return false
			}
		}
		return true
	}
	next := int32(0)
	var step func()
	step = func() {
		if caughtUp() {
			return
		}
		for doneParts[next] {
			next = (next + 1) % int32(w.cfg.Partitions)
		}
		p := next
		before := len(w.hist.Polls)
		c.pollTick(p, func() {
			if len(w.hist.Polls) > before {
				if done(p, w.hist.Polls[len(w.hist.Polls)-1]) {
					doneParts[p] = true
				}
			}
			next = (next + 1) % int32(w.cfg.Partitions)
		})
		w.after(5e6, step)
	}
	w.after(0, step)
	if !w.runWhile(deadlineNs, caughtUp) {
		return doneParts
	}
	return nil
}

func (w *World) stats() Stats {
	return Stats{Events: w.statEvents, Messages: w.statMessages, Dropped: w.statDropped, Writes: w.statWrites,
		Crashes: w.statCrashes, Partitions: w.statPartitions, Pauses: w.statPauses, Resets: w.statResets, DiskFaults: w.statDiskFaults, Wipes: w.statWipes, WriteBytes: w.statWriteBytes,
		Snapshots: w.snapshots, Sends: len(w.hist.Sends), Polls: len(w.hist.Polls), Commits: len(w.hist.Commits)}
}

// linkKeys lists the links in a fixed order.
func (w *World) linkKeys() [][2]uint64 {
	var out [][2]uint64
	for from := 1; from <= w.cfg.Nodes; from++ {
		for to := 1; to <= w.cfg.Nodes; to++ {
			if from != to {
				k := [2]uint64{uint64(from), uint64(to)}
				if w.net.links[k] != nil {
					out = append(out, k)
				}
			}
		}
	}
	return out
}

// describePartition says what every replica of partition p looks like.
func (w *World) describePartition(p int32) string {
	var b strings.Builder
	b.WriteString(w.describeWipes())
	for _, sn := range w.nodes {
		if sn.n == nil {
			fmt.Fprintf(&b, "[broker %d down]", sn.id)
			continue
		}
		for _, pi := range sn.n.Partitions() {
			if pi.Topic == w.topic && pi.Group.Partition == p {
				amnesic := false
				if r := sn.n.Replica(pi.Group); r != nil {
					amnesic = r.Amnesic()
				}
				fmt.Fprintf(&b, "[broker %d: leader %d term %d hw %d (valid %v) leo %d isr %v quiesced %v amnesic %v err %v]",
					sn.id, pi.Leader, pi.Term, pi.HighWater, pi.HWValid, pi.LogEnd, pi.ISR, pi.Quiesced, amnesic, pi.Err)
			}
		}
	}
	return b.String()
}
