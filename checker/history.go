package checker

import (
	"fmt"
	"strings"
	"time"
)

// Outcome is what the client learned about an operation.
//
// The zero value is Unknown, so that an outcome the recorder forgot to set is
// judged by the weakest claim (it may or may not have happened) and never
// makes a lost or failed operation look acknowledged.
type Outcome uint8

const (
	// Unknown: the operation may or may not have taken effect, at any time
	// after it was invoked, even after the client gave up on it: timeouts,
	// connection resets, a broker error that does not say the write was
	// refused.
	Unknown Outcome = iota
	// OK: the operation took effect between Invoke and Complete and its
	// response is recorded (offset for a send, records for a poll).
	OK
	// Fail: the operation definitely did not take effect and never will
	// (the broker refused the write before appending it, e.g.
	// NOT_LEADER_OR_FOLLOWER from a broker that never proposed it).
	Fail
)

func (o Outcome) String() string {
	switch o {
	case Unknown:
		return "unknown"
	case OK:
		return "ok"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Acks is the producer's acks setting for a send. The zero value is AcksAll,
// so that a history that never sets it is judged by the strictest rules.
type Acks uint8

const (
	// AcksAll (Kafka acks=-1): OK means committed; the record must be read
	// back at its offset and never lost.
	AcksAll Acks = iota
	// AcksLeader (Kafka acks=1): OK means only that the leader wrote it; a
	// new leader may overwrite it. The checker treats an OK outcome as
	// Unknown and measures the losses (Stats.WeakLost) instead of failing.
	AcksLeader
	// AcksNone (Kafka acks=0): no response at all; as AcksLeader.
	AcksNone
)

func (a Acks) String() string {
	switch a {
	case AcksAll:
		return "all"
	case AcksLeader:
		return "1"
	case AcksNone:
		return "0"
	}
	return fmt.Sprintf("acks(%d)", uint8(a))
}

// Send is one record a producer sent to one partition: a client-level
// operation, whatever retries the client made inside it.
//
// Times are virtual nanoseconds. Value must be unique per send: it is how a
// poll's record is traced back to its send. A history may record a retry of
// an idempotent send as a second Send with the same ProducerID, Epoch, Seq
// and Value; the checker merges such records into one logical send (the
// broker deduplicates the retry and answers with the original offset).
type Send struct {
	Process   int    // the client that sent it; sends of one process are in invoke order
	Partition int32  // the partition it was sent to
	Value     string // unique per send
	Invoke    int64  // virtual ns when the client called send
	Complete  int64  // virtual ns when the outcome arrived; -1 if it never did
	Outcome   Outcome
	Offset    int64 // the offset the broker answered with, when OK
	Acks      Acks

	// Idempotent is set for sends of an idempotent producer, or of one with
	// at most one request in flight: Kafka then promises that one
	// producer's records to a partition appear once and in send order, and
	// the send-order checks (nonmonotonic-send) apply.
	Idempotent bool
	ProducerID int64 // idempotent producer id; with Epoch and Seq, the send's identity
	Epoch      int16
	Seq        int32

	// Batch identifies the produce request (record batch) the send went in:
	// sends of one partition sharing a non-zero Batch were one batch, in the
	// order they appear in History.Sends. 0 means not recorded.
	Batch int
}

// Record is one record a poll returned.
type Record struct {
	Offset int64
	Value  string
}

// Poll is one fetch of one partition by a consumer (a poll that covered many
// partitions is recorded as one Poll per partition, with the same times).
type Poll struct {
	Process   int   // the consumer; polls of one process and partition are in invoke order
	Partition int32 // the partition it read
	Invoke    int64 // virtual ns
	Complete  int64 // virtual ns; -1 if it never completed
	Outcome   Outcome

	// From is the fetch offset: the consumer's position. -1 if not known.
	From int64
	// Records in the order the poll returned them. Only OK polls are read.
	Records []Record
	// HighWatermark the response reported; -1 if not known.
	HighWatermark int64
	// LeaderEpoch of the broker that answered; -1 if not known.
	LeaderEpoch int32

	// Seek: the consumer repositioned itself before this poll (assign, seek,
	// offset reset). It resets the poll-order checks of this process and
	// partition.
	Seek bool

	// Generation: for a consumer group member, its group generation when
	// it polled (0 outside a group). See GroupRedelivered.
	Generation int32

	// LogStart is the log start offset the response reported (Kafka's
	// log_start_offset); -1 if not known. See Options.Retention.
	LogStart int64

	// Final marks the polls of the run's final read: after faults healed and
	// every send resolved, a consumer read the partition from its start to
	// the high watermark. Every acknowledged send that completed before the
	// final read began, or whose offset lies below the high watermark it
	// reported, must have been read by some poll, or it is a lost-write.
	Final bool

	// End marks a poll made after the consumer groups settled, at the end
	// of the run. With Options.Retention its LogStart bounds what retention
	// deleted before a group's last commit: retention goes on after the
	// final read, so a group member that catches up later may lawfully
	// reset past records the final read still saw (group-missed).
	End bool
}

// History is everything the clients of one run did, in any order.
type History struct {
	Sends []Send
	Polls []Poll
	// Consumer groups (groups.go): commits, the committed offsets members
	// read when assigned a partition, and which processes consume in
	// which group.
	Commits     []Commit
	OffsetReads []OffsetRead
	Members     []GroupMember
	// Latests: ListOffsets LATEST answers (see LatestAboveHW).
	Latests []Latest
	// Deletes: DeleteRecords requests (see UnrequestedLogStart).
	Deletes []DeleteRecords
}

// DeleteRecords is one DeleteRecords request for a partition: move its log
// start offset to Offset.
type DeleteRecords struct {
	Process          int
	Partition        int32
	Offset           int64 // the offset asked for
	Invoke, Complete int64 // virtual ns; Complete -1: never answered without error
	// LowWatermark: the log start offset the answer reported (Kafka's low
	// watermark), -1 without an answer.
	LowWatermark int64
}

// Latest is a ListOffsets LATEST answered without error: Offset is the
// high watermark the partition's leader at LeaderEpoch reported (Kafka's
// LATEST under read_uncommitted), never its log end.
type Latest struct {
	Process          int
	Partition        int32
	Invoke, Complete int64 // virtual ns
	Offset           int64
	LeaderEpoch      int32 // the epoch it was answered at; -1 if not known
}

// Anomaly names a kind of violation. The first eleven are Jepsen's Kafka
// queue catalogue (jepsen.tests.kafka) under the same names.
type Anomaly string

// Jepsen's Kafka queue anomalies.
const (
	// InconsistentOffsets: one offset of a partition holds two different
	// values (seen by polls or answered to acks=all sends).
	InconsistentOffsets Anomaly = "inconsistent-offsets"
	// Duplicate: one value sits at two offsets.
	Duplicate Anomaly = "duplicate"
	// LostWrite: an acknowledged value was never read, though some poll read
	// past its offset (or the final read should have reached it).
	LostWrite Anomaly = "lost-write"
	// G1a (aborted read): a poll returned a value whose send definitely failed.
	G1a Anomaly = "G1a"
	// PollSkip: a process's next poll skipped over records between the last
	// record it read and the first one of this poll.
	PollSkip Anomaly = "poll-skip"
	// NonmonotonicPoll: a process's next poll started at or before the last
	// record it read, without a Seek.
	NonmonotonicPoll Anomaly = "nonmonotonic-poll"
	// IntPollSkip: one poll skipped over records between two records it
	// returned (or between its fetch offset and its first record).
	IntPollSkip Anomaly = "int-poll-skip"
	// IntNonmonotonicPoll: one poll returned a record at or before the
	// record before it.
	IntNonmonotonicPoll Anomaly = "int-nonmonotonic-poll"
	// NonmonotonicSend: a later acknowledged send of an idempotent process
	// got a lower offset than an earlier one.
	NonmonotonicSend Anomaly = "nonmonotonic-send"
	// IntNonmonotonicSend: within one batch, a later record got a lower
	// offset than an earlier one.
	IntNonmonotonicSend Anomaly = "int-nonmonotonic-send"
	// IncompatibleOrder: polls imply orders of the same values that no
	// single log order satisfies.
	IncompatibleOrder Anomaly = "incompatible-order"
)

// Direct checks beyond Jepsen's catalogue, and porcupine's verdict.
const (
	// DuplicateOffset: two different acknowledged sends were answered with
	// the same offset.
	DuplicateOffset Anomaly = "duplicate-offset"
	// RealtimeOrder: acknowledged send a completed before acknowledged send
	// b was invoked, yet offset(a) >= offset(b).
	RealtimeOrder Anomaly = "realtime-order"
	// UnexplainedGap: offsets below the highest known offset that no read
	// returned and no send of unknown outcome can have filled.
	UnexplainedGap Anomaly = "unexplained-gap"
	// Phantom: a poll returned a value no send to that partition attempted.
	Phantom Anomaly = "phantom"
	// HWRegression: the high watermark a process saw went backwards while
	// the leader epoch did not.
	HWRegression Anomaly = "hw-regression"
	// LogStartRegression: a poll reported a lower log start offset than
	// one that completed before it began, at the same or a lower leader
	// epoch (records once gone came back).
	LogStartRegression Anomaly = "log-start-regression"
	// ReadAboveHW: a poll returned a record at or above the high watermark
	// it reported.
	ReadAboveHW Anomaly = "read-above-hw"
	// LatestAboveHW: ListOffsets LATEST answered L at a leader epoch, and
	// a poll of any process at that epoch, invoked after the answer,
	// reported a high watermark below L: within one epoch the leader's
	// high watermark never goes back, so L was more than the high
	// watermark (the log end, say, records not yet committed).
	LatestAboveHW Anomaly = "latest-above-hw"
	// UnrequestedLogStart: with Options.DeleteOnly (nothing but
	// DeleteRecords moves a log start), a poll or a DeleteRecords answer
	// reported a log start offset above 0 that no DeleteRecords asked for
	// (records deleted that no one asked to delete), or a DeleteRecords
	// answer reported a log start below the offset it asked for, or the
	// final reader's last poll (Poll.End), invoked after the answer, one
	// below that offset (a deletion acknowledged and not done, or lost).
	UnrequestedLogStart Anomaly = "unrequested-log-start"
	// Nonlinearizable: porcupine found no linearization of a window of the
	// partition's history against the append-only log model.
	Nonlinearizable Anomaly = "nonlinearizable"
)

// Consumer-group anomalies (groups.go).
const (
	// CommitRegression: a committed offset read back was lower than one
	// acknowledged before the read began (committed offsets never move
	// backwards but by an explicit reset, DESIGN.md "Invariants").
	CommitRegression Anomaly = "commit-regression"
	// PhantomCommit: a committed offset read back that no commit of that
	// group and partition carried.
	PhantomCommit Anomaly = "phantom-commit"
	// GroupMissed: an offset below the group's highest acknowledged commit
	// that no member of the group was delivered (at-least-once broken).
	GroupMissed Anomaly = "group-missed"
	// GroupRedelivered: a member of generation g was delivered a record
	// below a commit acknowledged before its poll began, made in
	// generation g or earlier (a member that does not know of a later
	// generation yet may still read what others committed since, as in
	// Kafka).
	GroupRedelivered Anomaly = "group-redelivered"
	// StaleCommit: a commit made in generation g was acknowledged although
	// a commit of the same group made in a later generation had been
	// acknowledged before it was sent: the coordinator had moved past g and
	// must have fenced it (ILLEGAL_GENERATION), as Kafka's does. It assumes
	// members commit only in generations they synced (see
	// checkStaleCommits).
	StaleCommit Anomaly = "stale-commit"
)

// Anomalies lists every anomaly Check can report, in report order.
var Anomalies = []Anomaly{
	InconsistentOffsets, Duplicate, LostWrite, G1a, PollSkip, NonmonotonicPoll,
	IntPollSkip, IntNonmonotonicPoll, NonmonotonicSend, IntNonmonotonicSend,
	IncompatibleOrder, DuplicateOffset, RealtimeOrder, UnexplainedGap, Phantom,
	HWRegression, LogStartRegression, ReadAboveHW, LatestAboveHW, UnrequestedLogStart, Nonlinearizable,
	CommitRegression, PhantomCommit, GroupMissed, GroupRedelivered, StaleCommit,
}

// Violation is one anomaly found in a history.
type Violation struct {
	Anomaly   Anomaly
	Partition int32
	// Ops describes the operations involved, each with its index in the
	// history (send#i is History.Sends[i], poll#i is History.Polls[i]) and
	// its virtual invoke and completion times.
	Ops    []string
	Detail string
}

func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in partition %d: %s", v.Anomaly, v.Partition, v.Detail)
	for _, op := range v.Ops {
		b.WriteString("\n    ")
		b.WriteString(op)
	}
	return b.String()
}

// Options tune Check. The zero value is the strict default.
type Options struct {
	// NonIdempotentRetries says non-idempotent producers retry: a value of a
	// non-idempotent send found at two offsets is then lawful, counted in
	// Stats.LawfulDuplicates instead of reported as a duplicate.
	NonIdempotentRetries bool
	// AllowOffsetGaps drops the rule that a partition's offsets are
	// contiguous (it will hold once transaction markers or compaction leave
	// offsets without visible records): polls may then jump over offsets no
	// one read, and unexplained-gap is not checked.
	AllowOffsetGaps bool

	// Retention says the system deletes old records (retention.ms or
	// retention.bytes): below the greatest log start offset a partition's
	// final read reported, an acknowledged record nobody read is counted
	// in Stats.Expired instead of reported as a lost-write, and offsets
	// nobody read are not an unexplained-gap. Without it a log start
	// above 0 excuses nothing.
	Retention bool
	// DeleteOnly says only DeleteRecords moves log starts (no size or time
	// retention deletes anything within the history): every log start
	// above 0 a client sees is an offset some DeleteRecords of History.Deletes
	// asked for (UnrequestedLogStart). It needs Retention for what lies
	// below the final log start.
	DeleteOnly bool

	// OffsetsRetention is the group coordinator's offsets.retention.minutes
	// (zero: offsets never expire within the history). A group's offset
	// read as none at least this long after the last acknowledged commit
	// of it is an expiry — a reset, not a commit-regression — and commits
	// acknowledged before it no longer bind later reads.
	OffsetsRetention time.Duration

	// SkipLinearizability skips the porcupine windows (direct checks only).
	SkipLinearizability bool
	// WindowOps bounds the operations of one porcupine call; default 200.
	WindowOps int
	// WindowTimeout bounds one porcupine call; default 10s. A window that
	// times out is listed in Result.Unknown.
	WindowTimeout time.Duration
	// Workers is how many windows are checked at once; default GOMAXPROCS.
	Workers int

	// MaxPerAnomaly caps the violations of each anomaly kept in
	// Result.Violations; Result.Counts has the full count. Default 20.
	MaxPerAnomaly int
}

func (o Options) withDefaults() Options {
	if o.WindowOps <= 0 {
		o.WindowOps = 200
	}
	if o.WindowOps < 4 {
		o.WindowOps = 4
	}
	if o.WindowTimeout <= 0 {
		o.WindowTimeout = 10 * time.Second
	}
	if o.MaxPerAnomaly <= 0 {
		o.MaxPerAnomaly = 20
	}
	return o
}

// Result is the verdict on a history.
type Result struct {
	// Valid is true only when no violation was found and every check
	// finished: an unfinished check is never a pass.
	Valid      bool
	Violations []Violation     // at most Options.MaxPerAnomaly of each anomaly
	Counts     map[Anomaly]int // every violation found, by anomaly
	// Unknown lists checks that could not finish (a porcupine window that
	// timed out) and malformed input the checker could not judge.
	Unknown []string
	Stats   Stats
}

// Stats are measurements of a history: what happened, not what is wrong.
type Stats struct {
	Partitions int

	Sends        int // send records
	LogicalSends int // after merging retries of one idempotent send
	SendsOK      int // logical sends acknowledged with acks=all
	SendsFail    int
	SendsUnknown int // outcome unknown, acks=0/1 included
	UnknownRead  int // sends of unknown outcome whose value was read: they happened

	WeakSends  int // logical sends with acks=0 or acks=1
	WeakRead   int // ... whose value was read
	WeakLost   int // ... never read although the reads covered where they would be: lost, lawfully
	WeakUnread int // ... never read, fate not measurable (no read covered them)

	LawfulDuplicates int // values of retried non-idempotent sends found at several offsets
	// Expired: acknowledged sends never read and below the final read's
	// log start, deleted by retention (Options.Retention).
	Expired int

	Polls     int
	PollsOK   int
	Records   int // records returned by OK polls
	FinalRead bool

	Windows         int // porcupine windows checked
	WindowsTimedOut int
	MaxWindowOps    int
}

func (r Result) String() string {
	var b strings.Builder
	if r.Valid {
		b.WriteString("valid")
	} else {
		b.WriteString("INVALID")
	}
	s := r.Stats
	fmt.Fprintf(&b, ": %d partitions, %d sends (%d ok, %d fail, %d unknown of which %d read), %d polls (%d ok, %d records)",
		s.Partitions, s.LogicalSends, s.SendsOK, s.SendsFail, s.SendsUnknown, s.UnknownRead, s.Polls, s.PollsOK, s.Records)
	if s.WeakSends > 0 {
		fmt.Fprintf(&b, "; acks=0/1: %d sent, %d read, %d lost, %d unmeasured", s.WeakSends, s.WeakRead, s.WeakLost, s.WeakUnread)
	}
	if s.Expired > 0 {
		fmt.Fprintf(&b, "; %d acknowledged sends deleted by retention before any read", s.Expired)
	}
	if s.Windows > 0 {
		fmt.Fprintf(&b, "; porcupine: %d windows (max %d ops, %d timed out)", s.Windows, s.MaxWindowOps, s.WindowsTimedOut)
	}
	for _, a := range Anomalies {
		if n := r.Counts[a]; n > 0 {
			fmt.Fprintf(&b, "\n  %s: %d", a, n)
		}
	}
	for _, v := range r.Violations {
		b.WriteString("\n  ")
		b.WriteString(strings.ReplaceAll(v.String(), "\n", "\n  "))
	}
	for _, u := range r.Unknown {
		b.WriteString("\n  unknown: ")
		b.WriteString(u)
	}
	return b.String()
}
