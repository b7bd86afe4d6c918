package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"sluice/bench"
)

// runBench runs `sluice bench`: a workload against one or more targets, the
// floors measured in the same run, and a report (JSON, CSV, plots, HTML).
func runBench(c *command, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(c, stderr)
	target := fs.String("target", "sluice", "comma-separated targets: sluice, kfake, jetstream (both sync settings), jetstream-default, jetstream-always, bootstrap, or all")
	bootstrap := fs.String("bootstrap", "", "HOST:PORT[,HOST:PORT...] of a Kafka cluster to benchmark (implies -target bootstrap unless -target is given)")
	workload := fs.String("workload", "max-1k-12p", "workload name (-list shows them)")
	list := fs.Bool("list", false, "list the workloads and exit")
	duration := fs.Duration("duration", 60*time.Second, "measured window per target")
	warmup := fs.Duration("warmup", 5*time.Second, "load before the measured window, not measured")
	out := fs.String("out", "", "output directory (default bench-results/WORKLOAD)")
	dataDir := fs.String("data-dir", "", "where brokers, JetStream and the disk floor write (default a temporary directory; removed after)")
	natsServer := fs.String("nats-server", "", "nats-server binary (default: PATH, then $GOPATH/bin); install: "+bench.NatsInstallHint)
	prof := fs.String("profile", "", "profile the sluice target's load phase: "+strings.Join(bench.Profiles, ", "))
	partitions := fs.Int("partitions", 0, "override the workload's partitions")
	recordBytes := fs.Int("record-bytes", 0, "override the workload's record size")
	producers := fs.Int("producers", 0, "override the workload's producers")
	consumers := fs.Int("consumers", 0, "override the workload's consumers")
	acks := fs.String("acks", "", "override the workload's acks: all or 1")
	rate := fs.Float64("rate", 0, "fixed-rate workloads: records/s in total (default: a fraction of a calibration run's max rate)")
	linger := fs.Int("linger-ms", 0, fmt.Sprintf("Kafka producers' linger.ms (default %d, as the OpenMessaging Benchmark's Kafka driver; -1: none)", bench.DefaultLingerMs))
	requests := fs.Int("requests", 0, "Kafka producers' produce requests in flight per broker (default: franz-go's idempotent producer, which allows five against Produce v4+; more than 1 turns idempotence off)")
	inflight := fs.Int("inflight", 0, fmt.Sprintf("records each producer may have unacknowledged (default %d)", bench.DefaultInflight))
	backlog := fs.Int64("backlog-bytes", 0, "catch-up workloads: override the backlog size")
	noFloors := fs.Bool("no-floors", false, "skip the disk and loopback floors")
	floorTime := fs.Duration("floor-duration", 2*time.Second, "how long each floor measurement runs")
	progress := fs.Duration("progress", 5*time.Second, "interval of progress lines")
	from := fs.String("from", "", "write the report of an earlier run from its results.json into -out (ratios recomputed), running nothing")
	if status := parse(fs, args); status >= 0 {
		return status
	}
	if *list {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "workload\tpartitions\trecord\tproducers\tconsumers\tacks\tmode")
		for _, w := range bench.Workloads {
			mode := string(w.Mode)
			if w.RateFraction > 0 {
				mode += fmt.Sprintf(" (%.0f%% of max)", 100*w.RateFraction)
			}
			if w.BacklogBytes > 0 {
				mode += fmt.Sprintf(" (%d MiB backlog)", w.BacklogBytes>>20)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d B\t%d\t%d\t%s\t%s\n", w.Name, w.Partitions, w.RecordBytes, w.Producers, w.Consumers, w.Acks, mode)
		}
		tw.Flush()
		return exitOK
	}
	if *from != "" {
		return rewriteReport(*from, *out, stdout, stderr)
	}
	w, err := bench.LookupWorkload(*workload)
	if err != nil {
		fmt.Fprintf(stderr, "sluice bench: %v\n", err)
		return exitUsage
	}
	override := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	override(&w.Partitions, *partitions)
	override(&w.RecordBytes, *recordBytes)
	override(&w.Producers, *producers)
	override(&w.Consumers, *consumers)
	w.Consumers = min(w.Consumers, w.Partitions)
	if *acks != "" {
		w.Acks = *acks
	}
	if *rate != 0 {
		w.Rate = *rate
	}
	if *linger != 0 {
		w.LingerMs = *linger
	}
	if *requests != 0 {
		w.Requests = *requests
	}
	if *inflight != 0 {
		w.Inflight = *inflight
	}
	if *backlog != 0 {
		w.BacklogBytes = *backlog
	}
	targetSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "target" {
			targetSet = true
		}
	})
	tlist := *target
	if *bootstrap != "" && !targetSet {
		tlist = bench.TargetBootstrap
	}
	targets, err := bench.ParseTargets(tlist)
	if err != nil {
		fmt.Fprintf(stderr, "sluice bench: %v\n", err)
		return exitUsage
	}
	if *out == "" {
		*out = filepath.Join("bench-results", w.Name)
	}
	opts := bench.Options{Targets: targets, Workload: w, Duration: *duration, Warmup: *warmup, DataDir: *dataDir,
		NatsServer: *natsServer, Profile: *prof, ProfileDir: *out, NoFloors: *noFloors,
		Floors: bench.FloorOptions{PerSize: *floorTime, RTT: *floorTime}, Progress: stdout, ProgressEvery: *progress}
	if *bootstrap != "" {
		opts.Bootstrap = strings.Split(*bootstrap, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "sluice bench: %v\n", err)
		return 1
	}
	if len(res.Targets) == 0 {
		// Nothing measured: an earlier run's report in out stays.
		printSummary(stdout, res)
		fmt.Fprintf(stderr, "sluice bench: no target ran; nothing written to %s\n", *out)
		return 1
	}
	if err := bench.WriteReport(*out, res); err != nil {
		fmt.Fprintf(stderr, "sluice bench: %v\n", err)
		return 1
	}
	printSummary(stdout, res)
	fmt.Fprintf(stdout, "report: %s\n", filepath.Join(*out, bench.FileHTML))
	for _, s := range res.Skipped {
		if s.Failed {
			fmt.Fprintf(stderr, "sluice bench: target %s failed\n", s.Target)
			return 1
		}
	}
	return exitOK
}

func printSummary(w io.Writer, res *bench.Results) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trecords/s\tMB/s\tack p50 ms\tack p99 ms\te2e p50 ms\te2e p99 ms\tacked\tconsumed\terrors\t")
	for _, t := range res.Targets {
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t\n", t.Target, t.RecordsPerS, t.MBPerS,
			t.Ack.P50Ms, t.Ack.P99Ms, t.E2E.P50Ms, t.E2E.P99Ms, t.Acked, t.Consumed, t.AckErrors)
	}
	tw.Flush()
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", s.Target, s.Reason)
	}
	if len(res.Checks) > 0 {
		fmt.Fprintln(w)
	}
	for _, c := range res.Checks {
		verdict := "context"
		if c.Goal != "" {
			verdict = "goal " + c.Goal + ": MISSED"
			if c.Met {
				verdict = "goal " + c.Goal + ": met"
			}
		}
		fmt.Fprintf(w, "%-62s %6.2f×  %-22s %s\n", c.Name, c.Value, verdict, c.Detail)
	}
}

// rewriteReport writes the report of the results in file into out.
func rewriteReport(file, out string, stdout, stderr io.Writer) int {
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "sluice bench: %v\n", err)
		return 1
	}
	var res bench.Results
	if err := json.Unmarshal(b, &res); err != nil {
		fmt.Fprintf(stderr, "sluice bench: %s: %v\n", file, err)
		return 1
	}
	if out == "" {
		out = filepath.Dir(file)
	}
	res.Recheck()
	if err := bench.WriteReport(out, &res); err != nil {
		fmt.Fprintf(stderr, "sluice bench: %v\n", err)
		return 1
	}
	printSummary(stdout, &res)
	fmt.Fprintf(stdout, "report: %s\n", filepath.Join(out, bench.FileHTML))
	return exitOK
}
