package main

import (
	"bytes"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sluice/reports"
	"sluice/scenarios"
	"sluice/sim"
)

// TestSimReport: -report writes a page per seed with every section and
// non-empty plots, and an index listing both runs.
func TestSimReport(t *testing.T) {
	dir := t.TempDir()
	status, out, errOut := runArgs("sim", "-scenario", "crash-restart", "-seeds", "2", "-duration", "2s", "-report", dir)
	if status != exitOK {
		t.Fatalf("status %d\n%s\n%s", status, out, errOut)
	}
	if !strings.Contains(out, "report: "+filepath.Join(dir, "index.html")) {
		t.Errorf("output does not say where the report is:\n%s", out)
	}
	index := readFile(t, filepath.Join(dir, "index.html"))
	for seed := 1; seed <= 2; seed++ {
		rel := reports.RunDir("crash-restart", uint64(seed))
		if !strings.Contains(index, fmt.Sprintf(`href="%s/index.html"`, rel)) {
			t.Errorf("index lacks a link to seed %d:\n%s", seed, index)
		}
		page := readFile(t, filepath.Join(dir, rel, "index.html"))
		for _, want := range []string{
			`id="summary"`, `id="violations"`, `id="config"`, `id="timeline"`, `id="porcupine"`, `id="stats"`,
			"PASS", "brokers crash (power loss or process crash)", // the scenario's doc
			fmt.Sprintf("go run ./cmd/sluice sim -scenario crash-restart -seed %d -duration 2s -members 3 -faults=true", seed),
			"<code>-duration</code></td><td>2s", "<td>DurationMs</td><td>2000</td>", "<td>Nodes</td><td>3</td>",
			"Swarm testing: off", "faults until 2.000 s",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("seed %d: page lacks %q", seed, want)
			}
		}
		for _, f := range []string{reports.FileOverview, reports.FileTimeline, reports.FileThroughput, reports.FileLatency} {
			fi, err := os.Stat(filepath.Join(dir, rel, f))
			if err != nil || fi.Size() < 1000 {
				t.Errorf("seed %d: plot %s: %v (%v)", seed, f, fi, err)
			}
		}
	}
}

// TestSimSwarmReport: with -swarm, the report shows what the seed chose
// and the replay command keeps -swarm.
func TestSimSwarmReport(t *testing.T) {
	dir := t.TempDir()
	status, out, errOut := runArgs("sim", "-scenario", "crash-restart", "-seed", "4", "-duration", "1s", "-swarm", "-report", dir)
	if status != exitOK {
		t.Fatalf("status %d\n%s\n%s", status, out, errOut)
	}
	sc, _ := scenarios.Find("crash-restart")
	r := sim.MustNew(sim.Config{Seed: 4, DurationMs: 1000, Faults: true, Scenario: sc, Swarm: true}).Run()
	if len(r.Swarm) == 0 {
		t.Fatal("swarm mode chose nothing")
	}
	// html/template escapes '+' and quotes: compare the page's text.
	page := html.UnescapeString(readFile(t, filepath.Join(dir, reports.RunDir("crash-restart", 4), "index.html")))
	for _, want := range append([]string{"Swarm testing: on", "<code>-swarm</code></td><td>true",
		"go run ./cmd/sluice sim -scenario crash-restart -seed 4 -duration 1s -members 3 -faults=true -swarm</pre>",
		fmt.Sprintf("<code>%016x</code>", r.TraceHash)}, r.Swarm...) {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestSimAllScenarios: -scenario all runs every scenario of the catalogue
// and prints a row for each in the summary table.
func TestSimAllScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole catalogue")
	}
	status, out, errOut := runArgs("sim", "-scenario", "all", "-seeds", "1", "-duration", "300ms")
	all := scenarios.All()
	table := out[strings.Index(out, "\nscenario ")+1:]
	for _, sc := range all {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sc.Name) + ` +1 +[01] +\d+ +\d+\.\ds +\d+\.\ds`).MatchString(table) {
			t.Errorf("no table row for %s:\n%s", sc.Name, table)
		}
		if !strings.Contains(out, "] "+sc.Name+": 1 seeds") {
			t.Errorf("no progress line for %s", sc.Name)
		}
	}
	m := regexp.MustCompile(`(?m)^total +(\d+) +(\d+) `).FindStringSubmatch(table)
	if m == nil || m[1] != fmt.Sprint(len(all)) {
		t.Fatalf("total row: %v, want %d seeds:\n%s", m, len(all), table)
	}
	// Exit 1 exactly when a seed failed, and then the output ends with a
	// banner.
	if failed := m[2] != "0"; failed != (status == 1) || (!failed && status != exitOK) {
		t.Errorf("status %d with %s failed seeds\n%s", status, m[2], errOut)
	}
	if status == 1 {
		assertEndsWithBanner(t, out)
	}
}

func TestSimUnknownScenario(t *testing.T) {
	for _, arg := range []string{"nope", "kitchen-sink,nope"} {
		status, out, errOut := runArgs("sim", "-scenario", arg, "-seeds", "1", "-duration", "1s")
		if status != exitUsage {
			t.Errorf("-scenario %s: status %d, want %d", arg, status, exitUsage)
		}
		if out != "" {
			t.Errorf("-scenario %s: ran anyway:\n%s", arg, out)
		}
		if !strings.Contains(errOut, `no scenario "nope"`) || !strings.Contains(errOut, "kitchen-sink") || !strings.Contains(errOut, "all") {
			t.Errorf("-scenario %s: stderr does not name the culprit and the choices:\n%s", arg, errOut)
		}
	}
}

func TestSimScenarioList(t *testing.T) {
	status, out, _ := runArgs("sim", "-scenario", "kitchen-sink,none", "-seeds", "1", "-first", "3", "-duration", "1s", "-swarm")
	if status != exitOK {
		t.Fatalf("status %d:\n%s", status, out)
	}
	for _, want := range []string{"[1/2] kitchen-sink: 1 seeds", "[2/2] none: 1 seeds", "total         2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestSimBannersLast: the failing seeds' banners, with the scenario, the
// swarm choices and the replay command, are the last lines printed.
func TestSimBannersLast(t *testing.T) {
	o := simFlags(lookup("sim"), &bytes.Buffer{})
	if err := o.fs.Parse([]string{"-duration", "3s", "-swarm"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	lossy, _ := scenarios.Find("lossy")
	s := &simSession{o: o, stdout: &out, stderr: &out,
		rows: []*scenarioRow{{name: "none", seeds: 2, virtualMs: 4000}, {name: "lossy", seeds: 2, violations: 2, failing: []uint64{5}, virtualMs: 4100}}}
	s.failures = []failure{{sc: lossy, seed: 5, problems: []string{"lost-write in partition 2: gone", "at 1.000s: liveness"},
		swarm: []string{"faults: lossy+swarm [lossy×3]", "raft.max-inflight-msgs=1"}}}
	if status := s.summarize(time.Second); status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	text := out.String()
	if !regexp.MustCompile(`(?m)^lossy +2 +1 +2 +4\.1s +0\.0s +5$`).MatchString(text) {
		t.Errorf("no table row for lossy with failing seed 5:\n%s", text)
	}
	for _, want := range []string{"1 of 4 seeds failed", "VIOLATION  scenario lossy  seed 5",
		"scenario: " + lossy.String(), "swarm:    raft.max-inflight-msgs=1", "  - lost-write in partition 2: gone"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if !strings.HasSuffix(text, "replay:   go run ./cmd/sluice sim -scenario lossy -seed 5 -duration 3s -members 3 -faults=true -swarm\n"+strings.Repeat("=", 78)+"\n") {
		t.Errorf("the output does not end with the banner's replay line:\n%s", text)
	}
}

// assertEndsWithBanner: the last lines are a banner ending with a replay
// command.
func assertEndsWithBanner(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	n := len(lines)
	if n < 3 || lines[n-1] != strings.Repeat("=", 78) || !strings.HasPrefix(lines[n-2], "replay:   go run ./cmd/sluice sim -scenario ") {
		t.Errorf("output does not end with a banner:\n%s", out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestProgressPlainLines: without a terminal, progress is plain lines (a
// heartbeat while a seed runs long), never a redrawn bar.
func TestProgressPlainLines(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, 3)
	p.heartbeat = 0
	p.begin("lossy", 2)
	p.tick(7000)
	p.end(true)
	p.printf("a line")
	p.finish()
	text := out.String()
	if strings.ContainsAny(text, "\r\033") {
		t.Errorf("terminal control characters in plain output: %q", text)
	}
	if want := "... 0 of 3 seeds done (0 failed), lossy seed 2 at 7s virtual"; !strings.Contains(text, want) || !strings.Contains(text, "a line\n") {
		t.Errorf("output %q lacks %q", text, want)
	}
	// On a terminal the bar is redrawn in place and cleared before lines.
	out.Reset()
	p = newProgress(&out, 4)
	p.tty = true
	p.begin("none", 1)
	p.end(false)
	p.printf("between")
	p.finish()
	text = out.String()
	if !strings.Contains(text, "[=======                       ] 1/4 seeds") || !strings.Contains(text, "\r\033[Kbetween\n") || !strings.HasSuffix(text, "\r\033[K") {
		t.Errorf("bar output %q", text)
	}
}
