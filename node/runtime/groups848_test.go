package runtime_test

// KIP-848 consumer groups end to end: kgo consumers with
// kgo.ServerSideBalancer() against an in-process cluster over TCP.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/node"
	"sluice/node/groups"
	"sluice/node/runtime"
)

// start848Cluster starts a cluster whose consumer groups heartbeat every
// 200 ms with a 6 s session.
func start848Cluster(t *testing.T, n int) *runtime.Cluster {
	t.Helper()
	c, err := runtime.StartDev(runtime.DevOptions{Brokers: n, DataDir: t.TempDir(), Logger: testLogger(),
		Groups: node.GroupConfig{OffsetsPartitions: 8, Coordinator: groups.Config{InitialRebalanceDelayMs: -1,
			ConsumerHeartbeatIntervalMs: 200, ConsumerSessionTimeoutMs: 6000}}})
	if err != nil {
		t.Fatalf("StartDev: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

func TestE2EConsumerGroup848(t *testing.T) {
	const topic, group = "e2e-848", "e2e-848-g"
	c := start848Cluster(t, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 12, 3)
	waitLeaders(t, adm, topic, 12)
	produceN(t, c, topic, 3000)
	ends := endOffsets(t, adm, topic, 12)

	ms := []*member{
		startMember(t, c, group, topic, "a", kgo.ServerSideBalancer()),
		startMember(t, c, group, topic, "b", kgo.ServerSideBalancer()),
		startMember(t, c, group, topic, "c", kgo.ServerSideBalancer()),
	}
	owns := func(n int, ms ...*member) bool {
		var all []int32
		for _, m := range ms {
			ps := m.partitions()
			if len(ps) != n {
				return false
			}
			all = append(all, ps...)
		}
		slices.Sort(all)
		return len(slices.Compact(all)) == 12
	}
	waitFor(t, 60*time.Second, "three members to own four partitions each", func() bool { return owns(4, ms...) })
	waitFor(t, 60*time.Second, "the group to consume everything", func() bool { return len(delivered(ms...)) == 3000 })
	wantAll(t, ends, delivered(ms...), "three members")

	// The group as ConsumerGroupDescribe and ListGroups show it.
	ctx := testCtx(t, 30*time.Second)
	dreq := kmsg.NewPtrConsumerGroupDescribeRequest()
	dreq.Groups = []string{group}
	dresp, err := dreq.RequestWith(ctx, ms[0].cl)
	if err != nil || len(dresp.Groups) != 1 || dresp.Groups[0].ErrorCode != 0 {
		t.Fatalf("ConsumerGroupDescribe: %v %+v", err, dresp)
	}
	if d := dresp.Groups[0]; d.State != "Stable" || len(d.Members) != 3 || d.AssignorName != "uniform" {
		t.Fatalf("described %+v", d)
	}
	lg, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	if g, ok := lg[group]; !ok || g.GroupType != "consumer" || g.State != "Stable" {
		t.Fatalf("listed %+v", lg)
	}

	// A member leaves: its partitions move to the others.
	gone := ms[2]
	gone.leave()
	ms = ms[:2]
	waitFor(t, 60*time.Second, "two members to own six partitions each", func() bool { return owns(6, ms...) })
	produceN(t, c, topic, 600)
	ends = endOffsets(t, adm, topic, 12)
	waitFor(t, 60*time.Second, "the two members to consume the new records", func() bool {
		return len(delivered(ms[0], ms[1], gone)) == 3600
	})
	wantAll(t, ends, delivered(ms[0], ms[1], gone), "after a member left")
	for k := range delivered(gone) {
		if n := delivered(ms[0], ms[1])[k]; n > 0 {
			t.Errorf("record %s, committed by the member that left, delivered again %d times", k, n)
		}
	}

	// Everyone leaves; offsets are committed. A new member resumes from
	// them.
	for _, m := range ms {
		m.leave()
	}
	committed := fetchCommitted(t, adm, group)
	for p, end := range ends {
		if committed[p] != end {
			t.Errorf("partition %d: committed %d, end %d", p, committed[p], end)
		}
	}
	produceN(t, c, topic, 120)
	again := startMember(t, c, group, topic, "again", kgo.ServerSideBalancer())
	waitFor(t, 60*time.Second, "the resumed member to consume the new records", func() bool { return again.count() >= 120 })
	time.Sleep(300 * time.Millisecond)
	if n := again.count(); n != 120 {
		t.Fatalf("the resumed member consumed %d records, want the 120 new ones only", n)
	}
	for p, end := range ends {
		if again.has(fmt.Sprintf("%d/%d", p, end-1)) > 0 {
			t.Errorf("partition %d: a committed record was delivered again", p)
		}
	}
	again.leave()
}

// The coordinator's broker stops while two members consume: the new
// coordinator rebuilds the group from its records and the members carry
// on with their assignment.
func TestE2ECoordinatorFailover848(t *testing.T) {
	const topic, group = "e2e-848-coord", "e2e-848-coord-g"
	c := start848Cluster(t, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 6, 3)
	waitLeaders(t, adm, topic, 6)
	produceN(t, c, topic, 600)
	ms := []*member{
		startMember(t, c, group, topic, "a", kgo.ServerSideBalancer()),
		startMember(t, c, group, topic, "b", kgo.ServerSideBalancer()),
	}
	waitFor(t, 60*time.Second, "the group to consume everything", func() bool { return len(delivered(ms...)) == 600 })
	// One member may consume everything before the second one's
	// assignment arrives: compare against the settled split.
	waitFor(t, 60*time.Second, "the uniform assignor to split the 6 partitions 3 and 3", func() bool {
		return len(ms[0].partitions()) == 3 && len(ms[1].partitions()) == 3
	})
	before := [][]int32{ms[0].partitions(), ms[1].partitions()}

	ctx := testCtx(t, 30*time.Second)
	coord := findCoordinator(t, ctx, adm, group)
	t.Logf("stopping the coordinator, broker %d", coord)
	c.StopBroker(coord)
	// Fetching needs no coordinator: the assertion below means something
	// only once another broker coordinates the group and the members have
	// heartbeated to it for a while (at least 3 heartbeats).
	waitFor(t, 60*time.Second, "another broker to coordinate the group", func() bool {
		adm := newAdmin(t, c) // kgo may keep a coordinator it cannot dial
		defer adm.Close()
		return findCoordinator(t, ctx, adm, group) != coord
	})
	time.Sleep(time.Second)

	produceN(t, c, topic, 300)
	waitFor(t, 60*time.Second, "the members to consume the new records", func() bool { return len(delivered(ms...)) == 900 })
	for i, m := range ms {
		if !slices.Equal(m.partitions(), before[i]) {
			t.Errorf("member %s owns %v after the coordinator moved, %v before", m.name, m.partitions(), before[i])
		}
	}
	for _, m := range ms {
		m.leave()
	}
	if err := c.RestartBroker(coord); err != nil {
		t.Fatal(err)
	}
}

// TestE2EConsumerGroup848Range: members whose client asks for the "range"
// server assignor (kgo: RangeBalancer first) get contiguous ranges of the
// topic's partitions, and the group describes its assignor as "range".
func TestE2EConsumerGroup848Range(t *testing.T) {
	const topic, group = "e2e-848-range", "e2e-848-range-g"
	c := start848Cluster(t, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 12, 3)
	waitLeaders(t, adm, topic, 12)
	var ms []*member
	for _, name := range []string{"a", "b", "c"} {
		ms = append(ms, startMember(t, c, group, topic, name, kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer())))
	}
	ranges := func() bool {
		var all []int32
		for _, m := range ms {
			ps := m.partitions()
			if len(ps) != 4 || ps[3]-ps[0] != 3 || ps[0]%4 != 0 {
				return false
			}
			all = append(all, ps...)
		}
		slices.Sort(all)
		return len(slices.Compact(all)) == 12
	}
	waitFor(t, 60*time.Second, "three members to own a range of four partitions each", ranges)
	ctx := testCtx(t, 30*time.Second)
	dreq := kmsg.NewPtrConsumerGroupDescribeRequest()
	dreq.Groups = []string{group}
	dresp, err := dreq.RequestWith(ctx, ms[0].cl)
	if err != nil || len(dresp.Groups) != 1 || dresp.Groups[0].ErrorCode != 0 {
		t.Fatalf("ConsumerGroupDescribe: %v %+v", err, dresp)
	}
	if d := dresp.Groups[0]; d.AssignorName != "range" || len(d.Members) != 3 {
		t.Fatalf("described assignor %q with %d members, want range and 3", d.AssignorName, len(d.Members))
	}
	for _, m := range ms {
		m.leave()
	}
}
