package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sluice/bench"
)

// TestBenchCommand runs `sluice bench` briefly against kfake (the bench
// package's tests run sluice too) and checks the report it leaves.
func TestBenchCommand(t *testing.T) {
	out := t.TempDir()
	status, stdout, stderr := runArgs("bench", "-target", "kfake", "-duration", "1s", "-warmup", "0",
		"-partitions", "2", "-record-bytes", "200", "-producers", "1", "-consumers", "1", "-inflight", "256",
		"-floor-duration", "100ms", "-progress", "500ms", "-data-dir", t.TempDir(), "-out", out)
	if status != exitOK {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	for _, want := range []string{"floor: write+fdatasync", "floor: loopback TCP RTT", "kfake: done:", "report: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, bench.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	var res bench.Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Targets) != 1 || res.Workload.Partitions != 2 || res.Workload.RecordBytes != 200 {
		t.Fatalf("results: %+v", res)
	}
	for _, tr := range res.Targets {
		if tr.Acked == 0 || tr.Consumed != tr.Acked || tr.AckErrors != 0 {
			t.Errorf("%s: acked %d, consumed %d, errors %d", tr.Target, tr.Acked, tr.Consumed, tr.AckErrors)
		}
	}
	html, err := os.ReadFile(filepath.Join(out, bench.FileHTML))
	if err != nil {
		t.Fatal(err)
	}
	for _, png := range []string{bench.FileThroughput, bench.FileLatency, bench.FileRatios} {
		if !strings.Contains(string(html), png) {
			t.Errorf("index.html does not show %s", png)
		}
		if _, err := os.Stat(filepath.Join(out, png)); err != nil {
			t.Error(err)
		}
	}
}

func TestBenchCommandErrors(t *testing.T) {
	if status, _, errOut := runArgs("bench", "-workload", "nope"); status != exitUsage || !strings.Contains(errOut, "max-1k-12p") {
		t.Errorf("unknown workload: status %d, stderr %q", status, errOut)
	}
	if status, _, errOut := runArgs("bench", "-target", "redis"); status != exitUsage || !strings.Contains(errOut, "unknown target") {
		t.Errorf("unknown target: status %d, stderr %q", status, errOut)
	}
	if status, out, _ := runArgs("bench", "-list"); status != exitOK || !strings.Contains(out, "max-1k-1000p") {
		t.Errorf("-list: status %d, output %q", status, out)
	}
	// A JetStream target without nats-server is skipped, saying how to
	// install it. With no target run the command fails and writes nothing.
	out := t.TempDir()
	status, stdout, stderr := runArgs("bench", "-target", "jetstream-always", "-nats-server", filepath.Join(out, "none"),
		"-duration", "1s", "-no-floors", "-out", out)
	if status != 1 || !strings.Contains(stdout, "skipped jetstream-always") || !strings.Contains(stderr, "no target ran") {
		t.Errorf("missing nats-server: status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, bench.FileJSON)); err == nil {
		t.Error("a run with no target wrote a report")
	}
	// A cluster that cannot be reached fails the run (found by a README
	// walkthrough: it exited 0 and replaced an earlier run's report).
	earlier := filepath.Join(out, bench.FileJSON)
	if err := os.WriteFile(earlier, []byte(`{"earlier":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr = runArgs("bench", "-bootstrap", freeAddr(t), "-workload", "max-1k-12p",
		"-duration", "1s", "-warmup", "0", "-no-floors", "-out", out)
	if status != 1 || !strings.Contains(stdout, "FAILED") {
		t.Errorf("unreachable cluster: status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	if b, _ := os.ReadFile(earlier); string(b) != `{"earlier":true}` {
		t.Errorf("the earlier report was replaced: %s", b)
	}
}
