package raftlog

// SegmentInfo summarises one segment for retention (partition/retention.go
// decides what to delete; DeleteBefore deletes it).
type SegmentInfo struct {
	// First and Last are the live entry range [First, Last]; it is empty
	// when Last < First (every entry superseded by a later segment).
	First, Last uint64
	Bytes       int64 // the segment's size on disk
	// HasRecords: some live entry holds Kafka records; then MaxTimestamp is
	// the largest record timestamp among them.
	HasRecords   bool
	MaxTimestamp int64
	// Active: the segment appends go to; retention never deletes it.
	Active bool
}

// Segments lists the segments, oldest first; the last is the active one.
func (l *Log) Segments() []SegmentInfo {
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		out[i] = SegmentInfo{
			First: s.first, Last: s.last, Bytes: s.size,
			HasRecords: s.hasRecords, MaxTimestamp: s.maxTs,
			Active: i == len(l.segs)-1,
		}
	}
	return out
}

// SegmentCount is the number of segments, the active one included.
func (l *Log) SegmentCount() int { return len(l.segs) }
