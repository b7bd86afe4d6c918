package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Output file names, relative to the output directory.
const (
	FileJSON       = "results.json"
	FileCSV        = "results.csv"
	FileSeriesCSV  = "series.csv"
	FileLatencyCSV = "latency.csv"
	FileFloorsCSV  = "floors.csv"
	FileChecksCSV  = "checks.csv"
	FileThroughput = "throughput.png"
	FileLatency    = "latency.png"
	FileRatios     = "ratios.png"
	FileHTML       = "index.html"
)

// WriteReport writes res into dir: JSON, CSV, plots and an HTML page that
// shows them.
func WriteReport(dir string, res *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FileJSON), append(b, '\n'), 0o644); err != nil {
		return err
	}
	for _, f := range []func(string, *Results) error{writeCSVs, plotThroughput, plotLatency, plotRatios, writeHTML} {
		if err := f(dir, res); err != nil {
			return fmt.Errorf("bench: report: %w", err)
		}
	}
	return nil
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.WriteAll(rows) // WriteAll flushes; its error is w.Error()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func writeCSVs(dir string, res *Results) error {
	rows := [][]string{{"target", "records_per_s", "mb_per_s", "consumed_per_s", "catch_up_mb_per_s",
		"ack_p50_ms", "ack_p99_ms", "ack_p99_9_ms", "ack_max_ms", "e2e_p50_ms", "e2e_p99_ms", "e2e_p99_9_ms", "e2e_max_ms",
		"sent", "acked", "ack_errors", "consumed", "consume_errors", "mean_batch_bytes",
		"device_write_mb_per_s", "device_flushes_per_s", "device_bytes_per_flush", "cpu_busy", "description"}}
	series := [][]string{{"target", "t_s", "acked_per_s", "consumed_per_s"}}
	lat := [][]string{{"target", "kind", "percentile", "ms"}}
	for _, t := range res.Targets {
		row := []string{t.Target, ff(t.RecordsPerS), ff(t.MBPerS), ff(t.ConsumedPerS), ff(t.CatchUpMBPerS),
			ff(t.Ack.P50Ms), ff(t.Ack.P99Ms), ff(t.Ack.P999Ms), ff(t.Ack.MaxMs), ff(t.E2E.P50Ms), ff(t.E2E.P99Ms), ff(t.E2E.P999Ms), ff(t.E2E.MaxMs),
			strconv.FormatInt(t.Sent, 10), strconv.FormatInt(t.Acked, 10), strconv.FormatInt(t.AckErrors, 10),
			strconv.FormatInt(t.Consumed, 10), strconv.FormatInt(t.ConsumeErrors, 10), ff(t.MeanBatchBytes)}
		var dev DeviceIO
		if t.Device != nil {
			dev = *t.Device
		}
		row = append(row, ff(dev.WriteMBPerS), ff(dev.FlushesPerS), ff(dev.BytesPerFlush), ff(t.CPUBusy), t.Description)
		rows = append(rows, row)
		for _, s := range t.Series {
			series = append(series, []string{t.Target, ff(s.T), ff(s.AckedPerS), ff(s.ConsumedPerS)})
		}
		for kind, l := range map[string]Latency{"ack": t.Ack, "e2e": t.E2E} { //lint:maporder-ok rows are keyed by kind
			for _, p := range l.Curve {
				lat = append(lat, []string{t.Target, kind, ff(p.Percentile), ff(p.Ms)})
			}
		}
	}
	floors := [][]string{{"kind", "bytes", "mb_per_s", "syncs_per_s", "p50_us", "p99_us", "why"}}
	if res.Floors != nil {
		for _, d := range res.Floors.Disk {
			floors = append(floors, []string{"write+fdatasync", strconv.Itoa(d.Bytes), ff(d.MBPerS), ff(d.SyncsPerS), ff(d.P50Us), ff(d.P99Us), d.Why})
		}
		floors = append(floors, []string{"loopback-rtt", "64", "", "", ff(res.Floors.RTT.P50Us), ff(res.Floors.RTT.P99Us), ""})
		if sd := res.Floors.SharedDisk; sd != nil {
			// bytes: a cycle's mean; the arrival rate is in why (not an
			// achieved MB/s as in the rows above).
			rate := fmt.Sprintf("%d writers group-committing %.1f MB/s each, no broker", sd.Writers, sd.MBPerS)
			floors = append(floors, []string{"shared-disk-cycle", ff(sd.MeanCycleBytes), "", "", ff(sd.CycleP50Us), ff(sd.CycleP99Us), rate})
			floors = append(floors, []string{"shared-disk-ack", ff(sd.MeanCycleBytes), "", "", ff(sd.AckP50Us), ff(sd.AckP99Us),
				fmt.Sprintf("%s: arrival to %d of %d durable", rate, sd.Quorum, sd.Writers)})
		}
	}
	checks := [][]string{{"name", "value", "goal", "met", "detail"}}
	for _, c := range res.Checks {
		checks = append(checks, []string{c.Name, ff(c.Value), c.Goal, strconv.FormatBool(c.Met), c.Detail})
	}
	for name, rows := range map[string][][]string{FileCSV: rows, FileSeriesCSV: series, FileLatencyCSV: lat, FileFloorsCSV: floors, FileChecksCSV: checks} { //lint:maporder-ok independent files
		if err := writeCSV(filepath.Join(dir, name), rows); err != nil {
			return err
		}
	}
	return nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

const plotW, plotH = 7 * vg.Inch, 3.8 * vg.Inch

func plotThroughput(dir string, res *Results) error {
	p := newPlot(fmt.Sprintf("%s: acknowledged throughput", res.Workload.Name), "seconds since load started", "MB/s acknowledged")
	for i, t := range res.Targets {
		xys := make(plotter.XYs, len(t.Series))
		for j, s := range t.Series {
			xys[j] = plotter.XY{X: s.T, Y: s.AckedPerS * float64(res.Workload.RecordBytes) / 1e6}
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(t.Target, l)
	}
	// Headroom above the lines for the legend.
	ymax := 0.0
	for _, t := range res.Targets {
		for _, s := range t.Series {
			ymax = math.Max(ymax, s.AckedPerS*float64(res.Workload.RecordBytes)/1e6)
		}
	}
	if ymax > 0 {
		p.Y.Min, p.Y.Max = 0, ymax*1.45
	}
	return p.Save(plotW, plotH, filepath.Join(dir, FileThroughput))
}

// nines maps a percentile to its number of nines: 90 → 1, 99 → 2.
func nines(pct float64) float64 { return -math.Log10(1 - pct/100) }

func plotLatency(dir string, res *Results) error {
	p := newPlot(fmt.Sprintf("%s: latency percentiles (solid: produce-ack, dashed: end-to-end)", res.Workload.Name), "percentile", "ms")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "p0"}, {Value: nines(50), Label: "p50"}, {Value: 1, Label: "p90"},
		{Value: 2, Label: "p99"}, {Value: 3, Label: "p99.9"}, {Value: 4, Label: "p99.99"}})
	added := false
	lo, hi := math.Inf(1), 0.0
	p.Legend.Left = true
	p.X.Min, p.X.Max = 0, 4.25
	for i, t := range res.Targets {
		for k, l := range []Latency{t.Ack, t.E2E} {
			var xys plotter.XYs
			for _, c := range l.Curve {
				if c.Ms > 0 { // a log axis cannot show 0
					xys = append(xys, plotter.XY{X: nines(c.Percentile), Y: c.Ms})
					lo, hi = math.Min(lo, c.Ms), math.Max(hi, c.Ms)
				}
			}
			if len(xys) == 0 {
				continue
			}
			line, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			line.Color = plotutil.Color(i)
			line.Width = vg.Points(1.5)
			name := t.Target + " ack"
			if k == 1 {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				name = t.Target + " e2e"
			}
			p.Add(line)
			p.Legend.Add(name, line)
			added = true
		}
	}
	rows := 2 * len(res.Targets)
	// In a fixed-rate acks=all run: the shared-disk bound's curve (no
	// broker) and the goal's p99 limit, 3× the floor.
	if sd := res.Floors.sharedDisk(); sd != nil && added {
		var xys plotter.XYs
		for _, c := range sd.AckCurve {
			if c.Ms > 0 {
				xys = append(xys, plotter.XY{X: nines(c.Percentile), Y: c.Ms})
				lo, hi = math.Min(lo, c.Ms), math.Max(hi, c.Ms)
			}
		}
		if len(xys) > 0 {
			line, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			line.Color = color.Gray{Y: 90}
			line.Width = vg.Points(1.5)
			line.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
			p.Add(line)
			p.Legend.Add("shared-disk bound (no broker)", line)
			rows++
		}
		if goal, ok := latencyGoalMs(res); ok {
			line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: goal}, {X: 4.25, Y: goal}})
			if err != nil {
				return err
			}
			line.Color = color.RGBA{R: 180, A: 255}
			line.Width = vg.Points(1)
			p.Add(line)
			p.Legend.Add(fmt.Sprintf("goal: p99 ≤ %.2f ms (3× floor)", goal), line)
			lo = math.Min(lo, goal)
			rows++
		}
	}
	if !added {
		p.Y.Scale = plot.LinearScale{}
		p.Y.Tick.Marker = plot.DefaultTicks{}
	} else {
		// Room above the curves for the legend: a factor per legend row.
		p.Y.Min, p.Y.Max = lo/1.5, hi*math.Pow(1.9, float64(rows))
	}
	return p.Save(plotW, plotH, filepath.Join(dir, FileLatency))
}

func plotRatios(dir string, res *Results) error {
	p := newPlot(fmt.Sprintf("%s: sluice ÷ others (issue 11 goal in brackets)", res.Workload.Name), "", "ratio")
	var vals plotter.Values
	var names []string
	var labels []string
	var xys plotter.XYs
	for i, c := range res.Checks {
		vals = append(vals, c.Value)
		name := shortCheck(c.Name)
		if c.Goal != "" {
			name += " [" + c.Goal + "]"
		}
		names = append(names, name)
		labels = append(labels, fmt.Sprintf("%.2f×", c.Value))
		xys = append(xys, plotter.XY{X: float64(i), Y: c.Value})
	}
	if len(vals) == 0 {
		p.Title.Text = res.Workload.Name + ": no ratios (sluice did not run)"
		return p.Save(plotW, plotH, filepath.Join(dir, FileRatios))
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return err
	}
	bars.Color = plotutil.Color(0)
	bars.LineStyle.Width = 0
	p.Add(bars)
	lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return err
	}
	lbl.Offset = vg.Point{X: -vg.Points(8), Y: vg.Points(2)}
	p.Add(lbl)
	one := plotter.NewFunction(func(float64) float64 { return 1 })
	one.Color = color.Gray{Y: 80}
	one.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(one)
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.7, float64(len(vals))-0.3
	p.X.Tick.Label.Rotation = 0.35
	p.X.Tick.Label.XAlign = -0.9
	p.Y.Min = 0
	p.Y.Max = math.Max(1, slices.Max(vals)) * 1.12
	return p.Save(plotW, plotH+vg.Inch, filepath.Join(dir, FileRatios))
}

// shortCheck shortens a check's name for an axis label.
func shortCheck(name string) string {
	short := map[string]string{
		"throughput: sluice ÷ single-disk ceiling":                     "MB/s ÷ disk ceiling",
		"throughput: sluice ÷ ceiling at the disk's bytes per flush":   "MB/s ÷ ceiling at flush size",
		"p99 ack latency: sluice ÷ (fdatasync p99 + loopback RTT p99)": "p99 ÷ (fsync+RTT p99)",
	}
	if s, ok := short[name]; ok {
		return s
	}
	for _, prefix := range []string{"throughput: sluice ÷ ", "p99 ack latency: sluice ÷ "} {
		if len(name) > len(prefix) && name[:len(prefix)] == prefix {
			kind := "rec/s ÷ "
			if prefix[0] == 'p' {
				kind = "p99 ÷ "
			}
			return kind + name[len(prefix):]
		}
	}
	return name
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"f1":  func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"f2":  func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"f0":  func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) },
	"pct": percent,
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>sluice bench: {{.R.Workload.Name}}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.miss{color:#b00}.met{color:#070}</style>
</head><body>
<h1>sluice bench: {{.R.Workload.Name}}</h1>
<p>{{.R.Workload.Partitions}} partitions, {{.R.Workload.RecordBytes}} B records, {{.R.Workload.Producers}} producers, {{.R.Workload.Consumers}} consumers, acks={{.R.Workload.Acks}}, Kafka producers' linger {{.R.Workload.Linger}}, {{.R.Workload.Mode}}{{if .R.Workload.Rate}} at {{f0 .R.Workload.Rate}} records/s{{end}};
{{f0 .R.DurationS}} s measured after {{f0 .R.WarmupS}} s warm-up; started {{.R.Started.Format "2006-01-02 15:04:05 UTC"}} on {{.R.Machine.CPUs}} CPUs ({{.R.Machine.GOOS}}/{{.R.Machine.GOARCH}}, {{.R.Machine.GoVersion}}).</p>
<h2>Targets</h2>
<table><tr><th>target</th><th>records/s</th><th>MB/s</th><th>ack p50 ms</th><th>ack p99 ms</th><th>ack p99.9 ms</th><th>e2e p50 ms</th><th>e2e p99 ms</th><th>acked</th><th>consumed</th><th>errors</th></tr>
{{range .R.Targets}}<tr><td title="{{.Description}}">{{.Target}}</td><td>{{f0 .RecordsPerS}}</td><td>{{f1 .MBPerS}}</td><td>{{f2 .Ack.P50Ms}}</td><td>{{f2 .Ack.P99Ms}}</td><td>{{f2 .Ack.P999Ms}}</td><td>{{f2 .E2E.P50Ms}}</td><td>{{f2 .E2E.P99Ms}}</td><td>{{.Acked}}</td><td>{{.Consumed}}</td><td>{{.AckErrors}}</td></tr>
{{end}}</table>
<ul>{{range .R.Targets}}<li><b>{{.Target}}</b>: {{.Description}}{{if .MeanBatchBytes}}; mean produce batch {{f0 .MeanBatchBytes}} B{{end}}; during the window: CPUs {{pct .CPUBusy}} busy (machine-wide){{if .Device}}, disk {{.Device}}{{end}}{{range .Errors}}<br><i>{{.}}</i>{{end}}{{if .Profile}} — profile: {{.Profile}}{{end}}</li>{{end}}
{{range .R.Skipped}}<li><b>{{.Target}}</b>: skipped: {{.Reason}}</li>{{end}}</ul>
{{if .R.Checks}}<h2>Ratios</h2>
<table><tr><th>ratio</th><th>value</th><th>goal</th><th>detail</th></tr>
{{range .R.Checks}}<tr><td>{{.Name}}</td><td>{{f2 .Value}}×</td><td>{{if .Goal}}<span class="{{if .Met}}met{{else}}miss{{end}}">{{.Goal}} {{if .Met}}met{{else}}missed{{end}}</span>{{end}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>{{end}}
{{with .R.Floors}}<h2>Floors (same run)</h2>
<table><tr><th>write+fdatasync, preallocated file</th><th>MB/s</th><th>syncs/s</th><th>p50 µs</th><th>p99 µs</th></tr>
{{range .Disk}}<tr><td>{{.Bytes}} B{{if .Why}} ({{.Why}}){{end}}</td><td>{{f1 .MBPerS}}</td><td>{{f0 .SyncsPerS}}</td><td>{{f0 .P50Us}}</td><td>{{f0 .P99Us}}</td></tr>
{{end}}</table>
<p>Loopback TCP round trip (64 B): p50 {{f1 .RTT.P50Us}} µs, p99 {{f1 .RTT.P99Us}} µs.</p>
{{with .SharedDisk}}<p>Shared-disk bound (no broker): {{.Writers}} writers, one per replica, each group-committing {{f1 .MBPerS}} MB/s to a file of its own on this disk (a write and an fdatasync per cycle):
{{.Cycles}} cycles of {{f0 .MeanCycleBytes}} B on average, p50 {{f0 .CycleP50Us}} µs, p99 {{f0 .CycleP99Us}} µs.
From a record's arrival to {{.Quorum}} of {{.Writers}} copies durable: p50 {{f0 .AckP50Us}} µs, p99 {{f0 .AckP99Us}} µs, p99.9 {{f0 .AckP999Us}} µs.
It is what a broker committing by cycles on this disk at this rate could do at best, on this measurement.</p>{{end}}{{end}}
<h2>Plots</h2>
<p><img src="{{.Throughput}}" alt="throughput over time"></p>
<p><img src="{{.Latency}}" alt="latency percentiles"></p>
<p><img src="{{.Ratios}}" alt="ratios"></p>
<p>Data: <a href="{{.JSON}}">{{.JSON}}</a>, <a href="{{.CSV}}">{{.CSV}}</a>, <a href="{{.Series}}">{{.Series}}</a>, <a href="{{.LatencyCSV}}">{{.LatencyCSV}}</a>.</p>
</body></html>
`))

func writeHTML(dir string, res *Results) error {
	f, err := os.Create(filepath.Join(dir, FileHTML))
	if err != nil {
		return err
	}
	err = page.Execute(f, map[string]any{"R": res, "Throughput": FileThroughput, "Latency": FileLatency, "Ratios": FileRatios,
		"JSON": FileJSON, "CSV": FileCSV, "Series": FileSeriesCSV, "LatencyCSV": FileLatencyCSV})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
