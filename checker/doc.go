// Package checker judges a recorded history of sends and polls against the
// invariants of DESIGN.md: offsets unique and contiguous, no acknowledged
// record lost, per-producer order, consumers reading in offset order, a high
// watermark that never goes backwards. It owns the history types (History,
// Send, Poll) and Check, which returns a Result: every Violation names its
// anomaly, its partition and the operations involved with their virtual
// times (the caller adds the seed). A check that could not finish (a
// porcupine window that timed out, input it cannot judge) goes in
// Result.Unknown and makes the result invalid: unknown is never a pass.
//
// # What it checks
//
// Per partition, the version order is every (offset, value) that an OK poll
// returned or an acks=all send was answered with. Over it, Jepsen's Kafka
// queue catalogue (jepsen.tests.kafka, the analyses of Redpanda and
// Bufstream), under the same names: inconsistent-offsets, duplicate,
// lost-write, G1a, poll-skip, nonmonotonic-poll, int-poll-skip,
// int-nonmonotonic-poll, nonmonotonic-send, int-nonmonotonic-send,
// incompatible-order. Then direct checks, each O(n log n): duplicate-offset
// (two sends acknowledged at one offset; records sharing producer id, epoch
// and sequence are one send), realtime-order (a send acknowledged before
// another began has the lower offset), unexplained-gap (an offset nobody
// read must be explainable by an unread send of unknown outcome invoked in
// time: a matching, decided by Hall's condition on nested candidate sets),
// phantom (a read value nobody sent), hw-regression (per process, across
// non-decreasing leader epochs), log-start-regression (across processes in
// real time, over non-decreasing epochs), read-above-hw and latest-above-hw
// (a ListOffsets LATEST answer above a high watermark reported at the same
// epoch after it). Finally porcupine checks
// bounded windows of each partition against an append-only log model (see
// linear.go for the model, the windows and why windowing never raises a
// false alarm); Visualize draws a failing window as HTML.
//
// Outcomes: OK sends happened between invoke and completion; Fail sends
// never happened; Unknown sends (timeouts, resets, and every acks=0/1 send,
// whose loss is lawful) may have happened at any time after their invoke.
// Losses of acks=0/1 sends are measured in Stats, never reported. The
// send-order checks apply to idempotent producers (or one request in
// flight) only, as Kafka promises.
//
// checker must never import the implementation (env, raftlog, partition,
// transport, metadata, node, sim or scenarios): a checker that shares code
// with what it checks shares its bugs. It depends on porcupine and the
// standard library only; the glue in cmd/sluice converts the simulator's
// records into these types.
package checker
