package main

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	broker "sluice/node/runtime"
)

// sluice partition reassign moves a partition, under load, from the three
// brokers it was created on — its leader among those leaving — to a set
// that includes the fourth broker; every acknowledged record is read back
// afterwards, and the metadata names the new replicas.
func TestPartitionReassignUnderLoad(t *testing.T) {
	c, err := broker.StartDev(broker.DevOptions{Brokers: 4, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	boot := strings.Join(c.Bootstrap(), ",")
	if status, _, errOut := runArgs("topic", "create", "mv", "-partitions", "1", "-replication-factor", "3", "-bootstrap", boot); status != 0 {
		t.Fatalf("topic create: %s", errOut)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.DefaultProduceTopic("mv"), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var leader int32 = -1
	var replicas []int32
	waitUntil(t, "a leader for mv/0", func() bool {
		td, err := adm.ListTopics(ctx, "mv")
		if err != nil {
			return false
		}
		p := td["mv"].Partitions[0]
		leader, replicas = p.Leader, p.Replicas
		return leader > 0
	})
	var target []int32
	for id := int32(1); id <= 4; id++ {
		if id != leader && (slices.Contains(replicas, id) || len(target) < 3) {
			target = append(target, id)
		}
	}
	target = target[:3]
	t.Logf("moving mv/0 from %v (leader %d) to %v", replicas, leader, target)

	// A producer runs throughout.
	stop := produceUntil(ctx, cl, "v%06d", 0)
	time.Sleep(200 * time.Millisecond)
	ids := make([]string, len(target))
	for i, id := range target {
		ids[i] = strconv.Itoa(int(id))
	}
	status, out, errOut := runArgs("partition", "reassign", "mv", "0", "-replicas", strings.Join(ids, ","), "-wait", "-timeout", "60s", "-bootstrap", boot)
	if status != exitOK || !strings.Contains(out, "done in") {
		t.Fatalf("reassign: status %d\n%s%s", status, out, errOut)
	}
	time.Sleep(300 * time.Millisecond)
	acked := valueSet(stop())
	if _, out, _ := runArgs("partition", "reassignments", "-bootstrap", boot); !strings.Contains(out, "no reassignment under way") {
		t.Errorf("reassignments after it ended:\n%s", out)
	}
	waitUntil(t, "the metadata to name the new replicas", func() bool {
		td, err := adm.ListTopics(ctx, "mv")
		if err != nil {
			return false
		}
		got := slices.Clone(td["mv"].Partitions[0].Replicas)
		slices.Sort(got)
		want := slices.Clone(target)
		slices.Sort(want)
		return slices.Equal(got, want) && td["mv"].Partitions[0].Leader > 0
	})
	// topic describe shows the replicas in their new assignment order (it
	// sorted them, hiding a reassignment that only reorders), with a
	// leader: the broker it asks may still be between leaders when the one
	// above already named one, so it is asked again for a while.
	described := regexp.MustCompile(`\n0 +[0-9]+ +[0-9]+ +` + strings.Join(ids, ",") + ` `)
	var desc string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, desc, _ = runArgs("topic", "describe", "mv", "-bootstrap", boot); described.MatchString(desc) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("topic describe after the reassignment to %s:\n%s", strings.Join(ids, ","), desc)
			break
		}
	}

	// Every acknowledged record is there, once.
	readBack(t, ctx, c.Bootstrap(), "mv", acked, true)
	t.Logf("%d records acknowledged during the reassignment, all read back", len(acked))
	if status, _, errOut := runArgs("partition", "reassign", "mv", "0", "-replicas", "1,9", "-bootstrap", boot); status != 1 || !strings.Contains(errOut, "INVALID_REPLICA_ASSIGNMENT") {
		t.Errorf("reassign to an unknown broker: status %d, %s", status, errOut)
	}
	if status, _, errOut := runArgs("partition", "reassign", "mv", "0", "-bootstrap", boot); status != 2 || !strings.Contains(errOut, "-replicas is required") {
		t.Errorf("reassign without -replicas: status %d, %s", status, errOut)
	}
}
