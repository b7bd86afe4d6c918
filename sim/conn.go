package sim

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node"
)

// conn is a client's connection to one broker. Like TCP it delivers in
// order without duplicates, but it can stall (latency) or reset (a broker
// crash, a timeout): every call in flight then fails on the client, whose
// requests may or may not have been handled.
type conn struct {
	w    *World
	id   uint64
	c    *client
	node *simNode
	gen  uint64 // the node's life when the connection was made
	dead bool
	// flush: dead because its client process died; requests it had
	// written still reach the broker (the kernel sends a closed socket's
	// buffered bytes), but their answers find no one.
	flush bool

	nextSeq  uint64
	calls    map[uint64]*call
	toNodeNs int64 // FIFO: the last delivery time in each direction
	toCliNs  int64

	ready    map[uint64]node.Response // node responses waiting for their turn
	nextResp uint64
}

type call struct {
	req     kmsg.Request
	done    func(kmsg.Response) // nil response: the call failed (reset or timeout)
	settled bool
}

// requestTimeoutNs: a call without an answer by then resets its connection.
const requestTimeoutNs = 5e9

// conn returns c's live connection to broker id, dialling if needed.
func (c *client) conn(id int32) *conn {
	w := c.w
	sn := w.nodes[id-1]
	if cn := c.conns[id]; cn != nil && !cn.dead && cn.gen == sn.gen {
		return cn
	}
	w.nextCon++
	cn := &conn{w: w, id: w.nextCon, c: c, node: sn, gen: sn.gen, calls: map[uint64]*call{}, ready: map[uint64]node.Response{}}
	c.conns[id] = cn
	w.conns[cn.id] = cn
	return cn
}

// call sends req to broker id; done gets the response, or nil if the call
// failed.
func (c *client) call(id int32, req kmsg.Request, done func(kmsg.Response)) {
	c.request(id, req, done)
}

// send sends a request that gets no response (acks=0 produce).
func (c *client) send(id int32, req kmsg.Request) { c.request(id, req, nil) }

func (c *client) request(id int32, req kmsg.Request, done func(kmsg.Response)) {
	w := c.w
	if c.dead {
		return // a dead process sends nothing, and hears nothing back
	}
	cn := c.conn(id)
	seq := cn.nextSeq
	cn.nextSeq++
	cl := &call{req: req, done: done}
	if done != nil {
		cn.calls[seq] = cl
	}
	// Encode here and decode at the broker: the two never share memory.
	wire := req.AppendTo(nil)
	key, version := req.Key(), req.GetVersion()
	at := max(w.nowNs+w.uniform(20_000, 200_000), cn.toNodeNs, cn.node.clientClogUntil)
	cn.toNodeNs = at
	w.at(at, func() {
		if (cn.dead && !cn.flush) || cn.node.n == nil || cn.node.gen != cn.gen {
			return
		}
		dec := kmsg.RequestForKey(key)
		dec.SetVersion(version)
		if err := dec.ReadFrom(wire); err != nil {
			panic("sim: a client request does not decode: " + err.Error())
		}
		w.record("req", cn.id, seq, uint64(key))
		w.input(cn.node, func() { cn.node.n.Handle(node.Request{Conn: cn.id, Seq: seq, Key: key, Version: version, Msg: dec}) })
	})
	if done == nil {
		return
	}
	w.after(requestTimeoutNs, func() {
		if !cl.settled {
			w.record("timeout", cn.id, seq)
			cn.reset()
		}
	})
}

// respond takes a broker's response and delivers it in order.
func (w *World) respond(sn *simNode, r node.Response) {
	cn := w.conns[r.Conn]
	if cn == nil || cn.dead {
		return
	}
	cn.ready[r.Seq] = r
	for {
		r, ok := cn.ready[cn.nextResp]
		if !ok {
			return
		}
		delete(cn.ready, cn.nextResp)
		seq := cn.nextResp
		cn.nextResp++
		if r.Close {
			// Kafka closes the connection after a failed acks=0 produce.
			w.after(w.uniform(20_000, 200_000), cn.reset)
			return
		}
		if r.Msg == nil {
			continue // acks=0: nothing comes back
		}
		wire := r.Msg.AppendTo(nil)
		w.recordBytes("resp", wire)
		var term uint64 // group offsets answers: the coordinator's raft term
		if k := r.Msg.Key(); k == 8 || k == 9 {
			term = w.offsetsTerm(sn)
		}
		version := r.Msg.GetVersion()
		at := max(w.nowNs+w.uniform(20_000, 200_000), cn.toCliNs, sn.clientClogUntil)
		cn.toCliNs = at
		w.at(at, func() {
			cl := cn.calls[seq]
			if cn.dead || cl == nil || cl.settled {
				return
			}
			resp := cl.req.ResponseKind()
			resp.SetVersion(version)
			if err := resp.ReadFrom(wire); err != nil {
				panic("sim: a broker response does not decode: " + err.Error())
			}
			cl.settled = true
			delete(cn.calls, seq)
			cn.c.respTerm = term
			cl.done(resp)
		})
	}
}

// reset breaks the connection: every call in flight fails.
func (cn *conn) reset() {
	if cn.dead {
		return
	}
	cn.dead = true
	cn.w.statResets++
	delete(cn.w.conns, cn.id)
	seqs := make([]uint64, 0, len(cn.calls))
	for s := range cn.calls {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for _, s := range seqs {
		cl := cn.calls[s]
		if !cl.settled {
			cl.settled = true
			cl.done(nil)
		}
	}
	cn.calls = nil
}

// resetConns breaks every client connection to a crashed broker (the
// clients learn of it a moment later).
func (w *World) resetConns(sn *simNode) {
	var ids []uint64
	for id, cn := range w.conns {
		if cn.node == sn {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		cn := w.conns[id]
		w.after(w.uniform(50_000, 500_000), cn.reset)
	}
}

// abandon closes cn because its client process died: nothing is reported
// to the dead client, and no call of it completes; requests already
// written are still delivered.
func (cn *conn) abandon() {
	if cn.dead {
		return
	}
	cn.dead, cn.flush = true, true
	delete(cn.w.conns, cn.id)
	for _, cl := range cn.calls {
		cl.settled = true // order-free: no callback runs
	}
	cn.calls = nil
}

// resetBusyConns resets, at once, every client connection to sn with a
// call in flight (a reset in the middle of a request: its calls fail on the
// client, and the broker may or may not have handled them); it returns how
// many it reset.
func (w *World) resetBusyConns(sn *simNode) int {
	var ids []uint64
	for id, cn := range w.conns {
		if cn.node == sn && len(cn.calls) > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if cn := w.conns[id]; cn != nil { // a failed call's callback may have closed it
			cn.reset()
		}
	}
	return len(ids)
}
