package transport

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"go.etcd.io/raft/v3/raftpb"
)

// Default per-link queue bounds of Mem, used when MemOptions leaves them 0.
const (
	DefaultMaxQueueBytes   = 64 << 20
	DefaultMaxQueueBatches = 1024
)

// MemOptions bounds Mem's queues. Every directed link has its own queue; a
// batch that would take it past either bound is dropped, as a TCP peer's full
// send queue would drop it.
type MemOptions struct {
	// MaxQueueBytes bounds the sum of SizeBytes of the batches queued on one
	// link; 0 means DefaultMaxQueueBytes. A batch larger than the bound is
	// always dropped.
	MaxQueueBytes int
	// MaxQueueBatches bounds the number of batches queued on one link; 0
	// means DefaultMaxQueueBatches.
	MaxQueueBatches int
}

// Link is a directed connection between two nodes.
type Link struct{ From, To uint64 }

// compareLinks orders links by sender, then receiver: the order in which
// Pending lists them and DeliverAll drains them.
func compareLinks(a, b Link) int {
	if c := cmp.Compare(a.From, b.From); c != 0 {
		return c
	}
	return cmp.Compare(a.To, b.To)
}

// Mem is an in-memory network for many nodes. Send only enqueues; nothing
// moves until the caller (the simulator or a test) calls Deliver, DeliverAll
// or Drop, so the caller decides the order and fate of every batch and one
// seed reproduces a run. Mem starts no goroutines and is not safe for
// concurrent use: one goroutine drives it.
//
// Delivered batches are the ones sent, with their message pointers: the
// receiver must not mutate the messages (nor may the sender after Send), as
// with any Transport.
type Mem struct {
	maxQueueBytes   int
	maxQueueBatches int
	links           map[Link]*memLink
	nodes           map[uint64]*memNode
}

type memLink struct {
	queue     []queued // FIFO, oldest first
	sizeBytes int      // sum of queue[i].sizeBytes
	dropped   uint64
	cut       bool // partitioned: Send drops, so queue stays empty
}

type queued struct {
	b         Batch
	sizeBytes int // b.SizeBytes() at Send, so the accounting cannot drift
}

// memNode is one node's end of Mem: its Transport and its Reporter.
type memNode struct {
	mem      *Mem
	id       uint64
	reporter Reporter
}

func (n *memNode) Send(b Batch) { n.mem.send(n.id, b) }

// NewMem returns an empty network with the given queue bounds.
func NewMem(opts MemOptions) *Mem {
	if opts.MaxQueueBytes < 0 || opts.MaxQueueBatches < 0 {
		panic(fmt.Sprintf("transport: negative queue bound in %+v", opts))
	}
	return &Mem{
		maxQueueBytes:   cmp.Or(opts.MaxQueueBytes, DefaultMaxQueueBytes),
		maxQueueBatches: cmp.Or(opts.MaxQueueBatches, DefaultMaxQueueBatches),
		links:           map[Link]*memLink{},
		nodes:           map[uint64]*memNode{},
	}
}

// Node returns the Transport of node id, whose Send enqueues each batch on
// the link from id to the batch's To. It panics on a batch whose From is not
// id or that fails Batch.Validate: that is a bug in the sender. A batch
// carrying nothing is ignored.
func (m *Mem) Node(id uint64) Transport { return m.node(id) }

func (m *Mem) node(id uint64) *memNode {
	if id == 0 {
		panic("transport: node id 0 is raft's None")
	}
	n := m.nodes[id]
	if n == nil {
		n = &memNode{mem: m, id: id}
		m.nodes[id] = n
	}
	return n
}

// SetReporter sets where the drops and snapshot deliveries of batches sent
// by node go. Without one they are only counted.
func (m *Mem) SetReporter(node uint64, r Reporter) { m.node(node).reporter = r }

func (m *Mem) reporter(node uint64) Reporter {
	if n := m.nodes[node]; n != nil {
		return n.reporter
	}
	return nil
}

func (m *Mem) link(from, to uint64) *memLink {
	k := Link{from, to}
	l := m.links[k]
	if l == nil {
		l = &memLink{}
		m.links[k] = l
	}
	return l
}

func (m *Mem) send(from uint64, b Batch) {
	if b.From != from {
		panic(fmt.Sprintf("transport: node %d sent a batch from node %d to node %d", from, b.From, b.To))
	}
	if err := b.Validate(); err != nil {
		panic(err.Error())
	}
	if b.empty() {
		return
	}
	l := m.link(b.From, b.To)
	size := b.SizeBytes()
	if l.cut || len(l.queue) >= m.maxQueueBatches || l.sizeBytes+size > m.maxQueueBytes {
		l.dropped++
		ReportDropped(m.reporter(from), b)
		return
	}
	// Copy the slices: the sender may reuse them once Send returns.
	b.Msgs = slices.Clone(b.Msgs)
	b.Leaders = slices.Clone(b.Leaders)
	b.Incarnations = slices.Clone(b.Incarnations)
	b.Forwards = slices.Clone(b.Forwards)
	l.queue = append(l.queue, queued{b: b, sizeBytes: size})
	l.sizeBytes += size
}

// Pending returns the links that have queued batches, ordered by From, then
// To.
func (m *Mem) Pending() []Link {
	var out []Link
	for k, l := range m.links { //lint:maporder-ok collected, then sorted
		if len(l.queue) > 0 {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, compareLinks)
	return out
}

// Queued returns the number of batches queued on the link from → to.
func (m *Mem) Queued(from, to uint64) int {
	if l := m.links[Link{from, to}]; l != nil {
		return len(l.queue)
	}
	return 0
}

// Dropped returns the number of batches dropped on the link from → to:
// refused by a full queue or a cut link, or discarded by Drop or Partition.
func (m *Mem) Dropped(from, to uint64) uint64 {
	if l := m.links[Link{from, to}]; l != nil {
		return l.dropped
	}
	return 0
}

// Deliver removes and returns the oldest batch queued on the link from → to
// (links are FIFO, as a TCP connection is), or false if there is none. For
// each MsgSnap in it the sender's Reporter hears SnapshotStatus(true): handing
// the batch over is as far as a transport can vouch for it.
func (m *Mem) Deliver(from, to uint64) (Batch, bool) {
	l := m.links[Link{from, to}]
	if l == nil || len(l.queue) == 0 {
		return Batch{}, false
	}
	q := l.queue[0]
	l.queue[0] = queued{} // let the batch be collected once the receiver is done
	l.queue = l.queue[1:]
	l.sizeBytes -= q.sizeBytes
	if r := m.reporter(from); r != nil {
		for _, e := range q.b.Msgs {
			if e.Msg.GetType() == raftpb.MsgSnap {
				r.SnapshotStatus(e.Group, to, true)
			}
		}
	}
	return q.b, true
}

// DeliverAll removes and returns every queued batch: link by link in Pending
// order, each link's batches oldest first.
func (m *Mem) DeliverAll() []Batch {
	var out []Batch
	for _, k := range m.Pending() {
		for {
			b, ok := m.Deliver(k.From, k.To)
			if !ok {
				break
			}
			out = append(out, b)
		}
	}
	return out
}

// Drop discards every batch queued on the link from → to, as a broken
// connection loses what it had not yet sent, and returns how many it
// discarded. The sender's Reporter hears Unreachable for each group with a
// raft message among them, and SnapshotStatus(false) for each MsgSnap.
func (m *Mem) Drop(from, to uint64) int {
	l := m.links[Link{from, to}]
	if l == nil || len(l.queue) == 0 {
		return 0
	}
	batches := make([]Batch, len(l.queue))
	for i, q := range l.queue {
		batches[i] = q.b
	}
	// Empty the link before reporting, so a Reporter that sends sees a
	// consistent network.
	l.queue, l.sizeBytes = nil, 0
	l.dropped += uint64(len(batches))
	ReportDropped(m.reporter(from), batches...)
	return len(batches)
}

// Partition cuts the links between a and b in both directions: what they
// hold is dropped (as by Drop) and every later Send on them is dropped and
// reported, until Heal.
func (m *Mem) Partition(a, b uint64) {
	if a == b {
		panic(fmt.Sprintf("transport: cannot partition node %d from itself", a))
	}
	for _, k := range []Link{{a, b}, {b, a}} {
		m.link(k.From, k.To).cut = true
		m.Drop(k.From, k.To)
	}
}

// Heal restores the links between a and b in both directions.
func (m *Mem) Heal(a, b uint64) {
	m.link(a, b).cut = false
	m.link(b, a).cut = false
}

// Isolate partitions node from every other node Mem knows, that is every
// node passed to Node or SetReporter so far. Heal undoes it pair by pair,
// HealAll at once.
func (m *Mem) Isolate(node uint64) {
	m.node(node)
	// Sorted, because Partition reports drops and the reports' order must not
	// depend on map order.
	for _, other := range slices.Sorted(maps.Keys(m.nodes)) {
		if other != node {
			m.Partition(node, other)
		}
	}
}

// HealAll restores every cut link.
func (m *Mem) HealAll() {
	for _, l := range m.links { //lint:maporder-ok only clears a flag on each link
		l.cut = false
	}
}
