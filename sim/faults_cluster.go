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
	{"delete-records", "an operator deletes a random partition's records below a random offset under the highest acknowledged one (DeleteRecords to every live broker; its leader acts); only on a topic that deletes records (retention scenarios), a no-op elsewhere",
		func(w *World, sn *simNode) { w.deleteRecords() }},
}

// deleteRecords moves a partition's log start, as kafka-delete-records.sh
// would, to an offset drawn below the highest acknowledged one (often inside
// a batch). The checker excuses what lies below the log start the final
// read reports only when the topic deletes records (History.Retention), so
// elsewhere this declines.
func (w *World) deleteRecords() {
	if !w.hist.Retention {
		return
	}
	p := int32(w.rng.IntN(w.cfg.Partitions))
	top := int64(-1)
	for i := range w.hist.Sends {
		if s := &w.hist.Sends[i]; s.Partition == p && s.Outcome == OK && s.Offset > top {
			top = s.Offset
		}
	}
	if top < 1 {
		return
	}
	off := 1 + w.rng.Int64N(top)
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 5000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = w.topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = p, off
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	w.record("delete-records", uint64(p), uint64(off))
	w.span("delete-records", 0)
	admin := w.newClient(consumer) // an admin process of its own
	di := len(w.hist.Deletes)
	w.hist.Deletes = append(w.hist.Deletes, DeleteRecords{Process: admin.id, Partition: p, Offset: off, Invoke: w.nowNs, Complete: -1, LowWatermark: -1})
	for _, sn := range w.nodes {
		if sn.n != nil && !sn.paused {
			admin.call(int32(sn.id), req, func(r kmsg.Response) {
				resp, _ := r.(*kmsg.DeleteRecordsResponse)
				d := &w.hist.Deletes[di]
				if resp == nil || d.Complete >= 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
					return
				}
				if rp := resp.Topics[0].Partitions[0]; rp.ErrorCode == 0 {
					d.Complete, d.LowWatermark = w.nowNs, rp.LowWatermark
				}
			})
		}
	}
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
