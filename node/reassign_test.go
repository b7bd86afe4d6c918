package node

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/raftlog/vfs"
)

func reassignReq(topic string, p int32, replicas []int32) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = 5000
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = p, replicas
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// A partition moves from brokers 1, 2, 3 to 2, 3, 4 while it takes
// records, its leader among those leaving: broker 4 joins as a learner and
// is promoted, the leader hands over and broker 1 is removed; the
// metadata then names 2, 3, 4, broker 1 has deleted its replica, and
// every record is on broker 4.
func TestReassignPartition(t *testing.T) {
	c := newCluster(t, 1, 4)
	ctl := c.controller()
	ti := c.createTopic("mv", 1, 3, [][]int32{{1, 2, 3}})
	c.ticks(10)
	// Make broker 1, which leaves, the leader.
	for c.leaderOf("mv", 0) != 1 {
		h := c.nodes[c.leaderOf("mv", 0)].hosts[c.nodes[1].group(ti, 0)]
		h.p.TransferLeadership(1)
		c.ticks(5)
	}
	for i := range 20 {
		c.mustProduce(c.leaderOf("mv", 0), "mv", 0, makeBatch(5, "before", int64(i)))
	}
	resp := c.do(ctl, reassignReq("mv", 0, []int32{2, 3, 4})).(*kmsg.AlterPartitionAssignmentsResponse)
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("reassign: %+v", resp)
	}
	// While it runs, Metadata reports the union and List the movement.
	md := c.do(2, metadataReq(12, false, "mv")).(*kmsg.MetadataResponse)
	if got := md.Topics[0].Partitions[0].Replicas; !slices.Equal(got, []int32{1, 2, 3, 4}) {
		t.Errorf("replicas during the reassignment %v, want [1 2 3 4]", got)
	}
	list := c.do(ctl, kmsg.NewPtrListPartitionReassignmentsRequest()).(*kmsg.ListPartitionReassignmentsResponse)
	if len(list.Topics) != 1 || !slices.Equal(list.Topics[0].Partitions[0].AddingReplicas, []int32{4}) ||
		!slices.Equal(list.Topics[0].Partitions[0].RemovingReplicas, []int32{1}) {
		t.Errorf("ListPartitionReassignments: %+v", list.Topics)
	}
	g := c.nodes[1].group(ti, 0)
	done := false
	for i := 0; i < 400 && !done; i++ {
		if i%5 == 0 {
			if l := c.leaderOf("mv", 0); l > 0 {
				c.produce(l, "mv", 0, makeBatch(1, "during", int64(i)))
			}
		}
		c.tick()
		done = true
		for _, id := range c.ids {
			topic := c.topic(id, "mv")
			done = done && len(topic.Targets) == 0 && slices.Equal(topic.Replicas[0], []int32{2, 3, 4})
		}
		done = done && c.nodes[1].hosts[g] == nil
	}
	if !done {
		t.Fatalf("reassignment not done: broker 1 hosts %v, replicas %v, targets %v", c.nodes[1].hosts[g] != nil,
			c.topic(2, "mv").Replicas, c.topic(2, "mv").Targets)
	}
	if names, _ := c.fs[1].List(c.nodes[1].groupDir(g)); len(names) > 0 {
		t.Errorf("broker 1 kept the files of its removed replica: %v", names)
	}
	lead := c.leaderOf("mv", 0)
	if lead == 1 || lead == 0 {
		t.Fatalf("leader %d after the reassignment", lead)
	}
	c.mustProduce(lead, "mv", 0, makeBatch(1, "after", 1000))
	c.ticks(10)
	conf := c.nodes[lead].hosts[g].p.ConfState()
	if v := slices.Sorted(slices.Values(conf.GetVoters())); !slices.Equal(v, []uint64{2, 3, 4}) || len(conf.GetLearners()) > 0 {
		t.Errorf("membership voters %v learners %v, want voters [2 3 4]", conf.GetVoters(), conf.GetLearners())
	}
	// Broker 4 holds every committed record, the first 100 included.
	h4 := c.nodes[4].hosts[g]
	hw, _ := c.nodes[lead].hosts[g].p.HighWatermark()
	if h4 == nil || h4.p.AppliedOffset() != hw || hw < 101 {
		t.Fatalf("broker 4 applied %v of high watermark %d", h4 != nil && h4.p.AppliedOffset() >= 0, hw)
	}
	list = c.do(c.controller(), kmsg.NewPtrListPartitionReassignmentsRequest()).(*kmsg.ListPartitionReassignmentsResponse)
	if len(list.Topics) != 0 {
		t.Errorf("ListPartitionReassignments after it ended: %+v", list.Topics)
	}

	// Restarted, broker 1 replays the metadata log and hosts nothing of
	// the partition; broker 4 reopens its replica as a voter.
	c.restart(1)
	c.restart(4)
	c.ticks(30)
	if c.nodes[1].hosts[g] != nil {
		t.Error("broker 1 hosts the partition again after a restart")
	}
	if names, _ := c.fs[1].List(c.nodes[1].groupDir(g)); len(names) > 0 {
		t.Errorf("broker 1 recreated files of the removed replica: %v", names)
	}
	if h4 := c.nodes[4].hosts[g]; h4 == nil || h4.p.Amnesic() {
		t.Fatalf("broker 4 after a restart: hosted %v", h4 != nil)
	}
	c.mustProduce(c.leaderOf("mv", 0), "mv", 0, makeBatch(1, "restarted", 2000))
}

func TestReassignRefusals(t *testing.T) {
	c := newCluster(t, 2, 3)
	ctl := c.controller()
	c.createTopic("r", 1, 3, nil)
	other := ctl%3 + 1
	for _, tc := range []struct {
		name     string
		to       int32
		topic    string
		p        int32
		replicas []int32
		want     *kerr.Error
	}{
		{"not the controller", other, "r", 0, []int32{1, 2}, nil},
		{"unknown topic", ctl, "nope", 0, []int32{1}, kerr.UnknownTopicOrPartition},
		{"unknown partition", ctl, "r", 3, []int32{1}, kerr.UnknownTopicOrPartition},
		{"unknown broker", ctl, "r", 0, []int32{1, 9}, kerr.InvalidReplicaAssignment},
		{"broker twice", ctl, "r", 0, []int32{1, 1}, kerr.InvalidReplicaAssignment},
		{"below min.insync.replicas", ctl, "r", 0, []int32{1}, kerr.InvalidReplicationFactor},
		{"cancel with nothing in progress", ctl, "r", 0, nil, kerr.NoReassignmentInProgress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do(tc.to, reassignReq(tc.topic, tc.p, tc.replicas)).(*kmsg.AlterPartitionAssignmentsResponse)
			if tc.to != ctl {
				checkCode(t, "reassign", resp.ErrorCode, kerr.NotController)
				return
			}
			checkCode(t, "reassign", resp.Topics[0].Partitions[0].ErrorCode, tc.want)
		})
	}
}

// A reassignment cancelled (null replicas) goes back to the replicas it
// started from: the broker it was adding deletes its replica.
func TestReassignCancel(t *testing.T) {
	c := newCluster(t, 3, 4)
	ti := c.createTopic("cx", 1, 3, [][]int32{{1, 2, 3}})
	c.ticks(10)
	c.mustProduce(c.leaderOf("cx", 0), "cx", 0, makeBatch(10, "x", 1))
	resp := c.do(c.controller(), reassignReq("cx", 0, []int32{2, 3, 4})).(*kmsg.AlterPartitionAssignmentsResponse)
	checkCode(t, "reassign", resp.Topics[0].Partitions[0].ErrorCode, nil)
	c.ticks(2)
	resp = c.do(c.controller(), reassignReq("cx", 0, nil)).(*kmsg.AlterPartitionAssignmentsResponse)
	checkCode(t, "cancel", resp.Topics[0].Partitions[0].ErrorCode, nil)
	g := c.nodes[1].group(ti, 0)
	for i := 0; i < 400; i++ {
		c.tick()
		if len(c.topic(4, "cx").Targets) == 0 && c.nodes[4].hosts[g] == nil {
			break
		}
	}
	for _, id := range c.ids {
		if tp := c.topic(id, "cx"); len(tp.Targets) != 0 || !slices.Equal(tp.Replicas[0], []int32{1, 2, 3}) {
			t.Errorf("broker %d: replicas %v, targets %v", id, tp.Replicas, tp.Targets)
		}
	}
	if c.nodes[4].hosts[g] != nil {
		t.Error("broker 4 still hosts the partition after the cancel")
	}
	lead := c.leaderOf("cx", 0)
	conf := c.nodes[lead].hosts[g].p.ConfState()
	if v := slices.Sorted(slices.Values(conf.GetVoters())); !slices.Equal(v, []uint64{1, 2, 3}) || len(conf.GetLearners()) > 0 {
		t.Errorf("membership voters %v learners %v, want voters [1 2 3]", conf.GetVoters(), conf.GetLearners())
	}
	c.mustProduce(lead, "cx", 0, makeBatch(1, "y", 2))
}

// waitReassigned ticks until every broker's metadata names replicas for
// partition 0 of topic with no reassignment under way, and the brokers in
// gone host no replica of it.
func waitReassigned(t *testing.T, c *cluster, topic string, replicas []int32, gone ...int32) {
	t.Helper()
	g := c.nodes[replicas[0]].group(c.topic(replicas[0], topic), 0)
	for range 600 {
		c.tick()
		done := true
		for _, id := range c.ids {
			ti := c.topic(id, topic)
			done = done && len(ti.Targets) == 0 && slices.Equal(ti.Replicas[0], replicas)
		}
		for _, id := range gone {
			done = done && c.nodes[id].hosts[g] == nil
		}
		if done {
			return
		}
	}
	t.Fatalf("reassignment of %s to %v not done: replicas %v, targets %v", topic, replicas, c.topic(replicas[0], topic).Replicas, c.topic(replicas[0], topic).Targets)
}

// A broker whose replica was moved away and back replays both
// reassignments at a restart: it must reopen the replica it holds now, not
// delete it on the replayed removal and open an empty, amnesic one on the
// replayed return (which lost every record of it, and with two such
// brokers left the partition without a leader for good).
func TestReassignAwayAndBackSurvivesRestart(t *testing.T) {
	c, ti, move := movingPartition(t)
	move([]int32{2, 3, 4}, 1)
	move([]int32{1, 2, 3}, 4)
	for i := range 10 {
		c.mustProduce(c.leaderOf("mv", 0), "mv", 0, makeBatch(5, "second", int64(i)))
	}
	c.ticks(20)
	g := c.nodes[1].group(ti, 0)
	hw, _ := c.nodes[c.leaderOf("mv", 0)].hosts[g].p.HighWatermark()
	if h := c.nodes[1].hosts[g]; h == nil || h.p.Amnesic() || h.p.AppliedOffset() != hw || hw != 100 {
		t.Fatalf("broker 1 before the restart: hosted %v, high watermark %d", h != nil, hw)
	}
	c.restart(1)
	// Straight after the replay, before any peer could re-add it.
	h := c.nodes[1].hosts[g]
	if h == nil || h.p.Amnesic() || h.p.LogEndOffset() != hw {
		t.Fatalf("broker 1 after a restart: hosted %v, amnesic %v, log end %d, want %d",
			h != nil, h != nil && h.p.Amnesic(), func() int64 {
				if h == nil {
					return -1
				}
				return h.p.LogEndOffset()
			}(), hw)
	}
	if names, _ := c.fs[4].List(c.nodes[4].groupDir(g)); len(names) > 0 {
		t.Errorf("broker 4 kept the files of its removed replica: %v", names)
	}
	c.restart(4)
	if names, _ := c.fs[4].List(c.nodes[4].groupDir(g)); len(names) > 0 {
		t.Errorf("broker 4 recreated files of its removed replica at a restart: %v", names)
	}
	c.mustProduce(c.leaderOf("mv", 0), "mv", 0, makeBatch(1, "restarted", 2000))
}

// The replay can stop short of the return: a broker that applied the
// reassignment bringing the replica back, and rejoined, restarts before
// its metadata log saved that it applied it (the applied offset is saved
// with the next append). The replayed removal must still keep the files,
// which belong to the later assignment, and the metadata group applying
// the return once the broker runs reopens them.
func TestRestartBeforeReturnIsReapplied(t *testing.T) {
	c, ti, move := movingPartition(t)
	move([]int32{2, 3, 4}, 1)
	c.ticks(50)
	resp := c.do(c.controller(), reassignReq("mv", 0, []int32{1, 2, 3})).(*kmsg.AlterPartitionAssignmentsResponse)
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("reassign back: %+v", resp)
	}
	g := c.nodes[1].group(ti, 0)
	rejoined := false
	for range 600 {
		c.tick()
		h := c.nodes[1].hosts[g]
		if h != nil && !h.p.Amnesic() && len(c.topic(1, "mv").Targets) > 0 && h.p.LogEndOffset() == 50 {
			rejoined = true // back, caught up, and the reassignment not yet ended
			break
		}
	}
	if !rejoined {
		t.Fatal("broker 1 never rejoined with the reassignment still under way")
	}
	c.settle()
	applied := c.nodes[1].metaOff
	c.nodes[1].Close()
	c.open(1)
	// The replay stopped before the return: the test's window.
	if replayed := c.nodes[1].metaOff; replayed >= applied {
		t.Fatalf("the replay reached offset %d of %d applied before the restart: the window this test is for did not open", replayed, applied)
	}
	c.settle()
	c.ticks(5)
	h := c.nodes[1].hosts[g]
	if h == nil || h.p.Amnesic() || h.p.LogEndOffset() != 50 {
		t.Fatalf("broker 1 after a restart: hosted %v, amnesic %v", h != nil, h != nil && h.p.Amnesic())
	}
	waitReassigned(t, c, "mv", []int32{1, 2, 3}, 4)
	c.mustProduce(c.leaderOf("mv", 0), "mv", 0, makeBatch(1, "after", 100))
}

// copyTree copies the files of dir (one level) into to, and a file beside.
func copyTree(t *testing.T, fs vfs.FS, from, to string) {
	t.Helper()
	names, err := fs.List(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.MkdirAll(to); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		copyFile(t, fs, vfs.Join(from, name), vfs.Join(to, name))
	}
}

func copyFile(t *testing.T, fs vfs.FS, from, to string) {
	t.Helper()
	size, err := fs.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	g, err := fs.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	g.Close()
}

// Files an older assignment left behind (a removal that failed) are not
// reused when the partition comes back: here they are a replica that had
// rejoined, which would open as a member, never announce itself new, and
// so never be added back, leaving the reassignment unfinished.
func TestStaleReplicaFilesStartAfresh(t *testing.T) {
	c, ti, move := movingPartition(t)
	move([]int32{2, 3, 4}, 1)
	move([]int32{1, 2, 3}, 4) // broker 1 rejoined under its incarnation
	n1 := c.nodes[1]
	g := n1.group(ti, 0)
	if at, ok := n1.readAssigned(g); !ok || at == 0 {
		t.Fatalf("broker 1's replica records no assignment (%d, %v)", at, ok)
	}
	copyTree(t, c.fs[1], n1.groupDir(g), n1.groupDir(g)+".old")
	copyFile(t, c.fs[1], n1.assignedPath(g), n1.assignedPath(g)+".old")
	move([]int32{2, 3, 4}, 1)
	// As if the removal had been interrupted: the rejoined replica's files
	// are back in place.
	copyTree(t, c.fs[1], n1.groupDir(g)+".old", n1.groupDir(g))
	copyFile(t, c.fs[1], n1.assignedPath(g)+".old", n1.assignedPath(g))
	move([]int32{1, 2, 3}, 4)
	h := c.nodes[1].hosts[g]
	if h == nil || h.p.Amnesic() {
		t.Fatalf("broker 1 after the partition came back: hosted %v", h != nil)
	}
	c.mustProduce(c.leaderOf("mv", 0), "mv", 0, makeBatch(1, "after", 100))
}

// failReplicaIO makes every operation under broker id's directory of group
// g fail with EIO while *failing is set (the broker's FS, from now on and
// after restarts).
func failReplicaIO(c *cluster, id int32, dir string, failing *bool, kinds ...vfs.OpKind) {
	fs := vfs.Inject(c.fs[id], vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
		if *failing && strings.HasPrefix(op.Path, dir+"/") && (len(kinds) == 0 || slices.Contains(kinds, op.Kind)) {
			return vfs.Injection{Err: vfs.ErrEIO}
		}
		return vfs.Injection{}
	}))
	c.nodes[id].cfg.FS = fs
	cfg := c.cfgs[id]
	cfg.FS = fs
	c.cfgs[id] = cfg
}

// A replica that cannot open at a restart (its disk failing) stays
// assigned through a reassignment that keeps it: it is retried on its own
// files, never opened anew over them. With one replica, they are the only
// copy.
func TestUnopenedReplicaKeptThroughReassignment(t *testing.T) {
	c := newCluster(t, 11, 3)
	ti := c.createTopic("o", 1, 1, [][]int32{{1}})
	c.ticks(10)
	c.mustProduce(1, "o", 0, makeBatch(5, "before", 1))
	g := c.nodes[1].group(ti, 0)
	failing := true
	failReplicaIO(c, 1, c.nodes[1].groupDir(g), &failing, vfs.OpOpen, vfs.OpRead)
	c.restart(1)
	if c.nodes[1].hosts[g] != nil || len(c.nodes[1].Unopened()) != 1 {
		t.Fatalf("broker 1 opened its replica with reads failing (unopened %v)", c.nodes[1].Unopened())
	}
	resp := c.do(c.controller(), reassignReq("o", 0, []int32{1, 2})).(*kmsg.AlterPartitionAssignmentsResponse)
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("reassign: %+v", resp)
	}
	c.ticks(5)
	failing = false
	c.ticks(2*reopenTicks + 50)
	h := c.nodes[1].hosts[g]
	if h == nil || h.p.LogEndOffset() != 5 {
		t.Fatalf("broker 1's replica after its disk healed: hosted %v, log end %d, want 5", h != nil, func() int64 {
			if h == nil {
				return -1
			}
			return h.p.LogEndOffset()
		}())
	}
	waitReassigned(t, c, "o", []int32{1, 2})
}

// A replica whose first open fails (its disk failing as it arrives) still
// records which assignment its files belong to, so a restart's replayed
// removal of an earlier assignment leaves them.
func TestFailedFirstOpenRecordsAssignment(t *testing.T) {
	c, ti, move := movingPartition(t)
	move([]int32{2, 3, 4}, 1)
	g := c.nodes[1].group(ti, 0)
	failing := true
	failReplicaIO(c, 1, c.nodes[1].groupDir(g), &failing)
	resp := c.do(c.controller(), reassignReq("mv", 0, []int32{1, 2, 3})).(*kmsg.AlterPartitionAssignmentsResponse)
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("reassign back: %+v", resp)
	}
	c.ticks(5)
	if len(c.nodes[1].Unopened()) != 1 {
		t.Fatalf("the first open did not fail: unopened %v", c.nodes[1].Unopened())
	}
	failing = false
	waitReassigned(t, c, "mv", []int32{1, 2, 3}, 4)
	if _, ok := c.nodes[1].readAssigned(g); !ok {
		t.Fatal("no record of the assignment after a failed first open")
	}
	c.restart(1)
	c.ticks(5)
	h := c.nodes[1].hosts[g]
	if h == nil || h.p.Amnesic() || h.p.LogEndOffset() != 50 {
		t.Fatalf("broker 1 after a restart: hosted %v, amnesic %v", h != nil, h != nil && h.p.Amnesic())
	}
}

// movingPartition is a 4-broker cluster with topic "mv", one partition on
// brokers 1, 2, 3 holding 50 records, and move, which reassigns it to to
// and waits until it is done and broker gone hosts none of it.
func movingPartition(t *testing.T) (*cluster, *topicInfo, func(to []int32, gone int32)) {
	t.Helper()
	c := newCluster(t, 7, 4)
	ti := c.createTopic("mv", 1, 3, [][]int32{{1, 2, 3}})
	c.ticks(10)
	for i := range 10 {
		c.mustProduce(c.leaderOf("mv", 0), "mv", 0, makeBatch(5, "first", int64(i)))
	}
	move := func(to []int32, gone int32) {
		t.Helper()
		resp := c.do(c.controller(), reassignReq("mv", 0, to)).(*kmsg.AlterPartitionAssignmentsResponse)
		if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("reassign to %v: %+v", to, resp)
		}
		waitReassigned(t, c, "mv", to, gone)
	}
	return c, ti, move
}
