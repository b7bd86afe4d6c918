package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice/reports"
	"sluice/sim"
)

// A short measurement: every table has every row, with every seed; the
// counts are the history's (a seed run again and counted directly agrees);
// acks=all with sync before ack loses no acknowledged record under leader
// failover or whole-cluster power loss; and the files are written.
func TestTradeoffsShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulator")
	}
	o := tradeoffOpts{out: t.TempDir(), seeds: 2, first: 1, duration: 3 * time.Second, budget: 2 * time.Minute}
	var progress bytes.Buffer
	tables, err := measureTradeoffs(o, &progress)
	if err != nil {
		t.Fatal(err)
	}
	cells := tradeoffCells()
	wantRows := map[string]int{}
	for _, c := range cells {
		wantRows[c.table] += len(c.acks)
	}
	if len(tables) != len(tradeoffTables()) {
		t.Fatalf("%d tables, want %d", len(tables), len(tradeoffTables()))
	}
	for _, tb := range tables {
		if len(tb.Rows) != wantRows[tb.Key] || len(tb.Rows) == 0 {
			t.Fatalf("table %s: %d rows, want %d", tb.Key, len(tb.Rows), wantRows[tb.Key])
		}
		for _, r := range tb.Rows {
			if len(r.Seeds) != o.seeds {
				t.Fatalf("table %s row %s acks=%s: %d seeds, want %d", tb.Key, r.Config, r.Acks, len(r.Seeds), o.seeds)
			}
			for _, sd := range r.Seeds {
				if sd.Stalled || sd.Sent == 0 {
					t.Errorf("table %s row %s acks=%s seed %d: stalled %v, %d sent", tb.Key, r.Config, r.Acks, sd.Seed, sd.Stalled, sd.Sent)
				}
				if sd.Acked > sd.Sent || sd.Lost > sd.Sent-sd.Refused || sd.LostAcked > sd.Lost || len(sd.LatenciesMs) != sd.Acked {
					t.Errorf("table %s row %s acks=%s seed %d: inconsistent counts %+v", tb.Key, r.Config, r.Acks, sd.Seed, sd)
				}
			}
			syncedAll := r.Acks == "all" && (tb.Key == "failover" || r.Config == "flush always")
			if s := r.Stats(); syncedAll && (s.LostPerKAcked != 0 || s.Acked == 0) {
				t.Errorf("table %s row %s acks=all, sync before ack: %.2f acknowledged records lost per 1,000 (%d acked)", tb.Key, r.Config, s.LostPerKAcked, s.Acked)
			}
		}
	}
	// The failover table's first seed, counted directly from a fresh run.
	cfg := cells[0].cfg
	cfg.Seed, cfg.DurationMs = 1, o.duration.Milliseconds()
	res := sim.MustNew(cfg).Run()
	for i, a := range cells[0].acks {
		sent, acked := 0, 0
		for _, s := range res.History.Sends {
			if s.Acks == a {
				sent++
				if s.Outcome == sim.OK {
					acked++
				}
			}
		}
		got := tables[0].Rows[i].Seeds[0]
		if got.Sent != sent || got.Acked != acked || sent == 0 {
			t.Errorf("failover acks=%d seed 1: table says %d sent %d acked, the history %d and %d", a, got.Sent, got.Acked, sent, acked)
		}
	}
	if !strings.Contains(progress.String(), "[1/") {
		t.Errorf("no progress lines: %q", progress.String())
	}
	meta := reports.TradeoffMeta{Command: "test", Seeds: o.seeds, DurationMs: o.duration.Milliseconds(), Wall: "1s"}
	if err := reports.WriteTradeoffs(o.out, meta, tables); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(o.out, "tradeoffs.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if c.config != "" && !strings.Contains(string(md), "| "+c.config+" |") {
			t.Errorf("tradeoffs.md has no row for %s", c.config)
		}
	}
	for _, f := range []string{"tradeoffs.csv", "index.html", "loss-failover.png", "latency-replication.png"} {
		if fi, err := os.Stat(filepath.Join(o.out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
