package node

// Disk space and traffic accounting.
//
// The runtime watches the data directory's free space; below its threshold
// it tells the core (SetDiskLow) and every produce is refused with
// KAFKA_STORAGE_ERROR — retriable for clients, which back off and retry —
// before it reaches a partition, so the disk never fills with a write half
// done. Everything already acknowledged stays; fetches, replication and the
// group coordinators' offset commits go on (followers must keep up, and
// the records they receive were accepted before the disk ran low). Should
// a disk fill all the same (ENOSPC), the partition that hit it stops and
// reopens once space returns (DESIGN.md step 7). When space returns the
// broker accepts produces again.

import (
	"slices"
	"strings"
)

// SetDiskLow says whether the data directory's free space is below the
// runtime's threshold.
func (n *Node) SetDiskLow(low bool) {
	if low != n.diskLow {
		if low {
			n.log.Error("free disk space below the threshold: refusing produce requests with KAFKA_STORAGE_ERROR")
		} else {
			n.log.Info("free disk space back above the threshold: accepting produce requests")
		}
	}
	n.diskLow = low
}

// DiskLow reports what SetDiskLow last said.
func (n *Node) DiskLow() bool { return n.diskLow }

// TopicBytes is one topic's record bytes through this broker since it
// started: produced into the partitions it leads, and returned by its
// fetches (consumers and followers' Kafka fetches alike; raft replication
// is not counted).
type TopicBytes struct {
	Topic   string
	In, Out uint64
}

// TopicTraffic lists every topic's byte counters, by name. Deleted topics
// keep their counters (counters only grow), bounded by the topics the
// broker has seen.
func (n *Node) TopicTraffic() []TopicBytes {
	out := make([]TopicBytes, 0, len(n.traffic))
	for name, c := range n.traffic { //lint:maporder-ok sorted below
		out = append(out, TopicBytes{Topic: name, In: c.In, Out: c.Out})
	}
	slices.SortFunc(out, func(a, b TopicBytes) int { return strings.Compare(a.Topic, b.Topic) })
	return out
}

func (n *Node) countTraffic(topic string, in, out int) {
	if n.traffic == nil {
		n.traffic = map[string]*TopicBytes{}
	}
	c := n.traffic[topic]
	if c == nil {
		c = &TopicBytes{Topic: topic}
		n.traffic[topic] = c
	}
	c.In += uint64(in)
	c.Out += uint64(out)
}
