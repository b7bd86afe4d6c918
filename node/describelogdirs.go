package node

// DescribeLogDirs (key 35), v1–v5.
//
// Answers for this broker only (kgo asks every broker): one log dir, the
// broker's data directory, with the replicas it hosts of the topics and
// partitions asked for (all when the request names none; ones it does not
// host are left out, as in Kafka). A replica's size is the bytes of the
// files in its directory as the file system reports them (segments,
// indexes, checkpoint: read with List and Stat at request time, a few
// calls per partition); segment files are preallocated without changing
// their size, so this is what was written. The metadata log is not a
// topic and is not listed. Offset lag is 0 (no replica is moving between
// directories). Total and usable bytes (v4+) are -1: unknown to the core.
// Never cordoned (v5).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/raftlog/vfs"
)

func (n *Node) handleDescribeLogDirs(req *kmsg.DescribeLogDirsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	var want map[string][]int32
	if req.Topics != nil {
		want = map[string][]int32{}
		for _, rt := range req.Topics {
			want[rt.Topic] = append(want[rt.Topic], rt.Partitions...)
		}
	}
	byTopic := map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	var names []string
	for _, g := range n.order {
		h := n.hosts[g]
		if h.meta {
			continue
		}
		if want != nil && !slices.Contains(want[h.topic], g.Partition) {
			continue
		}
		if _, ok := byTopic[h.topic]; !ok {
			names = append(names, h.topic)
		}
		p := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		p.Partition, p.Size = g.Partition, n.dirBytes(n.groupDir(g))
		byTopic[h.topic] = append(byTopic[h.topic], p)
	}
	slices.Sort(names)
	d := kmsg.NewDescribeLogDirsResponseDir()
	d.Dir = n.cfg.Dir
	for _, name := range names {
		parts := byTopic[name]
		slices.SortFunc(parts, func(a, b kmsg.DescribeLogDirsResponseDirTopicPartition) int { return int(a.Partition - b.Partition) })
		d.Topics = append(d.Topics, kmsg.DescribeLogDirsResponseDirTopic{Topic: name, Partitions: parts})
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{d}
	return resp
}

// dirBytes sums the sizes of the files in dir (what it cannot read counts 0).
func (n *Node) dirBytes(dir string) int64 {
	names, err := n.cfg.FS.List(dir)
	if err != nil {
		return 0
	}
	var total int64
	for _, name := range names {
		if size, err := n.cfg.FS.Stat(vfs.Join(dir, name)); err == nil {
			total += size
		}
	}
	return total
}
