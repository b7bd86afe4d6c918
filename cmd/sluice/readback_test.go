package main

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceUntil produces fmt.Sprintf(format, i) for i from first on, one
// record at a time with cl, until the returned stop is called; stop waits
// for the producer and returns the values acknowledged.
func produceUntil(ctx context.Context, cl *kgo.Client, format string, first int) (stop func() []string) {
	var mu sync.Mutex
	var acked []string
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := first; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			v := fmt.Sprintf(format, i)
			if cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr() == nil {
				mu.Lock()
				acked = append(acked, v)
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		close(quit)
		<-done
		return acked
	}
}

// readBack reads topic from the start through seeds until every value of
// want has been read (or ctx ends), and reports each value of want never
// read; with once set, also each value read twice. It returns how many
// distinct values it read.
func readBack(t *testing.T, ctx context.Context, seeds []string, topic string, want map[string]bool, once bool) int {
	t.Helper()
	rd, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	// Read until every wanted value is in: values written but never
	// acknowledged are read too, and must not count toward the end.
	seen := map[string]bool{}
	got := 0
	for got < len(want) && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			v := string(r.Value)
			if once && seen[v] {
				t.Errorf("record %s read twice", r.Value)
			}
			if !seen[v] && want[v] {
				got++
			}
			seen[v] = true
		})
	}
	for v := range want {
		if !seen[v] {
			t.Errorf("acknowledged record %s lost", v)
		}
	}
	return len(seen)
}

// valueSet is values as a set.
func valueSet(values []string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}
