package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"sluice/scenarios"
	"sluice/sim"
)

// runSim runs simulated seeds and judges every history.
func runSim(c *command, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(c, stderr)
	seed := fs.Uint64("seed", 0, "run this one seed (0: run -seeds seeds starting at -first)")
	seeds := fs.Int("seeds", 10, "number of seeds to run")
	first := fs.Uint64("first", 1, "first seed when running several")
	duration := fs.Duration("duration", 60*time.Second, "virtual length of the fault phase")
	nodes := fs.Int("nodes", 3, "brokers")
	partitions := fs.Int("partitions", 6, "partitions of the workload topic")
	members := fs.Int("members", 3, "consumers in the workload's consumer group (0: no group)")
	faults := fs.Bool("faults", true, "inject faults (crashes, partitions, pauses, loss, clogs, skew, disk errors)")
	scenario := fs.String("scenario", "kitchen-sink", "the fault schedule (list: print the catalogue)")
	viz := fs.String("viz", "", "on a linearizability violation, write porcupine's HTML view of the failing window into this directory")
	if status := parse(fs, args); status >= 0 {
		return status
	}
	if *scenario == "list" {
		listScenarios(stdout)
		return exitOK
	}
	sc, err := scenarios.Find(*scenario)
	if err != nil {
		fmt.Fprintf(stderr, "sluice sim: %v\n", err)
		return exitUsage
	}
	// The simulator allocates briskly and memory is plentiful: collecting
	// less often runs it about 30% faster.
	debug.SetGCPercent(400)
	list := []uint64{*seed}
	if *seed == 0 {
		list = list[:0]
		for i := 0; i < *seeds; i++ {
			list = append(list, *first+uint64(i))
		}
	}
	cfgLine := fmt.Sprintf("-scenario %s -duration %v -nodes %d -partitions %d -members %d -faults=%v", sc.Name, *duration, *nodes, *partitions, *members, *faults)
	failed := 0
	start := time.Now()
	for i, s := range list {
		cfg := sim.Config{Seed: s, Nodes: *nodes, Partitions: *partitions, DurationMs: duration.Milliseconds(), Faults: *faults,
			GroupMembers: max(*members, 0), Scenario: sc}
		if cfg.GroupMembers == 0 {
			cfg.GroupMembers = -1 // none
		}
		t0 := time.Now()
		w, err := sim.New(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "sluice sim: %v\n", err)
			return exitUsage
		}
		r := w.Run()
		found, res := judgeResult(r.History)
		problems := append(append([]string(nil), r.Failures...), found...)
		wall := time.Since(t0)
		fmt.Fprintf(stdout, "[%d/%d] seed %d: %d sends, %d polls, %d commits, %d crashes, %d wipes, %d partitions, %d disk faults, %.1fs virtual in %.1fs (%.0fx), trace %016x — %s\n",
			i+1, len(list), s, r.Stats.Sends, r.Stats.Polls, r.Stats.Commits, r.Stats.Crashes, r.Stats.Wipes, r.Stats.Partitions, r.Stats.DiskFaults,
			float64(r.VirtualMs)/1e3, wall.Seconds(), float64(r.VirtualMs)/1e3/wall.Seconds(), r.TraceHash, verdict(problems))
		if len(problems) > 0 {
			failed++
			banner(stdout, s, cfgLine, problems)
			if *viz != "" {
				files, err := visualize(r.History, res, *viz, s)
				for _, f := range files {
					fmt.Fprintf(stdout, "porcupine view: %s\n", f)
				}
				if err != nil {
					fmt.Fprintf(stderr, "sluice sim: visualization: %v\n", err)
				}
			}
		}
	}
	fmt.Fprintf(stdout, "%d of %d seeds failed (%v)\n", failed, len(list), time.Since(start).Round(time.Millisecond))
	if failed > 0 {
		return 1
	}
	return exitOK
}

func verdict(problems []string) string {
	if len(problems) == 0 {
		return "ok"
	}
	return fmt.Sprintf("FAILED (%d violations)", len(problems))
}

func banner(w io.Writer, seed uint64, cfgLine string, problems []string) {
	line := strings.Repeat("=", 78)
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, "VIOLATION  seed %d  (%s)\n", seed, cfgLine)
	for i, p := range problems {
		if i == 20 {
			fmt.Fprintf(w, "  ... and %d more\n", len(problems)-20)
			break
		}
		fmt.Fprintf(w, "  - %s\n", p)
	}
	fmt.Fprintf(w, "replay:  go run ./cmd/sluice sim -seed %d %s\n", seed, cfgLine)
	fmt.Fprintln(w, line)
}

// listScenarios prints the catalogue and the fault kinds.
func listScenarios(w io.Writer) {
	fmt.Fprintln(w, "scenarios (sluice sim -scenario NAME):")
	for _, s := range scenarios.All() {
		fmt.Fprintf(w, "  %-18s %s\n  %-18s %s\n", s.Name, s.Doc, "", s)
	}
	fmt.Fprintln(w, "\nfault kinds:")
	for _, f := range sim.FaultNames() {
		fmt.Fprintf(w, "  %-18s %s\n", f[0], f[1])
	}
}
