package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"sluice/checker"
	"sluice/reports"
	"sluice/scenarios"
	"sluice/sim"
)

// simOpts are sluice sim's flags, parsed.
type simOpts struct {
	fs                         *flag.FlagSet
	seed, first                uint64
	seeds                      int
	duration                   time.Duration
	nodes, partitions, members int
	faults, swarm              bool
	scenario, viz, report      string
}

func simFlags(c *command, stderr io.Writer) *simOpts {
	o := &simOpts{fs: newFlagSet(c, stderr)}
	fs := o.fs
	fs.Uint64Var(&o.seed, "seed", 0, "run this one seed (0: run -seeds seeds starting at -first)")
	fs.IntVar(&o.seeds, "seeds", 10, "number of seeds to run (per scenario)")
	fs.Uint64Var(&o.first, "first", 1, "first seed when running several")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "virtual length of the fault phase")
	fs.IntVar(&o.nodes, "nodes", 0, "brokers (0: the scenario's number, else 3)")
	fs.IntVar(&o.partitions, "partitions", 0, "partitions of the workload topic (0: the scenario's number, else 6)")
	fs.IntVar(&o.members, "members", 3, "consumers in the workload's consumer group (0: no group)")
	fs.BoolVar(&o.faults, "faults", true, "inject faults (crashes, partitions, pauses, loss, clogs, skew, disk errors)")
	fs.BoolVar(&o.swarm, "swarm", false, "swarm testing: each seed also picks which of the scenario's faults run, at which rates, and perturbs ordinary configuration (printed with the run)")
	fs.StringVar(&o.scenario, "scenario", "kitchen-sink", "the fault schedule: a name, several separated by commas, all (every scenario), or list (print the catalogue)")
	fs.StringVar(&o.viz, "viz", "", "on a linearizability violation, write porcupine's HTML view of the failing window into this directory")
	fs.StringVar(&o.report, "report", "", "write an HTML report per run (summary, configuration, fault timeline, throughput and latency plots, porcupine's view of a violation) and an index into this directory")
	return o
}

// runSim runs simulated seeds of one or more scenarios and judges every
// history. A failing seed's banner, with the command that replays it, is
// what it prints last.
func runSim(c *command, args []string, stdout, stderr io.Writer) int {
	o := simFlags(c, stderr)
	if status := parse(o.fs, args); status >= 0 {
		return status
	}
	if o.scenario == "list" {
		listScenarios(stdout)
		return exitOK
	}
	scs, err := pickScenarios(o.scenario)
	if err != nil {
		fmt.Fprintf(stderr, "sluice sim: %v\n", err)
		return exitUsage
	}
	if o.seed == 0 && o.seeds < 1 {
		fmt.Fprintf(stderr, "sluice sim: -seeds %d: need at least one seed\n", o.seeds)
		return exitUsage
	}
	// The simulator allocates briskly and memory is plentiful: collecting
	// less often runs it about 30% faster.
	debug.SetGCPercent(400)
	s := &simSession{o: o, scenarios: scs, stdout: stdout, stderr: stderr, seeds: o.seedList(),
		command: strings.TrimSpace("sluice sim " + strings.Join(args, " "))}
	return s.run()
}

// pickScenarios resolves -scenario: a name, a comma-separated list, or all.
// Every name is checked before anything runs.
func pickScenarios(arg string) ([]sim.Scenario, error) {
	if arg == "all" {
		return scenarios.All(), validate(scenarios.All())
	}
	var out []sim.Scenario
	for name := range strings.SplitSeq(arg, ",") {
		sc, err := scenarios.Find(strings.TrimSpace(name))
		if err != nil {
			return nil, fmt.Errorf("-scenario %s: %v (or all, or list)", arg, err)
		}
		out = append(out, sc)
	}
	return out, validate(out)
}

// validate checks every scenario names existing fault kinds, so that a
// broken one stops the run before any seed runs.
func validate(scs []sim.Scenario) error {
	for _, sc := range scs {
		if err := sc.Validate(); err != nil {
			return err
		}
	}
	return nil
}

func (o *simOpts) seedList() []uint64 {
	if o.seed != 0 {
		return []uint64{o.seed}
	}
	list := make([]uint64, o.seeds)
	for i := range list {
		list[i] = o.first + uint64(i)
	}
	return list
}

func (o *simOpts) config(sc sim.Scenario, seed uint64) sim.Config {
	cfg := sim.Config{Seed: seed, Nodes: o.nodes, Partitions: o.partitions, DurationMs: o.duration.Milliseconds(),
		Faults: o.faults, GroupMembers: max(o.members, 0), Scenario: sc, Swarm: o.swarm}
	if cfg.GroupMembers == 0 {
		cfg.GroupMembers = -1 // none
	}
	return cfg
}

// replay is the command line that reproduces one seed of sc exactly.
func (o *simOpts) replay(sc string, seed uint64) string {
	cmd := fmt.Sprintf("go run ./cmd/sluice sim -scenario %s -seed %d -duration %v", sc, seed, o.duration)
	// 0 lets the scenario choose, and it chooses the same again.
	if o.nodes != 0 {
		cmd += fmt.Sprintf(" -nodes %d", o.nodes)
	}
	if o.partitions != 0 {
		cmd += fmt.Sprintf(" -partitions %d", o.partitions)
	}
	cmd += fmt.Sprintf(" -members %d -faults=%v", o.members, o.faults)
	if o.swarm {
		cmd += " -swarm"
	}
	return cmd
}

// simSession is one sluice sim invocation: every seed of every scenario.
type simSession struct {
	o         *simOpts
	scenarios []sim.Scenario
	seeds     []uint64
	command   string
	stdout    io.Writer
	stderr    io.Writer

	ui       *progress
	rows     []*scenarioRow
	failures []failure
	entries  []reports.Entry
	// reportErr: the report could not be written; the run still goes on.
	reportErr bool
}

// failure is a failing seed, for its banner.
type failure struct {
	sc       sim.Scenario
	seed     uint64
	problems []string
	swarm    []string
	files    []string // the report's page, porcupine views
}

func (s *simSession) run() int {
	total := len(s.scenarios) * len(s.seeds)
	s.ui = newProgress(s.stdout, total)
	start := time.Now()
	for i, sc := range s.scenarios {
		row := &scenarioRow{name: sc.Name}
		s.rows = append(s.rows, row)
		for j, seed := range s.seeds {
			if status := s.runSeed(sc, seed, row, i*len(s.seeds)+j+1, total); status >= 0 {
				s.ui.finish()
				return status
			}
		}
		if len(s.scenarios) > 1 {
			s.ui.printf("[%d/%d] %s: %d seeds, %d failed, %.1fs virtual in %.1fs", i+1, len(s.scenarios), sc.Name,
				row.seeds, len(row.failing), float64(row.virtualMs)/1e3, row.wall.Seconds())
		}
	}
	s.ui.finish()
	return s.summarize(time.Since(start))
}

// summarize prints the summary table, where the report is, how many seeds
// failed and, last, the failing seeds' banners; it returns the exit status.
func (s *simSession) summarize(elapsed time.Duration) int {
	fmt.Fprintln(s.stdout)
	printTable(s.stdout, s.rows)
	if s.o.report != "" {
		s.writeIndex(false)
		fmt.Fprintf(s.stdout, "report: %s\n", filepath.Join(s.o.report, reports.FilePage))
	}
	seeds := 0
	for _, r := range s.rows {
		seeds += r.seeds
	}
	fmt.Fprintf(s.stdout, "%d of %d seeds failed (%v)\n", len(s.failures), seeds, elapsed.Round(time.Millisecond))
	s.banners()
	if len(s.failures) > 0 || s.reportErr {
		return 1
	}
	return exitOK
}

// runSeed runs and judges one seed; it returns an exit status to stop
// with, or -1 to go on.
func (s *simSession) runSeed(sc sim.Scenario, seed uint64, row *scenarioRow, n, total int) int {
	cfg := s.o.config(sc, seed)
	cfg.Progress = s.ui.tick
	w, err := sim.New(cfg)
	if err != nil {
		fmt.Fprintf(s.stderr, "sluice sim: %v\n", err)
		return exitUsage
	}
	s.ui.begin(sc.Name, seed)
	t0 := time.Now()
	r := w.Run()
	found, res := judgeResult(r.History)
	problems := append(append([]string(nil), r.Failures...), found...)
	wall := time.Since(t0)
	row.seeds++
	row.violations += len(problems)
	row.virtualMs += r.VirtualMs
	row.wall += wall
	s.ui.end(len(problems) > 0)
	if len(s.scenarios) == 1 {
		s.ui.printf("[%d/%d] seed %d: %d sends, %d polls, %d commits, %d crashes, %d wipes, %d partitions, %d disk faults, %.1fs virtual in %.1fs (%.0fx), trace %016x — %s",
			n, total, seed, r.Stats.Sends, r.Stats.Polls, r.Stats.Commits, r.Stats.Crashes, r.Stats.Wipes, r.Stats.Partitions, r.Stats.DiskFaults,
			float64(r.VirtualMs)/1e3, wall.Seconds(), float64(r.VirtualMs)/1e3/wall.Seconds(), r.TraceHash, verdict(problems))
	} else if len(problems) > 0 {
		s.ui.printf("%s seed %d: %s", sc.Name, seed, verdict(problems))
	}
	var files []string
	if s.o.report != "" {
		files = s.writeReport(sc, r, problems, res, wall, n < total)
	}
	if len(problems) > 0 {
		row.failing = append(row.failing, seed)
		if s.o.viz != "" {
			views, err := visualize(r.History, res, s.o.viz, fmt.Sprintf("%s-seed-%d", sc.Name, seed))
			files = append(files, views...)
			if err != nil {
				fmt.Fprintf(s.stderr, "sluice sim: visualization of %s seed %d: %v\n", sc.Name, seed, err)
			}
		}
		s.failures = append(s.failures, failure{sc: sc, seed: seed, problems: problems, swarm: r.Swarm, files: files})
	}
	return -1
}

// writeReport writes the run's report page and rewrites the index; it
// returns the page written.
func (s *simSession) writeReport(sc sim.Scenario, r sim.Result, problems []string, res checker.Result, wall time.Duration, more bool) []string {
	rr := reportRun(s.o.fs, sc, r, problems, res, wall, s.o.replay(sc.Name, r.Seed))
	e, err := reports.WriteRun(s.o.report, rr)
	if err != nil {
		fmt.Fprintf(s.stderr, "sluice sim: report of %s seed %d: %v\n", sc.Name, r.Seed, err)
		s.reportErr = true
		return nil
	}
	s.entries = append(s.entries, e)
	s.writeIndex(more)
	return []string{filepath.Join(s.o.report, filepath.FromSlash(e.Page))}
}

func (s *simSession) writeIndex(running bool) {
	if err := reports.WriteIndex(s.o.report, reports.Index{Command: s.command, Runs: s.entries, Running: running}); err != nil {
		fmt.Fprintf(s.stderr, "sluice sim: report index: %v\n", err)
		s.reportErr = true
	}
}

func verdict(problems []string) string {
	if len(problems) == 0 {
		return "ok"
	}
	return fmt.Sprintf("FAILED (%d violations)", len(problems))
}

// maxBanners bounds the banners printed at the end; the table lists every
// failing seed.
const maxBanners = 3

// banners prints a banner for the first failing seeds, so that the last
// lines of the output (of a CI log) are a failing seed's banner.
func (s *simSession) banners() {
	if len(s.failures) > maxBanners {
		fmt.Fprintf(s.stdout, "banners of the first %d of %d failing seeds follow (the table lists every one)\n", maxBanners, len(s.failures))
	}
	shown := s.failures[:min(len(s.failures), maxBanners)]
	for _, f := range shown {
		banner(s.stdout, f, s.o.replay(f.sc.Name, f.seed), max(20/len(shown), 5))
	}
}

// banner prints a failing seed: its scenario, swarm choices, the first
// maxProblems problems, the files written about it and, last, the command
// that replays it.
func banner(w io.Writer, f failure, replay string, maxProblems int) {
	line := strings.Repeat("=", 78)
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, "VIOLATION  scenario %s  seed %d\n", f.sc.Name, f.seed)
	fmt.Fprintf(w, "scenario: %s\n", f.sc)
	for _, sw := range f.swarm {
		fmt.Fprintf(w, "swarm:    %s\n", sw)
	}
	for i, p := range f.problems {
		if i == maxProblems {
			fmt.Fprintf(w, "  ... and %d more\n", len(f.problems)-maxProblems)
			break
		}
		fmt.Fprintf(w, "  - %s\n", p)
	}
	for _, file := range f.files {
		fmt.Fprintf(w, "see:      %s\n", file)
	}
	fmt.Fprintf(w, "replay:   %s\n", replay)
	fmt.Fprintln(w, line)
}

// listScenarios prints the catalogue and the fault kinds.
func listScenarios(w io.Writer) {
	fmt.Fprintln(w, "scenarios (sluice sim -scenario NAME, several as A,B, or all):")
	for _, s := range scenarios.All() {
		fmt.Fprintf(w, "  %-20s %s\n  %-20s %s\n", s.Name, s.Doc, "", s)
	}
	fmt.Fprintln(w, "\nfault kinds:")
	for _, f := range sim.FaultNames() {
		fmt.Fprintf(w, "  %-20s %s\n", f[0], f[1])
	}
}
