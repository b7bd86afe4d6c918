package reports

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"image/color"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"sluice/checker"
)

// runPage is what the run template shows.
type runPage struct {
	R          *Run
	Passed     bool
	Virtual    string
	FaultsEnd  string
	Wall       string
	Trace      string
	Counts     []Setting // violations by anomaly
	CheckStats []Setting
	Legend     []legendItem
	Spans      []spanRow
	Bucket     string
	Acked      int // acks=all sends whose latency is plotted
	Views      []viewLink
	VizErr     string
	// Nonlin: porcupine rejected a window of some partition.
	Nonlin bool
	Files  struct{ Timeline, Throughput, Latency, Overview string }
}

type legendItem struct {
	Kind   string
	Style  template.CSS
	Count  int
	TotalS string
	total  int64 // ns
}

type spanRow struct {
	Kind, Where, Start, End, Dur string
	Style                        template.CSS
}

type viewLink struct {
	Partition int32
	File      string
}

func newRunPage(r *Run, s series, colors map[string]color.RGBA, views []View, vizErr error) runPage {
	pg := runPage{R: r, Passed: len(r.Problems) == 0, Virtual: secs(r.VirtualNs), Wall: r.Wall.Round(time.Millisecond).String(),
		Trace: fmt.Sprintf("%016x", r.TraceHash), Bucket: bucketName(s.bucketNs), Acked: s.acksAll}
	if r.FaultsEndNs > 0 {
		pg.FaultsEnd = secs(r.FaultsEndNs)
	}
	pg.Files.Timeline, pg.Files.Throughput, pg.Files.Latency, pg.Files.Overview = FileTimeline, FileThroughput, FileLatency, FileOverview
	for _, a := range checker.Anomalies {
		if n := r.Check.Counts[a]; n > 0 {
			pg.Counts = append(pg.Counts, Setting{string(a), fmt.Sprint(n)})
		}
	}
	pg.Nonlin = r.Check.Counts[checker.Nonlinearizable] > 0
	pg.CheckStats = fields(r.Check.Stats)
	for _, v := range views {
		pg.Views = append(pg.Views, viewLink{Partition: v.Partition, File: filepath.Base(v.Path)})
	}
	if vizErr != nil {
		pg.VizErr = vizErr.Error()
	}
	pg.Legend, pg.Spans = legend(r.Faults, colors)
	return pg
}

func legend(spans []Span, colors map[string]color.RGBA) ([]legendItem, []spanRow) {
	var items []legendItem
	var rows []spanRow
	for _, s := range spans {
		i := slices.IndexFunc(items, func(it legendItem) bool { return it.Kind == s.Kind })
		if i < 0 {
			items = append(items, legendItem{Kind: s.Kind, Style: swatch(colors[s.Kind])})
			i = len(items) - 1
		}
		items[i].Count++
		items[i].total += s.EndNs - s.StartNs
		items[i].TotalS = secs(items[i].total)
		where := networkRow
		if len(s.Nodes) > 0 {
			var names []string
			for _, n := range s.Nodes {
				names = append(names, fmt.Sprint(n))
			}
			where = "broker " + strings.Join(names, ", ")
		}
		rows = append(rows, spanRow{Kind: s.Kind, Where: where, Start: secs(s.StartNs), End: secs(s.EndNs),
			Dur: secs(s.EndNs - s.StartNs), Style: swatch(colors[s.Kind])})
	}
	slices.SortFunc(items, func(a, b legendItem) int { return cmp.Compare(a.Kind, b.Kind) })
	return items, rows
}

func swatch(c color.RGBA) template.CSS {
	return template.CSS(fmt.Sprintf("background:#%02x%02x%02x", c.R, c.G, c.B))
}

func secs(ns int64) string { return fmt.Sprintf("%.3f s", float64(ns)/1e9) }

// fields lists a struct's exported fields as settings, in order.
func fields(v any) []Setting {
	rv := reflect.ValueOf(v)
	var out []Setting
	for i := range rv.NumField() {
		if f := rv.Type().Field(i); f.IsExported() {
			out = append(out, Setting{f.Name, fmt.Sprint(rv.Field(i).Interface())})
		}
	}
	return out
}

type indexPage struct {
	Index
	Failed, Passed []Entry
}

func newIndexPage(ix Index) indexPage {
	pg := indexPage{Index: ix}
	for _, e := range ix.Runs {
		if e.Passed() {
			pg.Passed = append(pg.Passed, e)
		} else {
			pg.Failed = append(pg.Failed, e)
		}
	}
	return pg
}

// writeTemplate renders into memory first, so a template error never
// leaves half a page.
func writeTemplate(path string, t *template.Template, data any) error {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

var funcs = template.FuncMap{
	"secs": secs,
	"ms":   func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"hex":  func(v uint64) string { return fmt.Sprintf("%016x", v) },
	"inc":  func(i int) int { return i + 1 },
}

const style = `<style>
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } pre { background: #f6f6f6; padding: .6em; overflow-x: auto; white-space: pre-wrap; }
.pass { color: #186a2e; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
.sw { display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin-right: .3em; }
img { max-width: 100%; border: 1px solid #eee; } iframe { width: 100%; height: 700px; border: 1px solid #ccc; }
nav a { margin-right: 1em; } .note { color: #555; }
</style>`

var runTemplate = template.Must(template.New("run").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{if .Passed}}PASS{{else}}FAIL{{end}} · {{.R.Scenario.Name}} seed {{.R.Seed}} · sluice sim</title>` + style + `</head><body>
<p><a href="../index.html">← all runs</a></p>
<h1>sluice sim: scenario <code>{{.R.Scenario.Name}}</code>, seed {{.R.Seed}} —
{{if .Passed}}<span class="pass">PASS</span>{{else}}<span class="fail">FAIL: {{len .R.Problems}} violation{{if ne (len .R.Problems) 1}}s{{end}}</span>{{end}}</h1>
<p class="note">One run of the deterministic simulator: a sluice cluster, its clients, network and disks in one process on
virtual time, with the scenario's faults injected. Every client operation was recorded and the history judged by the
checker (Jepsen's Kafka anomalies, direct checks, and porcupine's linearizability check per partition). The seed
reproduces the run bit for bit: the replay command below gives the same trace hash.</p>
<nav><a href="#summary">summary</a><a href="#violations">violations</a><a href="#config">configuration</a>
<a href="#timeline">faults, throughput, latency</a><a href="#porcupine">linearizability</a><a href="#stats">statistics</a></nav>

<h2 id="summary">Summary</h2>
<table>
<tr><th>verdict</th><td>{{if .Passed}}<span class="pass">PASS</span>: the simulator's own assertions held and the checker found the history valid{{else}}<span class="fail">FAIL</span>: {{len .R.Problems}} problem{{if ne (len .R.Problems) 1}}s{{end}} (below){{end}}</td></tr>
<tr><th>seed</th><td>{{.R.Seed}}</td></tr>
<tr><th>scenario</th><td><code>{{.R.Scenario.Name}}</code>: {{.R.Scenario.Doc}}</td></tr>
<tr><th>faults drawn</th><td><code>{{.R.Scenario.Faults}}</code></td></tr>
<tr><th>virtual time</th><td>{{.Virtual}}{{if .FaultsEnd}}: faults until {{.FaultsEnd}}, then the liveness phase (network healed, every broker up; every pending request must resolve and every acknowledged record be read back){{end}}</td></tr>
<tr><th>wall time</th><td>{{.Wall}}</td></tr>
<tr><th>trace hash</th><td><code>{{.Trace}}</code> (same seed and flags ⇒ same hash)</td></tr>
<tr><th>faults started</th><td>{{len .R.Faults}}</td></tr>
{{if .R.Swarm}}<tr><th>swarm</th><td>{{range .R.Swarm}}{{.}}<br>{{end}}</td></tr>{{end}}
</table>
<p>Replay exactly:</p>
<pre>{{.R.Replay}}</pre>

<h2 id="violations">Violations</h2>
{{if .Passed}}<p>None.</p>{{else}}
{{if .Counts}}<table><tr><th>anomaly (checker)</th><th>count</th></tr>{{range .Counts}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{end}}</table>{{end}}
<p>Every problem, as the simulator and the checker describe it (operations are named by their index in the history,
times are virtual):</p>
{{range $i, $p := .R.Problems}}<pre>{{inc $i}}. {{$p}}</pre>
{{end}}{{end}}

<h2 id="config">Configuration</h2>
<table><tr><th>flag</th><th>value</th></tr>{{range .R.Flags}}<tr><td><code>-{{.Name}}</code></td><td>{{.Value}}</td></tr>{{end}}</table>
<p>The simulator's effective configuration (defaults and scenario overrides applied):</p>
<table><tr><th>field</th><th>value</th></tr>{{range .R.Config}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{end}}</table>
<p>Swarm testing: {{if not .R.SwarmMode}}off: the scenario's faults at its own rates, the default configuration.</p>
{{else if .R.Swarm}}on; the seed chose</p><pre>{{range .R.Swarm}}{{.}}
{{end}}</pre>{{else}}on; the seed changed nothing.</p>{{end}}

<h2 id="timeline">Fault timeline, throughput and latency</h2>
<p class="note">Three plots on one axis of virtual time. <b>Top</b>: the faults, one row per broker and one for faults
of the whole network; a bar spans a fault from its start to its heal (a thin bar: an instantaneous fault); a fault
between brokers (a partition, a one-way link) shows on each broker it names. <b>Middle</b>: client operations by
completion time in {{.Bucket}} buckets, as rates per virtual second; "given up" counts acks=1 and acks=all sends that
ended without an acknowledgement (refused, or the client stopped retrying: outcome unknown). <b>Bottom</b>: p50 and
p99 produce-ack latency of the {{.Acked}} acknowledged acks=all sends of each bucket, from the client's first attempt
to the acknowledgement (retries after leader changes included); gaps are buckets where none was acknowledged. Faults
are shaded behind the lines in their timeline colours. The dashed line is where the nemesis stopped and the network
healed: after it the workload sends nothing new; pending requests resolve and the final reads run (the liveness
phase). Overlapping faults on one broker are drawn one above the other.</p>
<img src="{{.Files.Overview}}" alt="fault timeline, throughput and latency over virtual time">
<p class="note">Each plot alone: <a href="{{.Files.Timeline}}">fault timeline</a>, <a href="{{.Files.Throughput}}">throughput</a>,
<a href="{{.Files.Latency}}">latency</a>.</p>
{{if .Legend}}<table><tr><th>fault</th><th>count</th><th>total duration</th></tr>
{{range .Legend}}<tr><td><span class="sw" style="{{.Style}}"></span>{{.Kind}}</td><td>{{.Count}}</td><td>{{.TotalS}}</td></tr>{{end}}</table>
<details><summary>every fault ({{len .Spans}})</summary>
<table><tr><th>fault</th><th>where</th><th>start</th><th>end</th><th>duration</th></tr>
{{range .Spans}}<tr><td><span class="sw" style="{{.Style}}"></span>{{.Kind}}</td><td>{{.Where}}</td><td>{{.Start}}</td><td>{{.End}}</td><td>{{.Dur}}</td></tr>{{end}}</table>
</details>{{else}}<p>No fault was started.</p>{{end}}

<h2 id="porcupine">Linearizability (porcupine)</h2>
{{if .Views}}{{range .Views}}<p>Partition {{.Partition}}: porcupine's view of the first failing window — the operations,
the longest partial linearizations and the log states along them (<a href="{{.File}}">open on its own</a>).</p>
<iframe src="{{.File}}" title="porcupine partition {{.Partition}}"></iframe>
{{end}}{{else if .Nonlin}}<p>Porcupine rejected a window but its view could not be drawn.</p>{{else}}<p>Porcupine found a
linearization of every window of every partition against the append-only log model: nothing to show.</p>{{end}}
{{if .VizErr}}<pre>{{.VizErr}}</pre>{{end}}

<h2 id="stats">Statistics</h2>
<div style="display:flex; gap:2em; flex-wrap:wrap">
<table><tr><th colspan="2">simulator</th></tr>{{range .R.Stats}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{end}}</table>
<table><tr><th colspan="2">checker</th></tr>{{range .CheckStats}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{end}}</table>
</div>
</body></html>
`))

var indexTemplate = template.Must(template.New("index").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>sluice sim: {{len .Failed}} of {{len .Runs}} runs failed</title>` + style + `</head><body>
<h1>sluice sim: {{len .Runs}} run{{if ne (len .Runs) 1}}s{{end}},
{{if .Failed}}<span class="fail">{{len .Failed}} failed</span>{{else}}<span class="pass">all passed</span>{{end}}</h1>
{{if .Running}}<p class="note">Still running: this page is rewritten after every run.</p>{{end}}
<p>Command:</p><pre>{{.Command}}</pre>
<p class="note">Each run is one seed of one scenario: a deterministic simulation of a sluice cluster under the scenario's
faults, its client history judged by the checker. Open a run for its fault timeline, throughput and latency plots,
violations and the command that replays it.</p>
{{define "rows"}}<table><tr><th>verdict</th><th>scenario</th><th>seed</th><th>violations</th><th>first problem</th><th>virtual</th><th>wall</th><th>trace hash</th></tr>
{{range .}}<tr><td>{{if .Passed}}<span class="pass">PASS</span>{{else}}<span class="fail">FAIL</span>{{end}}</td>
<td>{{.Scenario}}</td><td><a href="{{.Page}}">{{.Seed}}</a></td><td>{{.Violations}}</td><td>{{.First}}</td>
<td>{{secs .VirtualNs}}</td><td>{{ms .Wall}}</td><td><code>{{hex .TraceHash}}</code></td></tr>
{{end}}</table>{{end}}
{{if .Failed}}<h2>Failed</h2>{{template "rows" .Failed}}{{end}}
{{if .Passed}}<h2>Passed</h2>{{template "rows" .Passed}}{{end}}
</body></html>
`))
