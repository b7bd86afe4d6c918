package runtime_test

// Consumer groups end to end: kgo group consumers and kadm against an
// in-process cluster over TCP.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"sluice/node"
	"sluice/node/groups"
	"sluice/node/runtime"
)

// startGroupCluster starts a cluster whose groups rebalance without the
// initial delay (as Kafka's shipped server.properties sets it for
// development) and whose __consumer_offsets has offsetsPartitions
// partitions (0: Kafka's 50).
func startGroupCluster(t *testing.T, n int, offsetsPartitions int32) *runtime.Cluster {
	t.Helper()
	c, err := runtime.StartDev(runtime.DevOptions{Brokers: n, DataDir: t.TempDir(), Logger: testLogger(),
		Groups: node.GroupConfig{OffsetsPartitions: offsetsPartitions, Coordinator: groups.Config{InitialRebalanceDelayMs: -1}}})
	if err != nil {
		t.Fatalf("StartDev: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// member is one group consumer processing records in the background: it
// records what it saw and marks each record for the next autocommit
// (at-least-once: a record is committed only after it was processed).
type member struct {
	name   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	seen     map[string]int // "partition/offset" -> times
	assigned map[int32]bool
	assigns  int // assignment callbacks: rebalances that gave it partitions
	revoked  int // partitions taken away by revocations (not by leaving)
}

func startMember(t *testing.T, c *runtime.Cluster, group, topic, name string, opts ...kgo.Opt) *member {
	m := &member{name: name, done: make(chan struct{}), seen: map[string]int{}, assigned: map[int32]bool{}}
	base := []kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.AutoCommitMarks(), kgo.AutoCommitInterval(100 * time.Millisecond),
		kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			for _, p := range a[topic] {
				m.assigned[p] = true
			}
			if len(a[topic]) > 0 {
				m.assigns++
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
			m.revoked += len(r[topic])
			m.mu.Unlock()
			cl.CommitMarkedOffsets(ctx) // before another member takes them
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			m.mu.Lock()
			for _, p := range l[topic] {
				delete(m.assigned, p)
			}
			m.mu.Unlock()
		}),
	}
	m.cl = newClient(t, c, append(base, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := m.cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				m.mu.Lock()
				m.seen[fmt.Sprintf("%d/%d", r.Partition, r.Offset)]++
				m.mu.Unlock()
				m.cl.MarkCommitRecords(r)
			})
		}
	}()
	return m
}

// leave stops the member: its marked offsets are committed and it leaves
// the group (kgo's Close).
func (m *member) leave() {
	m.cancel()
	<-m.done
	m.cl.Close()
}

func (m *member) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.assigned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (m *member) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

func (m *member) has(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[key]
}

// produceN produces n records round-robin over the topic's partitions and
// returns each partition's end offset.
func produceN(t *testing.T, c *runtime.Cluster, topic string, n int) {
	t.Helper()
	prod := newProducer(t, c, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	ctx := testCtx(t, 60*time.Second)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// delivered is the union of what members saw, and how many keys were seen
// more than once (redelivered).
func delivered(ms ...*member) (all map[string]int) {
	all = map[string]int{}
	for _, m := range ms {
		m.mu.Lock()
		for k, v := range m.seen {
			all[k] += v
		}
		m.mu.Unlock()
	}
	return all
}

func wantAll(t *testing.T, ends map[int32]int64, got map[string]int, what string) {
	t.Helper()
	missing := 0
	for p, end := range ends {
		for o := range end {
			if got[fmt.Sprintf("%d/%d", p, o)] == 0 {
				missing++
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%s: %d records never delivered", what, missing)
	}
}

// findCoordinator is the group's coordinator as FindCoordinator names it.
// kadm asks any broker, and one that has not yet heard from the new leader
// of the group's offsets partition answers COORDINATOR_NOT_AVAILABLE: it
// asks again until one names a broker.
func findCoordinator(t *testing.T, ctx context.Context, adm *kadm.Client, group string) int32 {
	t.Helper()
	var coord int32 = -1
	waitFor(t, 30*time.Second, "the coordinator of group "+group, func() bool {
		adm.FindGroupCoordinators(ctx, group).Each(func(r kadm.FindCoordinatorResponse) {
			if r.Err == nil {
				coord = r.NodeID
			}
		})
		return coord > 0
	})
	return coord
}

func TestE2EConsumerGroup(t *testing.T) {
	const topic, group = "e2e-groups", "e2e-g1"
	c := startGroupCluster(t, 3, 0) // Kafka's 50 offsets partitions
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 12, 3)
	waitLeaders(t, adm, topic, 12)

	// Three members split the twelve partitions, and only then do records
	// exist: the members do not block rebalances while they process a
	// poll, so records polled before the first rebalances could be read
	// again by the partition's next owner, which Kafka allows (the test
	// asserts exactly once in a group that is stable).
	ms := []*member{
		startMember(t, c, group, topic, "a"),
		startMember(t, c, group, topic, "b"),
		startMember(t, c, group, topic, "c"),
	}
	waitFor(t, 60*time.Second, "three members to own four partitions each", func() bool {
		var all []int32
		for _, m := range ms {
			ps := m.partitions()
			if len(ps) != 4 {
				return false
			}
			all = append(all, ps...)
		}
		slices.Sort(all)
		return len(slices.Compact(all)) == 12
	})
	produceN(t, c, topic, 3000)
	ends := endOffsets(t, adm, topic, 12)
	waitFor(t, 60*time.Second, "the group to consume everything", func() bool {
		return len(delivered(ms...)) == 3000
	})
	wantAll(t, ends, delivered(ms...), "three members")
	for k, v := range delivered(ms...) {
		if v != 1 {
			t.Errorf("record %s delivered %d times in a stable group", k, v)
		}
	}

	// The group as kadm describes it.
	ctx := testCtx(t, 30*time.Second)
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil || dg.Error() != nil {
		t.Fatalf("DescribeGroups: %v %v", err, dg.Error())
	}
	d := dg[group]
	if d.State != "Stable" || len(d.Members) != 3 || d.Protocol == "" || d.ProtocolType != "consumer" {
		t.Fatalf("described %+v", d)
	}
	for _, dm := range d.Members {
		ca, ok := dm.Assigned.AsConsumer()
		if !ok || len(ca.Topics) != 1 || len(ca.Topics[0].Partitions) != 4 || dm.ClientHost == "" {
			t.Fatalf("member %s: assignment %+v, host %q", dm.MemberID, ca, dm.ClientHost)
		}
	}
	lg, err := adm.ListGroups(ctx)
	if err != nil || !slices.Contains(lg.Groups(), group) {
		t.Fatalf("ListGroups: %v %v", lg.Groups(), err)
	}

	// A member leaves: its partitions move to the others.
	gone := ms[2]
	gone.leave()
	ms = ms[:2]
	waitFor(t, 60*time.Second, "two members to own six partitions each", func() bool {
		return len(ms[0].partitions()) == 6 && len(ms[1].partitions()) == 6
	})
	produceN(t, c, topic, 600)
	ends = endOffsets(t, adm, topic, 12)
	waitFor(t, 60*time.Second, "the two members to consume the new records", func() bool {
		return len(delivered(ms[0], ms[1], gone)) == 3600
	})
	wantAll(t, ends, delivered(ms[0], ms[1], gone), "after a member left")
	// What the leaving member committed is never delivered again: it
	// committed everything it processed before leaving.
	for k := range delivered(gone) {
		if n := delivered(ms[0], ms[1])[k]; n > 0 {
			t.Errorf("record %s, committed by the member that left, delivered again %d times", k, n)
		}
	}

	// A second group reads the same topic completely and independently.
	other := startMember(t, c, "e2e-g2", topic, "other")
	waitFor(t, 60*time.Second, "the second group to consume everything", func() bool { return other.count() == 3600 })
	other.leave()

	// Everyone leaves; offsets are committed. A new member resumes from
	// them: it gets only what is produced next.
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
	again := startMember(t, c, group, topic, "again")
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

	// An empty group can be deleted; its offsets go with it.
	dr, err := adm.DeleteGroups(ctx, group)
	if err != nil || dr.Error() != nil {
		t.Fatalf("DeleteGroups: %v %v", err, dr.Error())
	}
	if off := fetchCommitted(t, adm, group); len(off) != 0 {
		t.Fatalf("offsets after deleting the group: %v", off)
	}
}

func fetchCommitted(t *testing.T, adm *kadm.Client, group string) map[int32]int64 {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	var out map[int32]int64
	waitFor(t, 30*time.Second, "OffsetFetch", func() bool {
		r, err := adm.FetchOffsets(ctx, group)
		if err != nil || r.Error() != nil {
			return false
		}
		out = map[int32]int64{}
		r.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
		return true
	})
	return out
}

func TestE2ECoordinatorFailover(t *testing.T) {
	const topic, group = "e2e-coord", "e2e-coord-g"
	c := startGroupCluster(t, 3, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 3, 3)
	waitLeaders(t, adm, topic, 3)
	produceN(t, c, topic, 900)
	ends := endOffsets(t, adm, topic, 3)

	m := startMember(t, c, group, topic, "a")
	waitFor(t, 60*time.Second, "the member to consume everything", func() bool { return m.count() == 900 })
	m.leave()
	committed := fetchCommitted(t, adm, group)
	for p, end := range ends {
		if committed[p] != end {
			t.Fatalf("partition %d: committed %d, end %d", p, committed[p], end)
		}
	}

	// A member consumes while the coordinator stops: it finds the new one
	// and carries on.
	live := startMember(t, c, group, topic, "live")
	waitFor(t, 60*time.Second, "the live member to own the three partitions", func() bool { return len(live.partitions()) == 3 })

	// Stop the coordinator.
	ctx := testCtx(t, 30*time.Second)
	coord := findCoordinator(t, ctx, adm, group)
	t.Logf("stopping the coordinator, broker %d", coord)
	c.StopBroker(coord)

	// committedAre waits for the group's committed offsets to be ends. (A
	// new admin client each try: kgo v1.22.3's sharded requests, such as
	// OffsetFetch, keep a cached coordinator after failing to dial it.)
	committedAre := func(what string, ends map[int32]int64) {
		t.Helper()
		waitFor(t, 60*time.Second, what, func() bool {
			time.Sleep(100 * time.Millisecond)
			cl := kadm.NewClient(newClient(t, c))
			defer cl.Close()
			r, err := cl.FetchOffsets(ctx, group)
			if err != nil || r.Error() != nil {
				return false
			}
			ok := true
			for p, end := range ends {
				o, found := r.Lookup(topic, p)
				ok = ok && found && o.At == end
			}
			return ok
		})
	}
	// The offsets survive on the new coordinator.
	committedAre("a new coordinator with the committed offsets", ends)

	// The live member consumes what comes next, only that, and commits it
	// to the new coordinator.
	produceN(t, c, topic, 90)
	ends = endOffsets(t, adm, topic, 3)
	waitFor(t, 60*time.Second, "the live member to consume the new records", func() bool { return live.count() >= 90 })
	time.Sleep(300 * time.Millisecond)
	if n := live.count(); n != 90 {
		t.Fatalf("across the coordinator's stop, the live member consumed %d records, want the 90 new ones", n)
	}
	live.leave()
	committedAre("the live member's commits on the new coordinator", ends)

	// A new member resumes from the committed offsets.
	produceN(t, c, topic, 30)
	m2 := startMember(t, c, group, topic, "b")
	waitFor(t, 60*time.Second, "the member to consume the new records", func() bool { return m2.count() >= 30 })
	time.Sleep(300 * time.Millisecond)
	if n := m2.count(); n != 30 {
		t.Fatalf("after the coordinator moved, the member consumed %d records, want the 30 new ones", n)
	}
	m2.leave()
	if err := c.RestartBroker(coord); err != nil {
		t.Fatal(err)
	}
}

func (m *member) assignCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.assigns
}

// TestE2EEagerAndStaticMembers: an eager protocol (range: every member
// gives up everything on a rebalance) splits the partitions too, and a
// static member (group.instance.id) that restarts within its session gets
// its partitions back without a rebalance: the other member is never
// reassigned.
func TestE2EEagerAndStaticMembers(t *testing.T) {
	const topic, group = "e2e-static", "e2e-static-g"
	c := startGroupCluster(t, 3, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 6, 3)
	waitLeaders(t, adm, topic, 6)
	produceN(t, c, topic, 600)

	// A 30 s session: the restart below (a Close, 60 records produced, a
	// new client's FindCoordinator and JoinGroup) must fit in it on a
	// loaded machine, or the group rebalances lawfully.
	opts := func(id string) []kgo.Opt {
		return []kgo.Opt{kgo.Balancers(kgo.RangeBalancer()), kgo.InstanceID(id), kgo.SessionTimeout(30 * time.Second)}
	}
	a := startMember(t, c, group, topic, "a", opts("static-a")...)
	b := startMember(t, c, group, topic, "b", opts("static-b")...)
	waitFor(t, 60*time.Second, "two static members to own three partitions each", func() bool {
		return len(a.partitions()) == 3 && len(b.partitions()) == 3
	})
	waitFor(t, 60*time.Second, "everything consumed", func() bool { return len(delivered(a, b)) == 600 })
	before := b.partitions()
	assigns := b.assignCount()

	// a restarts: a static member leaving by Close does not leave the
	// group, so its partitions wait for it (session 30 s) and b keeps its.
	a.leave()
	produceN(t, c, topic, 60)
	a2 := startMember(t, c, group, topic, "a2", opts("static-a")...)
	waitFor(t, 60*time.Second, "the restarted static member to get its three partitions back", func() bool {
		return len(a2.partitions()) == 3
	})
	waitFor(t, 60*time.Second, "the new records consumed", func() bool { return len(delivered(a, a2, b)) == 660 })
	if got := b.partitions(); !slices.Equal(got, before) || b.assignCount() != assigns {
		t.Fatalf("the other member was reassigned (%v → %v, %d → %d assignments): a static restart rebalanced the group",
			before, got, assigns, b.assignCount())
	}
	ctx := testCtx(t, 30*time.Second)
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil || dg.Error() != nil {
		t.Fatalf("DescribeGroups: %v %v", err, dg.Error())
	}
	d := dg[group]
	if d.State != "Stable" || d.Protocol != "range" || len(d.Members) != 2 {
		t.Fatalf("described %+v", d)
	}
	for _, dm := range d.Members {
		if dm.InstanceID == nil || !strings.HasPrefix(*dm.InstanceID, "static-") {
			t.Errorf("member %s without its instance id", dm.MemberID)
		}
	}
	a2.leave()
	b.leave()
}

// TestE2EBalancers: each of the client-side assignors Kafka clients ship —
// range, roundrobin and sticky (eager), cooperative-sticky (incremental) —
// splits twelve partitions over three members, over two when one leaves,
// and over three again when a new one joins, with every record consumed.
// The rebalances are of the assignor's kind: when the new member joins,
// an eager member gives up all six of its partitions, a cooperative one
// only the two that move (Kafka's incremental cooperative rebalance:
// the partitions a member keeps are never revoked).
func TestE2EBalancers(t *testing.T) {
	const topic = "e2e-balancers"
	c := startGroupCluster(t, 3, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 12, 3)
	waitLeaders(t, adm, topic, 12)
	produceN(t, c, topic, 240)
	for _, bal := range []struct {
		name        string
		b           kgo.GroupBalancer
		cooperative bool
	}{
		{"range", kgo.RangeBalancer(), false},
		{"roundrobin", kgo.RoundRobinBalancer(), false},
		{"sticky", kgo.StickyBalancer(), false},
		{"cooperative-sticky", kgo.CooperativeStickyBalancer(), true},
	} {
		t.Run(bal.name, func(t *testing.T) {
			group := "e2e-balancer-" + bal.name
			var ms []*member
			for i := range 3 {
				ms = append(ms, startMember(t, c, group, topic, strconv.Itoa(i), kgo.Balancers(bal.b)))
			}
			split := func(ms []*member, each int) func() bool {
				return func() bool {
					var all []int32
					for _, m := range ms {
						ps := m.partitions()
						if len(ps) != each {
							return false
						}
						all = append(all, ps...)
					}
					slices.Sort(all)
					return len(slices.Compact(all)) == 12
				}
			}
			waitFor(t, 60*time.Second, "three members owning four partitions each", split(ms, 4))
			waitFor(t, 60*time.Second, "everything consumed", func() bool { return len(delivered(ms...)) == 240 })
			ms[0].leave()
			waitFor(t, 60*time.Second, "two members owning six partitions each", split(ms[1:], 6))
			ctx := testCtx(t, 30*time.Second)
			dg, err := adm.DescribeGroups(ctx, group)
			if err != nil || dg.Error() != nil {
				t.Fatalf("DescribeGroups: %v %v", err, dg.Error())
			}
			if d := dg[group]; d.Protocol != bal.name || d.State != "Stable" {
				t.Fatalf("described protocol %q state %q, want %q Stable", d.Protocol, d.State, bal.name)
			}

			// A new member joins: two partitions move from each of the others.
			revokedBefore := []int{ms[1].revokedCount(), ms[2].revokedCount()}
			ms = append(ms, startMember(t, c, group, topic, "3", kgo.Balancers(bal.b)))
			waitFor(t, 60*time.Second, "three members owning four partitions each again", split(ms[1:], 4))
			for i, m := range ms[1:3] {
				got := m.revokedCount() - revokedBefore[i]
				switch {
				case bal.cooperative && got != 2:
					t.Errorf("member %s: %d partitions revoked when a member joined, want the 2 that moved (incremental)", m.name, got)
				case !bal.cooperative && got < 6:
					t.Errorf("member %s: %d partitions revoked when a member joined, want all 6 (eager)", m.name, got)
				}
			}
			for _, m := range ms[1:] {
				m.leave()
			}
		})
	}
}

func (m *member) revokedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.revoked
}
