package sim

// The client-visible history a run records: every produce of a value and
// every fetch, with invoke and completion in virtual time. checker judges it
// (cmd/sluice converts these records into checker's types: sim never
// imports checker, and checker never imports the implementation).

// Outcome is how an operation ended.
type Outcome uint8

const (
	// OK: it happened (a send acknowledged, a poll answered).
	OK Outcome = iota
	// Fail: it definitely did not happen.
	Fail
	// Unknown: it may or may not have happened (timeouts, resets, acks=0/1
	// sends whose loss is lawful).
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	}
	return "unknown"
}

// Send is one value produced (one record).
type Send struct {
	Process          int
	Partition        int32
	Value            string // unique in the run
	Invoke, Complete int64  // virtual ns; Complete -1: never completed
	Outcome          Outcome
	Offset           int64 // when OK
	// Idempotent: an idempotent producer (send-order checks apply).
	Idempotent bool
	Acks       int16
	ProducerID int64
	Epoch      int16
	Seq        int32 // sequence of the record
	Batch      int   // the produce batch it went in (unique per run)
}

// Record is one record a poll returned.
type Record struct {
	Offset int64
	Value  string
}

// Poll is one fetch of one partition.
type Poll struct {
	Process          int
	Partition        int32
	Invoke, Complete int64
	Outcome          Outcome
	From             int64
	Records          []Record
	HighWatermark    int64
	LeaderEpoch      int32
	// LogStart: the log start offset the response reported (-1 unknown).
	LogStart int64
	// Seek: the consumer repositioned before this poll (a new consumer,
	// or a reset); poll-order checks restart.
	Seek bool
	// Final: one of the liveness phase's reads of every partition from the
	// start, after faults healed and every send resolved.
	Final bool
	// End: the final reader's last poll of a partition, after the
	// consumer group settled (checker.Poll.End).
	End bool
	// Generation: a group member's generation when it polled (0 for
	// consumers outside a group).
	Generation int32
}

// Commit is one partition of a group member's OffsetCommit.
type Commit struct {
	Group            string
	Process          int
	Partition        int32
	Offset           int64
	Generation       int32
	Invoke, Complete int64 // Complete -1: never answered
	// Outcome: OK when acknowledged; Fail when refused before anything
	// was stored (a stale generation or member); Unknown otherwise.
	Outcome Outcome
	// Term: the answering coordinator's raft term in the group's offsets
	// partition, when it answered (0: not answered).
	Term uint64
}

// OffsetRead is one partition of an OffsetFetch a group member made when
// it was assigned the partition (answered without error).
type OffsetRead struct {
	Group            string
	Process          int
	Partition        int32
	Offset           int64 // -1: nothing committed
	Invoke, Complete int64
	Term             uint64 // the answering coordinator's term
}

// GroupMember says which consumer group a process consumes in (its polls
// are the group's deliveries).
type GroupMember struct {
	Process int
	Group   string
}

// Latest is a ListOffsets LATEST a consumer made, answered without error:
// the partition's high watermark as its leader at LeaderEpoch reported it.
type Latest struct {
	Process          int
	Partition        int32
	Invoke, Complete int64
	Offset           int64
	LeaderEpoch      int32 // the epoch the request named (checked by the broker)
}

// DeleteRecords is one DeleteRecords request an operator's tool sent to
// every live broker (the partition's leader acts, the others refuse).
type DeleteRecords struct {
	Process          int
	Partition        int32
	Offset           int64
	Invoke, Complete int64 // Complete -1: no broker answered without error
	LowWatermark     int64 // the first answer without error's; -1 if none
}

// History is a run's operations, in invocation order.
type History struct {
	// Retention: the workload topic deletes old records (retention.bytes
	// set): the checker excuses records below the log start its final
	// read reported (checker.Options.Retention).
	Retention bool
	// DeleteOnly: only DeleteRecords deletes records (retention.bytes and
	// retention.ms unlimited); every log start above 0 must be an offset
	// one of Deletes asked for (checker.Options.DeleteOnly).
	DeleteOnly  bool
	Deletes     []DeleteRecords
	Sends       []Send
	Polls       []Poll
	Commits     []Commit
	OffsetReads []OffsetRead
	Members     []GroupMember
	Latests     []Latest
}
