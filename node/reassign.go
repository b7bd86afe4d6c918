package node

// Partition reassignment: AlterPartitionReassignments (key 45, v0–v1) and
// ListPartitionReassignments (key 46, v0).
//
// The controller records the target replicas of a partition in the
// metadata log (a reassign command); every broker applies it: a broker in
// the target that has no replica yet opens one — new storage, so amnesic
// (DESIGN.md step 8): it votes nowhere until the partition's leader has
// added it as a learner under its incarnation and promoted it once caught
// up — and the leader moves the raft membership to the target one change
// at a time, removing the replicas that leave last (partition/reassign.go;
// a leader that leaves hands its leadership over first). When the
// membership is the target, the leader records the end (reassign_done,
// forwarded to the controller); the target becomes the partition's
// replicas, and brokers no longer assigned delete their replica. While it
// runs, Metadata reports the union of the old and new replicas, as Kafka
// does, and ListPartitionReassignments the adding and removing ones.
//
// Differs from Apache Kafka: the answer comes once the reassignment is in
// the metadata log (Kafka answers once its controller accepted it); a
// reassignment of a partition already being reassigned replaces its
// target (as Kafka does); null replicas cancel it by reassigning back to
// the replicas it started from. Changing the replication factor is
// allowed in v0 too (Kafka refuses it from v1 unless asked); the new
// replica count must keep min.insync.replicas reachable.

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reassignTimeoutMs bounds the wait for a reassign command to apply when
// the request's timeout is shorter or missing.
const reassignTimeoutMs = 8000

func (n *Node) handleAlterPartitionReassignments(r Request, req *kmsg.AlterPartitionAssignmentsRequest) {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	if n.controller() != int32(n.self) {
		resp.ErrorCode = kerr.NotController.Code
		n.respond(r, resp)
		return
	}
	for _, rt := range req.Topics {
		ot := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		ot.Topic = rt.Topic
		t := n.topics.byName[rt.Topic]
		seen := map[int32]bool{}
		for _, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			op.Partition = rp.Partition
			fail := func(e *kerr.Error, format string, args ...any) {
				op.ErrorCode = e.Code
				if format != "" {
					op.ErrorMessage = kmsg.StringPtr(fmt.Sprintf(format, args...))
				}
			}
			switch {
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Replicas):
				fail(kerr.UnknownTopicOrPartition, "")
			case seen[rp.Partition]:
				fail(kerr.InvalidRequest, "partition %d listed more than once", rp.Partition)
			case t.Name == OffsetsTopic && rp.Replicas != nil && len(rp.Replicas) != len(t.Replicas[rp.Partition]):
				fail(kerr.InvalidReplicationFactor, "the replication factor of %s cannot change", OffsetsTopic)
			default:
				seen[rp.Partition] = true
				target := rp.Replicas
				if target == nil { // cancel: back to the replicas it started from
					if _, pending := t.Targets[rp.Partition]; !pending {
						fail(kerr.NoReassignmentInProgress, "")
						break
					}
					target = t.Replicas[rp.Partition]
				}
				if err := n.validateAssignment([][]int32{target}); err != nil {
					fail(kerr.InvalidReplicaAssignment, "%v", err)
					break
				}
				if t.MinInsyncReplicas > len(target) && len(target) < len(t.Replicas[rp.Partition]) {
					fail(kerr.InvalidReplicationFactor, "%d replicas cannot meet min.insync.replicas %d", len(target), t.MinInsyncReplicas)
					break
				}
				c := command{Op: "reassign", Topic: topicInfo{Name: t.Name, ID: t.ID}, Partition: rp.Partition, Target: slices.Clone(target)}
				if !n.proposeMeta(c, false) {
					fail(kerr.NotController, "")
				}
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	// Each partition proposed waits until its target is in the metadata.
	var items []adminItem
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			op := &resp.Topics[ti].Partitions[pi]
			t := n.topics.byName[resp.Topics[ti].Topic]
			if op.ErrorCode != 0 || t == nil {
				continue
			}
			id, p, rt := t.id, op.Partition, req.Topics[ti]
			want := slices.Clone(rt.Partitions[pi].Replicas)
			if want == nil {
				want = slices.Clone(t.Replicas[p])
			}
			items = append(items, adminItem{code: &op.ErrorCode, done: func() (int16, bool) {
				t := n.topics.byID[id]
				switch {
				case t == nil:
					return kerr.UnknownTopicOrPartition.Code, true
				case slices.Equal(t.Targets[p], want), t.Targets[p] == nil && slices.Equal(t.Replicas[p], want):
					return 0, true
				}
				return 0, false
			}})
		}
	}
	n.waitAdmin(r, resp, max(req.TimeoutMillis, reassignTimeoutMs), items)
}

func (n *Node) handleListPartitionReassignments(req *kmsg.ListPartitionReassignmentsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	if n.controller() != int32(n.self) {
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	want := map[string][]int32{}
	all := req.Topics == nil
	for _, rt := range req.Topics {
		want[rt.Topic] = append(want[rt.Topic], rt.Partitions...)
	}
	for _, t := range n.topics.sorted() {
		if !all && want[t.Name] == nil {
			continue
		}
		ot := kmsg.NewListPartitionReassignmentsResponseTopic()
		ot.Topic = t.Name
		for p := range int32(len(t.Replicas)) {
			target, pending := t.Targets[p]
			if !pending || !all && !slices.Contains(want[t.Name], p) {
				continue
			}
			op := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			op.Partition = p
			op.Replicas = t.replicasOf(p)
			for _, id := range target {
				if !slices.Contains(t.Replicas[p], id) {
					op.AddingReplicas = append(op.AddingReplicas, id)
				}
			}
			for _, id := range t.Replicas[p] {
				if !slices.Contains(target, id) {
					op.RemovingReplicas = append(op.RemovingReplicas, id)
				}
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		if len(ot.Partitions) > 0 {
			resp.Topics = append(resp.Topics, ot)
		}
	}
	return resp
}

// replicasOf is partition p's replicas as Metadata reports them: during a
// reassignment the old ones, then the new ones not among them.
func (t *topicInfo) replicasOf(p int32) []int32 {
	reps := slices.Clone(t.Replicas[p])
	for _, id := range t.Targets[p] {
		if !slices.Contains(reps, id) {
			reps = append(reps, id)
		}
	}
	return reps
}

// votersOf is replicasOf as sorted raft ids.
func (t *topicInfo) votersOf(p int32) []uint64 {
	var out []uint64
	for _, id := range t.replicasOf(p) {
		out = append(out, uint64(id))
	}
	slices.Sort(out)
	return out
}

// applyReassign applies a reassign command: the target is recorded, a
// broker in it without a replica opens one (amnesic, until the leader adds
// it), and hosted replicas learn the target.
func (n *Node) applyReassign(c command, t *topicInfo) {
	p := c.Partition
	if t == nil || p < 0 || int(p) >= len(t.Replicas) || len(c.Target) == 0 {
		return
	}
	if t.Targets == nil {
		t.Targets = map[int32][]int32{}
	}
	t.Targets[p] = slices.Clone(c.Target)
	n.log.Info("partition reassignment", "topic", t.Name, "partition", p, "from", t.Replicas[p], "to", c.Target)
	g := n.group(t, p)
	h := n.hosts[g]
	switch {
	case h != nil:
		h.voters = t.votersOf(p)
		h.p.SetAssignment(int32sToIDs(c.Target))
		h.dirty = true
	case n.unopenedAt(g) >= 0:
		// Assigned here already but not open: retryUnopened opens it with
		// the voters and target of the metadata then.
	case slices.Contains(c.Target, int32(n.self)):
		h, err := n.host(g, t.Name, t.votersOf(p), false, true)
		if err != nil {
			n.hostLater(g, t.Name, t.votersOf(p), true, err)
			return
		}
		h.p.SetAssignment(int32sToIDs(c.Target))
	}
}

// applyReassignDone ends a reassignment whose membership reached its
// target: the target becomes the replicas, and a broker no longer among
// them deletes its replica.
func (n *Node) applyReassignDone(c command, t *topicInfo) {
	p := c.Partition
	if t == nil || p < 0 || int(p) >= len(t.Replicas) || !slices.Equal(t.Targets[p], c.Target) {
		return // superseded by another reassignment, or applied already
	}
	t.Replicas[p] = slices.Clone(c.Target)
	delete(t.Targets, p)
	n.log.Info("partition reassignment done", "topic", t.Name, "partition", p, "replicas", c.Target)
	g := n.group(t, p)
	if !slices.Contains(c.Target, int32(n.self)) {
		n.unhost(g) // open, or waiting to be reopened
		return
	}
	if h := n.hosts[g]; h != nil {
		h.voters = t.votersOf(p)
	}
}

// checkReassignments: a leader whose membership reached its partition's
// target records the end of the reassignment (again every few seconds
// until it applies: the command may be lost with a controller change).
func (n *Node) checkReassignments() {
	for _, h := range n.list {
		if h == nil || h.gone || h.meta || h.leader != n.self {
			continue
		}
		t := n.topics.byName[h.topic]
		if t == nil || t.Targets == nil {
			continue
		}
		p := h.g.Partition
		target, ok := t.Targets[p]
		if !ok || !h.p.Reassigned() {
			continue
		}
		if h.reassignAt != 0 && n.ticks-h.reassignAt < reassignRetryTicks {
			continue
		}
		h.reassignAt = n.ticks
		n.proposeMeta(command{Op: "reassign_done", Topic: topicInfo{Name: t.Name, ID: t.ID}, Partition: p, Target: slices.Clone(target)}, true)
	}
}

// reassignRetryTicks spaces the reassign_done proposals of one leader.
const reassignRetryTicks = 30

func int32sToIDs(ids []int32) []uint64 {
	out := make([]uint64, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out
}
