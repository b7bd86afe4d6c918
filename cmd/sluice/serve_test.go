package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	broker "sluice/node/runtime"
)

func TestParseBrokers(t *testing.T) {
	ms, err := parseBrokers("1=a:9092@a:19092, 2=b:9092@b:19092")
	if err != nil || len(ms) != 2 || ms[1].id != 2 || ms[1].kafka != "b:9092" || ms[1].raft != "b:19092" {
		t.Fatalf("parse: %+v %v", ms, err)
	}
	for _, bad := range []string{"", "1=a:9092", "x=a:1@b:2", "1=a@b:2", "1=a:1@b:2,1=c:1@d:2", "0=a:1@b:2"} {
		if _, err := parseBrokers(bad); err == nil {
			t.Errorf("parseBrokers(%q) accepted", bad)
		}
	}
}

// TestServeThreeBrokersOverTCP runs three `sluice serve` brokers (in this
// process, each with its own Kafka and raft listeners, so raft traffic
// goes over real TCP), produces with franz-go, stops and restarts a
// broker, and reads everything back.
func TestServeThreeBrokersOverTCP(t *testing.T) {
	// Ports below the ephemeral range (freeAddr): a stopped broker's
	// ports are listened on again below, and an ephemeral one could be
	// taken meanwhile by a redial or by another package's test.
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", freeAddr(t))
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	var members []member
	var kafkaLns, raftLns []net.Listener
	for i := 1; i <= 3; i++ {
		k, r := listen(), listen()
		kafkaLns, raftLns = append(kafkaLns, k), append(raftLns, r)
		members = append(members, member{id: int32(i), kafka: k.Addr().String(), raft: r.Addr().String()})
	}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	cfg := func(i int) serveConfig {
		return serveConfig{id: int32(i + 1), members: members, clusterID: "serve-test", dataDir: dirs[i], partitions: 3,
			logger: slog.New(slog.DiscardHandler)}
	}
	brokers := make([]*served, 3)
	for i := range brokers {
		s, err := startServe(cfg(i), kafkaLns[i], raftLns[i])
		if err != nil {
			t.Fatal(err)
		}
		brokers[i] = s
	}
	defer func() {
		for _, s := range brokers {
			if s != nil {
				s.stop()
			}
		}
	}()
	// A second broker on a running one's data directory (other listeners)
	// is refused: both would write the same raft logs.
	if s, err := startServe(cfg(0), listen(), listen()); !errors.Is(err, broker.ErrDataDirInUse) {
		if err == nil {
			s.stop()
		}
		t.Fatalf("a second broker on broker 1's data directory: %v, want ErrDataDirInUse", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	seeds := []string{members[0].kafka, members[1].kafka, members[2].kafka}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("served"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		_, err := adm.CreateTopic(ctx, 3, 3, nil, "served")
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	acked := map[string]bool{}
	produce := func(from, n int) {
		t.Helper()
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))})
		}
		for _, r := range cl.ProduceSync(ctx, recs...) {
			if r.Err != nil {
				t.Fatalf("produce %s: %v", r.Record.Value, r.Err)
			}
			acked[string(r.Record.Value)] = true
		}
	}
	produce(0, 500)

	// The partition's leader (a broker may not have heard of it yet and
	// answer -1, LEADER_NOT_AVAILABLE, for a moment: ask again).
	var victim int32 = -1
	for victim < 0 {
		md, err := adm.Metadata(ctx, "served")
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := md.Topics["served"].Partitions[0]; ok && p.Leader > 0 {
			victim = p.Leader - 1
		} else if ctx.Err() != nil {
			t.Fatal("partition 0 of \"served\" has no leader")
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	brokers[victim].stop()
	brokers[victim] = nil
	produce(500, 500)
	k, err := net.Listen("tcp", members[victim].kafka)
	if err != nil {
		t.Fatal(err)
	}
	r, err := net.Listen("tcp", members[victim].raft)
	if err != nil {
		t.Fatal(err)
	}
	if brokers[victim], err = startServe(cfg(int(victim)), k, r); err != nil {
		t.Fatal(err)
	}
	produce(1000, 500)

	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("served"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	seen := map[string]bool{}
	next := map[int32]int64{}
	for len(seen) < len(acked) {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after reading %d of %d: %v", len(seen), len(acked), err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next[r.Partition] {
				t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
			}
			next[r.Partition]++
			if seen[string(r.Value)] || !acked[string(r.Value)] {
				t.Fatalf("record %s read twice or never acknowledged", r.Value)
			}
			seen[string(r.Value)] = true
		})
	}
}
