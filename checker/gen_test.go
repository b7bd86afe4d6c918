package checker

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
)

// genConfig shapes a generated history: a simple, correct replicated log
// (one append-only log per partition, leader epochs that advance, stale
// leaders that answer polls from an older epoch) driven by clients whose
// outcomes are sometimes unknown. Every history it produces is valid.
type genConfig struct {
	partitions int
	producers  int // idempotent acks=all producers
	weak       int // non-idempotent acks=1 producers
	consumers  int
	sends      int // send operations (each a batch of 1..maxBatch records)
	polls      int
	maxBatch   int
	maxPoll    int // records per poll

	pUnknown  float64 // acks=all send: outcome unknown (it happens or not, maybe late)
	pFail     float64 // acks=all send: refused, never happens
	pWeakLost float64 // acks=1 send: acknowledged, then overwritten by a new leader
	pRetry    float64 // OK idempotent send recorded twice, as a retry
	pSeek     float64
	pStale    float64 // poll answered by the previous epoch's leader
	pPollFail float64
	pEpoch    float64 // per poll: the partition's leader changes
	final     bool    // end with a final read of every partition
}

func defaultGen() genConfig {
	return genConfig{
		partitions: 2, producers: 3, weak: 1, consumers: 3, sends: 60, polls: 60,
		maxBatch: 3, maxPoll: 5, pUnknown: 0.15, pFail: 0.1, pWeakLost: 0.3, pRetry: 0.1,
		pSeek: 0.1, pStale: 0.1, pPollFail: 0.1, pEpoch: 0.05, final: true,
	}
}

type event struct {
	at   int64
	seq  int
	kind int // evInvoke, evEffect
	proc int
	op   int // index into pending ops
}

const (
	evInvoke = iota
	evEffect
	evComplete
)

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type genLog struct {
	values   []string
	epoch    int32
	epochEnd []int64 // log length when each epoch ended
}

type genOp struct {
	send     bool
	sends    []int // indices in History.Sends (a batch)
	poll     int   // index in History.Polls
	happens  bool  // send: takes effect
	lost     bool  // acks=1 send: acknowledged but overwritten
	stale    bool
	retry    bool
	detached bool // send of unknown outcome: its effect does not wait for the client
}

type genConsumer struct {
	pos  map[int32]int64
	seek map[int32]bool
}

// generate runs the simulation and returns its history.
func generate(rng *rand.Rand, cfg genConfig) History {
	var h History
	logs := make([]*genLog, cfg.partitions)
	for i := range logs {
		logs[i] = &genLog{}
	}
	nproc := cfg.producers + cfg.weak + cfg.consumers
	consumers := make([]genConsumer, nproc)
	for i := range consumers {
		consumers[i] = genConsumer{pos: map[int32]int64{}, seek: map[int32]bool{}}
	}
	seqs := map[[2]int]int32{}
	var ops []genOp
	q := &eventQueue{}
	seq := 0
	push := func(at int64, kind, proc, op int) {
		seq++
		heap.Push(q, event{at: at, seq: seq, kind: kind, proc: proc, op: op})
	}
	lat := func() int64 { return 1 + rng.Int64N(2_000_000) } // up to 2ms
	sendsLeft, pollsLeft := cfg.sends, cfg.polls
	value := 0
	batch := 0
	for p := range nproc {
		push(lat(), evInvoke, p, -1)
	}
	var now int64
	for q.Len() > 0 {
		e := heap.Pop(q).(event)
		now = e.at
		switch e.kind {
		case evInvoke:
			isProducer := e.proc < cfg.producers+cfg.weak
			weak := e.proc >= cfg.producers && isProducer
			if isProducer && sendsLeft > 0 {
				sendsLeft--
				part := int32(rng.IntN(cfg.partitions))
				batch++
				op := genOp{send: true}
				outcome := OK
				r := rng.Float64()
				switch {
				case weak:
					op.happens = true
					op.lost = rng.Float64() < cfg.pWeakLost
					if rng.Float64() < cfg.pUnknown {
						outcome = Unknown
						op.happens = rng.IntN(2) == 0
					}
				case r < cfg.pFail:
					outcome = Fail
				case r < cfg.pFail+cfg.pUnknown:
					outcome = Unknown
					op.happens = rng.IntN(2) == 0
				default:
					op.happens = true
					op.retry = rng.Float64() < cfg.pRetry
				}
				n := 1 + rng.IntN(cfg.maxBatch)
				for range n {
					value++
					s := Send{
						Process: e.proc, Partition: part, Value: fmt.Sprintf("v%d", value),
						Invoke: now, Complete: -1, Outcome: outcome, Offset: -1, Batch: batch,
					}
					if weak {
						s.Acks = AcksLeader
					} else {
						k := [2]int{e.proc, int(part)}
						s.Idempotent, s.ProducerID, s.Seq = true, int64(1000+e.proc), seqs[k]
						seqs[k]++
					}
					op.sends = append(op.sends, len(h.Sends))
					h.Sends = append(h.Sends, s)
				}
				op.detached = outcome == Unknown
				ops = append(ops, op)
				if op.detached {
					// The effect and the client's giving up are independent:
					// the write may land after the client timed out.
					push(now+lat()*int64(1+rng.IntN(5)), evEffect, e.proc, len(ops)-1)
					push(now+lat()*int64(1+rng.IntN(5)), evComplete, e.proc, len(ops)-1)
				} else {
					push(now+lat(), evEffect, e.proc, len(ops)-1)
				}
				continue
			}
			if !isProducer && pollsLeft > 0 {
				pollsLeft--
				part := int32(rng.IntN(cfg.partitions))
				c := &consumers[e.proc]
				if rng.Float64() < cfg.pSeek {
					c.pos[part] = rng.Int64N(int64(len(logs[part].values)) + 1)
					c.seek[part] = true
				}
				outcome := OK
				if rng.Float64() < cfg.pPollFail {
					outcome = Fail
					if rng.IntN(2) == 0 {
						outcome = Unknown
					}
				}
				h.Polls = append(h.Polls, Poll{
					Process: e.proc, Partition: part, Invoke: now, Complete: -1, Outcome: outcome,
					From: c.pos[part], HighWatermark: -1, LeaderEpoch: -1, Seek: c.seek[part],
				})
				c.seek[part] = false // recorded on the next poll, even one that fails
				ops = append(ops, genOp{poll: len(h.Polls) - 1, stale: rng.Float64() < cfg.pStale})
				push(now+lat(), evEffect, e.proc, len(ops)-1)
			}
		case evEffect:
			op := &ops[e.op]
			if op.send {
				s0 := &h.Sends[op.sends[0]]
				l := logs[s0.Partition]
				if op.happens {
					for _, si := range op.sends {
						s := &h.Sends[si]
						if s.Outcome == OK {
							s.Offset = int64(len(l.values))
						}
						if !op.lost {
							l.values = append(l.values, s.Value)
						}
					}
				}
				if !op.detached {
					push(now+lat(), evComplete, e.proc, e.op)
				}
				continue
			}
			pl := &h.Polls[op.poll]
			l := logs[pl.Partition]
			if rng.Float64() < cfg.pEpoch {
				l.epochEnd = append(l.epochEnd, int64(len(l.values)))
				l.epoch++
			}
			if pl.Outcome == OK {
				hw, epoch := int64(len(l.values)), l.epoch
				if op.stale && l.epoch > 0 {
					epoch = l.epoch - 1
					hw = l.epochEnd[epoch]
				}
				c := &consumers[e.proc]
				pos := c.pos[pl.Partition]
				end := min(hw, pos+int64(1+rng.IntN(cfg.maxPoll)))
				for o := pos; o < end; o++ {
					pl.Records = append(pl.Records, Record{Offset: o, Value: l.values[o]})
				}
				if end > pos {
					c.pos[pl.Partition] = end
				}
				pl.HighWatermark, pl.LeaderEpoch = hw, epoch
			}
			push(now+lat(), evComplete, e.proc, e.op)
		case evComplete:
			op := &ops[e.op]
			if op.send {
				done := now
				if op.detached && rng.IntN(3) == 0 {
					done = -1 // the client never heard back
				}
				for _, si := range op.sends {
					s := &h.Sends[si]
					s.Complete = done
				}
				if op.retry {
					// The client recorded its retry of an acknowledged
					// idempotent send as a second record: same identity,
					// same value, answered with the same offset.
					s := h.Sends[op.sends[0]]
					s.Invoke, s.Complete = now, now+1
					h.Sends = append(h.Sends, s)
				}
			} else {
				h.Polls[op.poll].Complete = now
			}
			push(now+lat(), evInvoke, e.proc, -1)
		}
	}
	if cfg.final {
		proc := nproc
		t := now + 1_000_000
		for part, l := range logs {
			for from := int64(0); ; {
				end := min(int64(len(l.values)), from+int64(cfg.maxPoll*4))
				pl := Poll{Process: proc, Partition: int32(part), Invoke: t, Complete: t + 1000, Outcome: OK,
					From: from, HighWatermark: int64(len(l.values)), LeaderEpoch: l.epoch, Final: true, Seek: from == 0}
				for o := from; o < end; o++ {
					pl.Records = append(pl.Records, Record{Offset: o, Value: l.values[o]})
				}
				h.Polls = append(h.Polls, pl)
				t += 2000
				if end == int64(len(l.values)) {
					break
				}
				from = end
			}
		}
	}
	return h
}
