package sim

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clusterFaults change the cluster's shape under load rather than break
// it: a partition reassigned to other brokers (new replicas join as
// learners, catch up and are promoted; the leaving ones are removed, a
// leaving leader handing over first; node/reassign.go). With more brokers
// than replicas the target differs from the current replicas; otherwise
// the reassignment is of the partition onto its own brokers, which must
// end at once.
var clusterFaults = []faultKind{
	{"reassign", "a random partition reassigned to a random set of RF brokers (AlterPartitionReassignments to the controller) while clients run",
		func(w *World, sn *simNode) { w.reassign() }},
}

func (w *World) reassign() {
	ctl := int32(-1)
	for _, sn := range w.nodes {
		if sn.n != nil && !sn.paused {
			if c := sn.n.Controller(); c > 0 {
				ctl = c
				break
			}
		}
	}
	p := int32(w.rng.IntN(w.cfg.Partitions))
	ids := make([]int32, w.cfg.Nodes)
	for i := range ids {
		ids[i] = int32(i + 1)
	}
	w.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	target := ids[:w.cfg.RF]
	if ctl < 0 {
		return // no controller known: nothing to ask
	}
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = 5000
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = w.topic
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = p, target
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	vals := []uint64{uint64(p)}
	for _, id := range target {
		vals = append(vals, uint64(id))
	}
	w.record("reassign", vals...)
	w.span("reassign", 0, vals[1:]...)
	// An admin process of its own, as an operator's tool would be.
	w.newClient(consumer).call(ctl, req, func(kmsg.Response) {})
}
