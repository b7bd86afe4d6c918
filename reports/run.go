package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sluice/checker"
)

// A run report is one directory per simulated run (scenario and seed):
//
//	DIR/<scenario>-seed-<N>/index.html   the page
//	                        timeline.png  faults, one row per broker and one for the network
//	                        throughput.png acknowledged sends, give-ups and polls per second
//	                        latency.png   produce-ack latency p50/p99 per time bucket
//	                        overview.png  the three stacked, their time axes aligned
//	                        porcupine-partition-<P>.html  porcupine's view of a failing window
//	DIR/index.html                        every run written so far, with its verdict
//
// Run is what the report needs to know, in the report's own terms: the
// caller (cmd/sluice) converts the simulator's result into it, because
// reports never imports the simulator.

// Run is one simulated run.
type Run struct {
	Seed     uint64
	Scenario Scenario
	// Problems: every violation the simulator or the checker found and
	// every check that could not finish, one entry each (an entry may span
	// lines). Empty: the run passed.
	Problems []string
	// Flags: the command line's flags, as given or defaulted. Config: the
	// simulator's effective configuration. SwarmMode: swarm testing was
	// on; Swarm: what it chose, one line each.
	Flags, Config []Setting
	SwarmMode     bool
	Swarm         []string
	// Stats: the simulator's counters (crashes, messages, ...).
	Stats []Setting
	// Brokers are the timeline's rows (a span on a broker not listed gets
	// a row too). Faults are the spans the nemesis started.
	Brokers []uint64
	Faults  []Span
	// FaultsEndNs: when the nemesis stopped and the network healed (the
	// liveness phase follows). 0: not marked.
	FaultsEndNs int64
	VirtualNs   int64
	Wall        time.Duration
	TraceHash   uint64
	// Replay is the command line that reproduces the run exactly.
	Replay string
	// History is what the clients saw; Check the checker's verdict on it.
	History checker.History
	Check   checker.Result
}

// Scenario names the fault schedule a run drew from.
type Scenario struct {
	Name string
	Doc  string
	// Faults describes the fault kinds and their weights on one line.
	Faults string
}

// Setting is one named value (a flag, a configuration field, a counter).
type Setting struct {
	Name, Value string
}

// Span is one fault on the timeline, in virtual nanoseconds. EndNs ==
// StartNs: an instantaneous fault. No nodes: the whole network.
type Span struct {
	Kind           string
	Nodes          []uint64
	StartNs, EndNs int64
}

// Entry is one run in the index.
type Entry struct {
	Scenario   string
	Seed       uint64
	Violations int
	// First is the first line of the first problem ("" for a pass).
	First     string
	VirtualNs int64
	Wall      time.Duration
	TraceHash uint64
	// Page is the run's page, relative to the report directory.
	Page string
}

// Passed reports whether the run found nothing wrong.
func (e Entry) Passed() bool { return e.Violations == 0 }

// File names inside a run's directory.
const (
	FilePage       = "index.html"
	FileTimeline   = "timeline.png"
	FileThroughput = "throughput.png"
	FileLatency    = "latency.png"
	FileOverview   = "overview.png" // the three above, stacked on one time axis
)

// RunDir is the directory of a run's report, relative to the report
// directory.
func RunDir(scenario string, seed uint64) string {
	return fmt.Sprintf("%s-seed-%d", slug(scenario), seed)
}

// WriteRun writes r's page, plots and porcupine views into its directory
// under dir, and returns its index entry.
func WriteRun(dir string, r *Run) (Entry, error) {
	rel := RunDir(r.Scenario.Name, r.Seed)
	out := filepath.Join(dir, rel)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Entry{}, fmt.Errorf("reports: %w", err)
	}
	colors := kindColors(r.Faults)
	ser := computeSeries(r.History, r.VirtualNs)
	if err := writePlots(out, r, ser, colors); err != nil {
		return Entry{}, fmt.Errorf("reports: plots: %w", err)
	}
	views, vizErr := Visualize(r.History, r.Check, out, "porcupine")
	page := newRunPage(r, ser, colors, views, vizErr)
	if err := writeTemplate(filepath.Join(out, FilePage), runTemplate, page); err != nil {
		return Entry{}, fmt.Errorf("reports: %w", err)
	}
	return Entry{Scenario: r.Scenario.Name, Seed: r.Seed, Violations: len(r.Problems), First: firstLine(r.Problems),
		VirtualNs: r.VirtualNs, Wall: r.Wall, TraceHash: r.TraceHash, Page: filepath.ToSlash(filepath.Join(rel, FilePage))}, nil
}

// Index is the report directory's front page.
type Index struct {
	// Command is the command line that produced the runs.
	Command string
	Runs    []Entry
	// Running: more runs are coming (the page says so).
	Running bool
}

// WriteIndex writes dir/index.html: every run with its verdict, failing
// runs first.
func WriteIndex(dir string, ix Index) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if err := writeTemplate(filepath.Join(dir, FilePage), indexTemplate, newIndexPage(ix)); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	return nil
}

func firstLine(problems []string) string {
	if len(problems) == 0 {
		return ""
	}
	s, _, _ := strings.Cut(problems[0], "\n")
	return s
}

// slug keeps letters, digits, '-' and '_' of a name used in a path.
func slug(name string) string {
	b := []byte(name)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "run"
	}
	return string(b)
}

// rows are the timeline's rows from top to bottom: the brokers in order,
// then the network.
func timelineRows(r *Run) []string {
	ids := slices.Clone(r.Brokers)
	for _, s := range r.Faults {
		for _, n := range s.Nodes {
			if !slices.Contains(ids, n) {
				ids = append(ids, n)
			}
		}
	}
	slices.Sort(ids)
	rows := make([]string, 0, len(ids)+1)
	for _, id := range ids {
		rows = append(rows, brokerRow(id))
	}
	return append(rows, networkRow)
}

const networkRow = "network"

func brokerRow(id uint64) string { return fmt.Sprintf("broker %d", id) }
