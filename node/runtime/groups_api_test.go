package runtime_test

// The coordinator APIs at the wire level, as kgo sends them: the first
// FindCoordinator creating __consumer_offsets, batched FindCoordinator
// (v4+), and OffsetFetch's "no offset" answer, single-group and
// multi-group (v8+).

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"sluice/node"
)

// TestE2EOffsetsTopicCreatedByFindCoordinator: __consumer_offsets does
// not exist until the first FindCoordinator, which is answered
// COORDINATOR_NOT_AVAILABLE while the topic is created; then it has
// Kafka's 50 partitions with min(3, brokers) replicas each, and a batched
// FindCoordinator (v4+) names each group's coordinator.
func TestE2EOffsetsTopicCreatedByFindCoordinator(t *testing.T) {
	for _, brokers := range []int{2, 3} {
		t.Run(fmt.Sprintf("brokers=%d", brokers), func(t *testing.T) {
			c := startGroupCluster(t, brokers, 0)
			adm := newAdmin(t, c)
			ctx := testCtx(t, 60*time.Second)
			createTopic(t, adm, "before-groups", 1, int16(brokers))
			td, err := adm.ListTopicsWithInternal(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if td.Has(node.OffsetsTopic) {
				t.Fatalf("%s exists before any FindCoordinator", node.OffsetsTopic)
			}

			cl := newClient(t, c)
			keys := []string{"find-a", "find-b", "find-c"}
			find := func() *kmsg.FindCoordinatorResponse {
				req := kmsg.NewPtrFindCoordinatorRequest()
				req.CoordinatorKeys = keys
				resp, err := cl.Broker(1).Request(ctx, req)
				if err != nil {
					t.Fatalf("FindCoordinator: %v", err)
				}
				r := resp.(*kmsg.FindCoordinatorResponse)
				if r.Version < 4 {
					t.Fatalf("FindCoordinator answered at v%d, want v4+ (batched)", r.Version)
				}
				return r
			}
			first := find()
			if len(first.Coordinators) != len(keys) {
				t.Fatalf("first FindCoordinator: %d coordinators for %d keys", len(first.Coordinators), len(keys))
			}
			for _, co := range first.Coordinators {
				if co.ErrorCode != kerr.CoordinatorNotAvailable.Code || co.NodeID != -1 {
					t.Fatalf("first FindCoordinator, key %s: error %d node %d, want COORDINATOR_NOT_AVAILABLE while the topic is created",
						co.Key, co.ErrorCode, co.NodeID)
				}
			}

			var got *kmsg.FindCoordinatorResponse
			waitFor(t, 60*time.Second, "every key to have a coordinator", func() bool {
				got = find()
				for _, co := range got.Coordinators {
					if co.ErrorCode != 0 || co.NodeID < 1 {
						return false
					}
				}
				return true
			})
			for i, co := range got.Coordinators {
				if co.Key != keys[i] || int(co.NodeID) > brokers || co.Host == "" || co.Port <= 0 {
					t.Errorf("coordinator %d: %+v", i, co)
				}
				// The same answer as kadm's lookup (which may ask another
				// broker, one that may not have learned the leader yet).
				waitFor(t, 30*time.Second, "kadm to find the coordinator of "+co.Key, func() bool {
					var node int32 = -1
					adm.FindGroupCoordinators(ctx, co.Key).Each(func(r kadm.FindCoordinatorResponse) {
						if r.Err == nil {
							node = r.NodeID
						}
					})
					return node == co.NodeID
				})
			}

			td, err = adm.ListTopicsWithInternal(ctx, node.OffsetsTopic)
			if err != nil || td.Error() != nil {
				t.Fatalf("metadata of %s: %v %v", node.OffsetsTopic, err, td.Error())
			}
			d := td[node.OffsetsTopic]
			if !d.IsInternal || len(d.Partitions) != 50 {
				t.Fatalf("%s: internal %v, %d partitions; want internal, 50", node.OffsetsTopic, d.IsInternal, len(d.Partitions))
			}
			want := min(3, brokers)
			for _, p := range d.Partitions {
				if len(p.Replicas) != want {
					t.Fatalf("%s partition %d: %d replicas, want min(3, %d) = %d", node.OffsetsTopic, p.Partition, len(p.Replicas), brokers, want)
				}
			}
		})
	}
}

// TestE2EOffsetFetchNoOffset: a partition the group never committed, and
// a group that never committed at all, answer offset -1 without an error
// (as Kafka), in a multi-group OffsetFetch (v8+) answered by their shared
// coordinator and in a single-group one (v7).
func TestE2EOffsetFetchNoOffset(t *testing.T) {
	const topic = "fetch-none"
	const offsetsPartitions = 3
	c := startGroupCluster(t, 3, offsetsPartitions)
	adm := newAdmin(t, c)
	ct := createTopic(t, adm, topic, 2, 3)
	waitLeaders(t, adm, topic, 2)
	ctx := testCtx(t, 60*time.Second)

	// Two groups of the same offsets partition: one coordinator answers both.
	committedGroup := "fetch-committed"
	neverGroup := ""
	for i := 0; neverGroup == ""; i++ {
		g := fmt.Sprintf("fetch-never-%d", i)
		if node.OffsetsPartition(g, offsetsPartitions) == node.OffsetsPartition(committedGroup, offsetsPartitions) {
			neverGroup = g
		}
	}
	var o kadm.Offsets
	o.AddOffset(topic, 0, 7, -1)
	waitFor(t, 30*time.Second, "a commit to the group", func() bool {
		return adm.CommitAllOffsets(ctx, committedGroup, o) == nil
	})
	coord := findCoordinator(t, ctx, adm, committedGroup)

	req := kmsg.NewPtrOffsetFetchRequest()
	for _, g := range []string{committedGroup, neverGroup} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group, rg.MemberEpoch = g, -1
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic, rt.TopicID, rt.Partitions = topic, ct.ID, []int32{0, 1} // v10 names topics by id
		rg.Topics = append(rg.Topics, rt)
		req.Groups = append(req.Groups, rg)
	}
	cl := newClient(t, c)
	resp, err := cl.Broker(int(coord)).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.(*kmsg.OffsetFetchResponse)
	if r.Version < 8 || len(r.Groups) != 2 {
		t.Fatalf("OffsetFetch v%d answered %d groups, want v8+ and 2", r.Version, len(r.Groups))
	}
	want := map[string][2]int64{committedGroup: {7, -1}, neverGroup: {-1, -1}}
	for _, g := range r.Groups {
		if g.ErrorCode != 0 {
			t.Errorf("group %s: error %d", g.Group, g.ErrorCode)
		}
		if len(g.Topics) != 1 || len(g.Topics[0].Partitions) != 2 {
			t.Fatalf("group %s: %+v", g.Group, g.Topics)
		}
		for _, p := range g.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.Offset != want[g.Group][p.Partition] {
				t.Errorf("group %s partition %d: offset %d error %d, want %d and no error", g.Group, p.Partition, p.Offset, p.ErrorCode, want[g.Group][p.Partition])
			}
		}
	}

	// Single-group OffsetFetch (v7) of the group that never committed.
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(9, 7)
	old := newClient(t, c, kgo.MaxVersions(vs))
	sreq := kmsg.NewPtrOffsetFetchRequest()
	sreq.Group = neverGroup
	st := kmsg.NewOffsetFetchRequestTopic()
	st.Topic, st.Partitions = topic, []int32{0, 1}
	sreq.Topics = append(sreq.Topics, st)
	sresp, err := old.Broker(int(coord)).Request(ctx, sreq)
	if err != nil {
		t.Fatal(err)
	}
	sr := sresp.(*kmsg.OffsetFetchResponse)
	if sr.Version != 7 || sr.ErrorCode != 0 || len(sr.Topics) != 1 || len(sr.Topics[0].Partitions) != 2 {
		t.Fatalf("OffsetFetch v%d: %+v", sr.Version, sr)
	}
	for _, p := range sr.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.Offset != -1 {
			t.Errorf("v7, partition %d: offset %d error %d, want -1 and no error", p.Partition, p.Offset, p.ErrorCode)
		}
	}
}
