package main

// sluice tradeoffs: issue 10's trade-off tables. Each table is a question
// users ask when they configure a topic — which acks, which flush policy,
// which replication factor and min.insync.replicas — answered by running
// the simulator on several seeds per configuration and counting what the
// histories show (sim.MeasureHistory): records lost per 1,000 sent and per
// 1,000 acknowledged, records refused or timed out, ack latency. These runs
// measure; they do not fail: a configuration that lawfully loses records
// is counted, and what the simulator itself flags (liveness, replicas that
// diverged after a relaxed flush policy lost committed entries, a raft
// panic) is counted as "sim failures". The checker does not judge them.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"sluice/reports"
	"sluice/sim"
)

// tradeoffCell is one simulated configuration; each acks level it reports
// is a row of its table.
type tradeoffCell struct {
	table  string
	config string
	acks   []int16
	keeps  func(acks int16) string
	cfg    sim.Config // Seed and DurationMs are set per run
}

// tradeoffTableDef is a table's text and its cells, in row order.
type tradeoffTableDef struct {
	key, title, setup string
	availability      bool
}

// Fault schedules of the tables, built here (not in the catalogue): they
// exist to measure, not to find bugs.
var (
	failoverScenario = sim.Scenario{Name: "leader-failover",
		Doc:    "leaders crash (power loss or process crash) or are isolated on a minority: partitions fail over",
		Faults: []sim.Weighted{{Fault: "crash", Weight: 1}, {Fault: "isolate", Weight: 1}}}
	powerLossScenario = sim.Scenario{Name: "power-loss",
		Doc:     "every broker loses power at once (one draw in three, every 2-6 s)",
		Faults:  []sim.Weighted{{Fault: "blackout", Weight: 1}},
		EveryMs: [2]int64{2000, 6000}}
	lostDiskScenario = sim.Scenario{Name: "crashes-and-lost-disks",
		Doc:    "brokers crash and lose their disks (a minority of five at a time)",
		Faults: []sim.Weighted{{Fault: "crash", Weight: 2}, {Fault: "wipe", Weight: 1}}}
)

// Relaxed flush policy of the power-loss table: sync every second, or
// every 100,000 entries (in practice: every second).
const (
	relaxedFlushMs       = 1000
	relaxedFlushMessages = 100_000
)

func tradeoffTables() []tradeoffTableDef {
	return []tradeoffTableDef{
		{key: "failover", title: "Leader failover: acks",
			setup: "3 brokers, 6 partitions, RF 3, min.insync.replicas 2, sync before ack; faults: " + failoverScenario.String() +
				". Idempotent producers use acks=all; acks=1 and acks=0 producers are not idempotent and do not retry."},
		{key: "power-loss", title: "Whole-cluster power loss: flush policy",
			setup: fmt.Sprintf("3 brokers, 6 partitions, RF 3, min.insync.replicas 2; faults: %s. Flush always: sync before ack (flush.messages 1, sluice's default). "+
				"Flush interval: flush.ms %d, flush.messages %d (acknowledged once written, synced every second).", powerLossScenario.String(), relaxedFlushMs, relaxedFlushMessages)},
		{key: "replication", title: "Durability vs availability: replication factor and min.insync.replicas", availability: true,
			setup: "5 brokers, 6 partitions, acks=all (idempotent producers), sync before ack; faults: " + lostDiskScenario.String() +
				". Unavailable: records refused or never acknowledged, of those sent."},
	}
}

func keepsAcks(a int16) string {
	switch a {
	case 0:
		return "nothing: no acknowledgement, and the simulated producer keeps sending to a deposed leader (it refreshes metadata only on errors, which acks=0 never returns)"
	case 1:
		return "records on the leader's disk; those not yet replicated are lost when it fails over"
	}
	return "every acknowledged record (committed on a synced quorum)"
}

func tradeoffCells() []tradeoffCell {
	all := []int16{0, 1, -1}
	base := sim.Config{Nodes: 3, Partitions: 6, RF: 3, Producers: 3, LooseProducers: 4, GroupMembers: -1, Faults: true, LivenessMs: 10_000}
	var cells []tradeoffCell
	c := base
	c.Scenario = failoverScenario
	cells = append(cells, tradeoffCell{table: "failover", acks: all, keeps: keepsAcks, cfg: c})

	c = base
	c.Scenario = powerLossScenario
	cells = append(cells, tradeoffCell{table: "power-loss", config: "flush always", acks: all, keeps: keepsAcks, cfg: c})
	c.FlushMs, c.FlushMessages = relaxedFlushMs, relaxedFlushMessages
	cells = append(cells, tradeoffCell{table: "power-loss", config: "flush interval", acks: all, cfg: c,
		keeps: func(a int16) string {
			if a == 0 {
				return keepsAcks(0)
			}
			return "only records synced before the power loss (up to flush.ms of acknowledged records lost)"
		}})

	for _, rm := range []struct {
		rf, mis int
		keeps   string
	}{
		{1, 1, "nothing once the one disk is lost"},
		{3, 1, "acknowledged records while a majority keeps its disks (raft commits on a quorum: below it, min.insync.replicas changes nothing)"},
		{3, 2, "acknowledged records while a majority keeps its disks"},
		{3, 3, "acknowledged records while any one replica keeps its disk; refuses writes when one replica is out"},
		{5, 3, "acknowledged records while three replicas keep their disks"},
		{5, 5, "acknowledged records while any one replica keeps its disk; refuses writes when one replica is out"},
	} {
		c := base
		c.Nodes, c.RF, c.MinInsyncReplicas = 5, rm.rf, rm.mis
		c.LooseProducers = 0
		c.Scenario = lostDiskScenario
		keeps := rm.keeps
		cells = append(cells, tradeoffCell{table: "replication", config: fmt.Sprintf("RF %d, min.insync %d", rm.rf, rm.mis),
			acks: []int16{-1}, keeps: func(int16) string { return keeps }, cfg: c})
	}
	return cells
}

func acksName(a int16) string {
	if a == -1 {
		return "all"
	}
	return fmt.Sprint(a)
}

// errSeedBudget stops a seed that used up its wall-clock budget.
var errSeedBudget = errors.New("sluice tradeoffs: the seed used up its wall-clock budget")

type tradeoffOpts struct {
	out      string
	seeds    int
	first    uint64
	duration time.Duration
	budget   time.Duration
	only     string
}

func runTradeoffs(c *command, args []string, stdout, stderr io.Writer) int {
	o := tradeoffOpts{}
	fs := newFlagSet(c, stderr)
	fs.StringVar(&o.out, "out", "", "write tradeoffs.md, tradeoffs.csv, index.html and the plots into this directory (required)")
	fs.IntVar(&o.seeds, "seeds", 5, "seeds per configuration")
	fs.Uint64Var(&o.first, "first", 1, "first seed")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "virtual length of each run's fault phase")
	fs.DurationVar(&o.budget, "budget", 3*time.Minute, "wall-clock budget per seed: a seed that exceeds it (a relaxed flush policy after a whole-cluster power loss can leave raft retrying forever) is reported as stalled and left out of the statistics")
	fs.StringVar(&o.only, "tables", "", "comma-separated table keys to run (failover, power-loss, replication; empty: all)")
	if status := parse(fs, args); status >= 0 {
		return status
	}
	if o.out == "" || o.seeds < 1 {
		fmt.Fprintln(stderr, "sluice tradeoffs: need -out DIR and -seeds ≥ 1")
		return exitUsage
	}
	debug.SetGCPercent(400) // as sluice sim: the simulator allocates briskly
	start := time.Now()
	tables, err := measureTradeoffs(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sluice tradeoffs: %v\n", err)
		return 1
	}
	meta := reports.TradeoffMeta{Command: "sluice tradeoffs " + strings.Join(args, " "), Seeds: o.seeds,
		DurationMs: o.duration.Milliseconds(), Wall: time.Since(start).Round(time.Second).String()}
	if err := reports.WriteTradeoffs(o.out, meta, tables); err != nil {
		fmt.Fprintf(stderr, "sluice tradeoffs: %v\n", err)
		return 1
	}
	if err := reports.TradeoffMarkdown(stdout, meta, tables); err != nil {
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s (%s)\n", filepath.Join(o.out, "index.html"), meta.Wall)
	return exitOK
}

// measureTradeoffs runs every cell's seeds and fills the tables.
func measureTradeoffs(o tradeoffOpts, stderr io.Writer) ([]reports.TradeoffTable, error) {
	var want []string
	if o.only != "" {
		want = strings.Split(o.only, ",")
	}
	pick := func(key string) bool {
		if len(want) == 0 {
			return true
		}
		for _, w := range want {
			if strings.TrimSpace(w) == key {
				return true
			}
		}
		return false
	}
	var tables []reports.TradeoffTable
	var cells []tradeoffCell
	for _, d := range tradeoffTables() {
		if pick(d.key) {
			tables = append(tables, reports.TradeoffTable{Key: d.key, Title: d.title, Setup: d.setup, Availability: d.availability})
		}
	}
	for _, c := range tradeoffCells() {
		if pick(c.table) {
			cells = append(cells, c)
		}
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("-tables %q: no such table (failover, power-loss, replication)", o.only)
	}
	ui := newTradeoffProgress(stderr, len(cells)*o.seeds)
	for _, cell := range cells {
		rows := make([]reports.TradeoffRow, len(cell.acks))
		for i, a := range cell.acks {
			rows[i] = reports.TradeoffRow{Config: cell.config, Acks: acksName(a), Keeps: cell.keeps(a)}
		}
		for k := range o.seeds {
			seed := o.first + uint64(k)
			cfg := cell.cfg
			cfg.Seed, cfg.DurationMs = seed, o.duration.Milliseconds()
			label := cell.table
			if cell.config != "" {
				label += " / " + cell.config
			}
			seeds, err := runTradeoffSeed(cfg, o.budget, ui, label, cell.acks)
			if err != nil {
				return nil, err
			}
			for i := range rows {
				rows[i].Seeds = append(rows[i].Seeds, seeds[i])
			}
		}
		for i := range tables {
			if tables[i].Key == cell.table {
				tables[i].Rows = append(tables[i].Rows, rows...)
			}
		}
	}
	ui.done()
	return tables, nil
}

// runTradeoffSeed runs one seed of a cell and counts its history per acks
// level (in the order of acks).
func runTradeoffSeed(cfg sim.Config, budget time.Duration, ui *tradeoffProgress, label string, acks []int16) ([]reports.TradeoffSeed, error) {
	began := time.Now()
	stalled := false
	cfg.Progress = func(nowMs int64) {
		ui.tick(label, cfg.Seed, nowMs)
		if time.Since(began) > budget {
			stalled = true
			panic(errSeedBudget)
		}
	}
	w, err := sim.New(cfg)
	if err != nil {
		return nil, err
	}
	res := w.Run()
	m := sim.MeasureHistory(res.History, res.Config.Partitions)
	out := make([]reports.TradeoffSeed, len(acks))
	for i, a := range acks {
		am := m.Level(a)
		sd := reports.TradeoffSeed{Seed: cfg.Seed, Sent: am.Sent, Acked: am.Acked, Refused: am.Refused, Unknown: am.Unknown,
			Lost: am.Lost, LostAcked: am.LostAcked, Failures: len(res.Failures), Stalled: stalled}
		for _, ns := range am.LatenciesNs {
			sd.LatenciesMs = append(sd.LatenciesMs, float64(ns)/1e6)
		}
		out[i] = sd
	}
	ui.seedDone(label, cfg.Seed, res, m, stalled, time.Since(began))
	return out, nil
}

// tradeoffProgress prints a line per seed, and on a terminal a status line
// with the running seed's virtual time.
type tradeoffProgress struct {
	w        io.Writer
	tty      bool
	total    int
	finished int
	start    time.Time
	drawn    time.Time
}

func newTradeoffProgress(w io.Writer, total int) *tradeoffProgress {
	tty := false
	if f, ok := w.(*os.File); ok && os.Getenv("TERM") != "dumb" {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &tradeoffProgress{w: w, tty: tty, total: total, start: time.Now()}
}

func (p *tradeoffProgress) tick(label string, seed uint64, nowMs int64) {
	if !p.tty || time.Since(p.drawn) < 200*time.Millisecond {
		return
	}
	p.drawn = time.Now()
	fmt.Fprintf(p.w, "\r\033[K[%d/%d] %s seed %d at %ds virtual · %s", p.finished+1, p.total, label, seed, nowMs/1000,
		time.Since(p.start).Round(time.Second))
}

func (p *tradeoffProgress) seedDone(label string, seed uint64, res sim.Result, m sim.Measure, stalled bool, wall time.Duration) {
	p.finished++
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	var parts []string
	for _, am := range m.ByAcks {
		if am.Sent > 0 {
			parts = append(parts, fmt.Sprintf("acks=%s %d sent %d acked %d lost (%d acked)", acksName(am.Acks), am.Sent, am.Acked, am.Lost, am.LostAcked))
		}
	}
	state := ""
	if stalled {
		state = " STALLED (budget used up; left out)"
	}
	left := ""
	if p.finished < p.total {
		el := time.Since(p.start)
		left = fmt.Sprintf(", ~%s left", (el / time.Duration(p.finished) * time.Duration(p.total-p.finished)).Round(time.Second))
	}
	fmt.Fprintf(p.w, "[%d/%d] %s seed %d: %s; %d sim failures; %.0fs virtual in %.1fs%s%s\n", p.finished, p.total, label, seed,
		strings.Join(parts, ", "), len(res.Failures), float64(res.VirtualMs)/1e3, wall.Seconds(), state, left)
}

func (p *tradeoffProgress) done() {
	fmt.Fprintf(p.w, "%d seeds in %s\n", p.total, time.Since(p.start).Round(time.Second))
}
