package reports

// Trade-off tables (issue 10): configurations measured in the simulator
// by counting what their histories show — records lost per 1,000 sent and
// per 1,000 acknowledged, produce attempts refused or timed out, and ack
// latency — written as Markdown, CSV, bar charts of loss, latency
// percentile curves and a small HTML page. The input is plain data: the
// caller (sluice tradeoffs) runs the simulator and fills it in.

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// TradeoffTable is one table: the configurations one question compares.
type TradeoffTable struct {
	Key   string // short name, used in file names: "failover"
	Title string
	// Setup says what every row shares (cluster, faults, workload).
	Setup string
	// Availability: the table reports the refused/timed-out fraction.
	Availability bool
	Rows         []TradeoffRow
}

// TradeoffRow is one configuration (and acks level) over several seeds.
type TradeoffRow struct {
	Config string // "RF3 min.insync 2", "flush interval"
	Acks   string // "0", "1", "all"
	// Keeps says which guarantee the configuration keeps, in a phrase.
	Keeps string
	Seeds []TradeoffSeed
}

// TradeoffSeed is what one seed's history counted for a row.
type TradeoffSeed struct {
	Seed uint64
	// Sent, Acked, Refused, Unknown, Lost and LostAcked: as sim counts
	// them — records sent; acknowledged; definitely refused; neither
	// (timed out, retries exhausted, every acks=0 record); sent and not
	// refused but missing from the final read; of those, acknowledged.
	Sent, Acked, Refused, Unknown, Lost, LostAcked int
	// Failures: violations the simulator itself reported (liveness,
	// replica divergence, panics) — counted here, not judged.
	Failures int
	// Stalled: the seed ran out of its wall-clock budget; its counts are
	// left out of the row's statistics.
	Stalled bool
	// LatenciesMs: acknowledged records' ack latencies, virtual ms.
	LatenciesMs []float64
}

// TradeoffStats are a row's numbers over its seeds that finished.
type TradeoffStats struct {
	Seeds, Stalled, Failures int
	Sent, Acked              int
	// Per 1,000: lost of sent, lost of acknowledged; mean and max over
	// seeds. Unavailable: refused or timed out, fraction of sent.
	LostPerKSent, LostPerKSentMax   float64
	LostPerKAcked, LostPerKAckedMax float64
	Unavailable, UnavailableMax     float64
	// Ack latency percentiles over every seed's acknowledged records
	// (virtual ms); NaN without any.
	P50, P90, P99, P999 float64
}

// AckedPerSec is the records acknowledged per virtual second of faults,
// averaged over the seeds that finished: with one batch in flight per
// partition, refused and slow produces show here as lower throughput.
func (s TradeoffStats) AckedPerSec(durationMs int64) float64 {
	if s.Seeds == 0 || durationMs <= 0 {
		return math.NaN()
	}
	return float64(s.Acked) / float64(s.Seeds) / (float64(durationMs) / 1000)
}

// Stats computes a row's numbers.
func (r TradeoffRow) Stats() TradeoffStats {
	var s TradeoffStats
	var lat []float64
	var perSent, perAcked, unavail []float64
	for _, sd := range r.Seeds {
		if sd.Stalled {
			s.Stalled++
			continue
		}
		s.Seeds++
		s.Failures += sd.Failures
		s.Sent += sd.Sent
		s.Acked += sd.Acked
		lat = append(lat, sd.LatenciesMs...)
		if sd.Sent > 0 {
			perSent = append(perSent, 1000*float64(sd.Lost)/float64(sd.Sent))
			unavail = append(unavail, float64(sd.Refused+sd.Unknown)/float64(sd.Sent))
		}
		if sd.Acked > 0 {
			perAcked = append(perAcked, 1000*float64(sd.LostAcked)/float64(sd.Acked))
		}
	}
	s.LostPerKSent, s.LostPerKSentMax = tradeoffMeanMax(perSent)
	s.LostPerKAcked, s.LostPerKAckedMax = tradeoffMeanMax(perAcked)
	s.Unavailable, s.UnavailableMax = tradeoffMeanMax(unavail)
	slices.Sort(lat)
	s.P50, s.P90, s.P99, s.P999 = tradeoffQuantile(lat, 0.5), tradeoffQuantile(lat, 0.9), tradeoffQuantile(lat, 0.99), tradeoffQuantile(lat, 0.999)
	return s
}

func tradeoffMeanMax(v []float64) (mean, mx float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
		mx = max(mx, x)
	}
	return mean / float64(len(v)), mx
}

// tradeoffQuantile of sorted v (nearest rank); NaN when empty.
func tradeoffQuantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// TradeoffMeta describes the whole measurement.
type TradeoffMeta struct {
	Command    string
	Seeds      int
	DurationMs int64
	Wall       string // how long the measurement took
}

func tradeoffNum(v float64, digits int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

func tradeoffPct(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
}

// TradeoffMarkdown writes every table as Markdown, with links to the plots
// WriteTradeoffs makes (relative to its directory).
func TradeoffMarkdown(w io.Writer, meta TradeoffMeta, tables []TradeoffTable) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Trade-offs, measured\n\n")
	fmt.Fprintf(&b, "`%s`: %d seeds per row, %d s of faults each (virtual time), then faults heal and every partition is read back from the start. %s of wall time.\n\n",
		meta.Command, meta.Seeds, meta.DurationMs/1000, meta.Wall)
	fmt.Fprintf(&b, "Lost: sent (and not refused) but missing from the final read. Per 1,000 sent and per 1,000 acknowledged: mean over seeds (max in brackets). ")
	fmt.Fprintf(&b, "Unavailable: records refused or never acknowledged (timed out, retries exhausted), of those sent; acked /s: records acknowledged per virtual second (producers keep one batch in flight per partition and retry refusals, so unavailability also shows as lower throughput). Latency: ack latency in virtual ms over every seed's acknowledged records.\n\n")
	for _, t := range tables {
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", t.Title, t.Setup)
		b.WriteString("| configuration | acks | keeps | sent | lost /1,000 sent | lost /1,000 acked |")
		sep := "|---|---|---|---:|---:|---:|"
		if t.Availability {
			b.WriteString(" unavailable | acked /s |")
			sep += "---:|---:|"
		}
		b.WriteString(" p50 ms | p99 ms | sim failures | stalled |\n")
		b.WriteString(sep + "---:|---:|---:|---:|\n")
		for _, r := range t.Rows {
			s := r.Stats()
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s (%s) | %s (%s) |", r.Config, r.Acks, r.Keeps, s.Sent,
				tradeoffNum(s.LostPerKSent, 2), tradeoffNum(s.LostPerKSentMax, 2), tradeoffNum(s.LostPerKAcked, 2), tradeoffNum(s.LostPerKAckedMax, 2))
			if t.Availability {
				fmt.Fprintf(&b, " %s (%s) | %s |", tradeoffPct(s.Unavailable), tradeoffPct(s.UnavailableMax), tradeoffNum(s.AckedPerSec(meta.DurationMs), 0))
			}
			fmt.Fprintf(&b, " %s | %s | %d | %d/%d |\n", tradeoffNum(s.P50, 1), tradeoffNum(s.P99, 1), s.Failures, s.Stalled, s.Seeds+s.Stalled)
		}
		fmt.Fprintf(&b, "\n![%s: records lost per 1,000](%s)\n\n", t.Title, tradeoffLossName(t.Key))
	}
	b.WriteString("## Produce latency\n\nAck latency percentiles (virtual ms) for every choice above.\n\n")
	b.WriteString("| table | configuration | acks | p50 | p90 | p99 | p99.9 |\n|---|---|---|---:|---:|---:|---:|\n")
	for _, t := range tables {
		for _, r := range t.Rows {
			s := r.Stats()
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", t.Key, r.Config, r.Acks,
				tradeoffNum(s.P50, 1), tradeoffNum(s.P90, 1), tradeoffNum(s.P99, 1), tradeoffNum(s.P999, 1))
		}
	}
	b.WriteString("\n")
	for _, t := range tables {
		fmt.Fprintf(&b, "![%s: ack latency percentiles](%s)\n", t.Title, tradeoffLatencyName(t.Key))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// TradeoffCSV writes one line per row and seed, and the row's statistics.
func TradeoffCSV(w io.Writer, tables []TradeoffTable) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"table", "configuration", "acks", "seed", "stalled", "sent", "acked", "refused", "unknown", "lost", "lost_acked",
		"lost_per_1000_sent", "lost_per_1000_acked", "unavailable", "sim_failures", "p50_ms", "p90_ms", "p99_ms", "p999_ms"})
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	for _, t := range tables {
		for _, r := range t.Rows {
			for _, sd := range r.Seeds {
				one := TradeoffRow{Seeds: []TradeoffSeed{sd}}
				s := one.Stats()
				if sd.Stalled {
					s = TradeoffStats{LostPerKSent: math.NaN(), LostPerKAcked: math.NaN(), Unavailable: math.NaN(),
						P50: math.NaN(), P90: math.NaN(), P99: math.NaN(), P999: math.NaN()}
				}
				cw.Write([]string{t.Key, r.Config, r.Acks, strconv.FormatUint(sd.Seed, 10), strconv.FormatBool(sd.Stalled),
					strconv.Itoa(sd.Sent), strconv.Itoa(sd.Acked), strconv.Itoa(sd.Refused), strconv.Itoa(sd.Unknown),
					strconv.Itoa(sd.Lost), strconv.Itoa(sd.LostAcked), f(s.LostPerKSent), f(s.LostPerKAcked), f(s.Unavailable),
					strconv.Itoa(sd.Failures), f(s.P50), f(s.P90), f(s.P99), f(s.P999)})
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func tradeoffLossName(key string) string    { return "loss-" + key + ".png" }
func tradeoffLatencyName(key string) string { return "latency-" + key + ".png" }

var tradeoffColors = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xe1, 0x57, 0x59, 0xff}, {0x59, 0xa1, 0x4f, 0xff}, {0xf2, 0x8e, 0x2b, 0xff},
	{0xb0, 0x7a, 0xa1, 0xff}, {0x76, 0xb7, 0xb2, 0xff}, {0x9c, 0x75, 0x5f, 0xff}, {0xed, 0xc9, 0x48, 0xff},
}

func tradeoffRowLabel(r TradeoffRow) string {
	if r.Config == "" {
		return "acks=" + r.Acks
	}
	return r.Config + ", acks=" + r.Acks
}

// tradeoffBarLabel is a row's label under its bars: two short lines.
func tradeoffBarLabel(r TradeoffRow) string {
	if r.Config == "" {
		return "acks=" + r.Acks
	}
	return r.Config + "\nacks=" + r.Acks
}

// tradeoffLossPlot: grouped bars per row, records lost per 1,000 sent and per
// 1,000 acknowledged (means over seeds).
func tradeoffLossPlot(t TradeoffTable) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = t.Title + ": records lost per 1,000"
	p.Y.Label.Text = "lost per 1,000 (mean over seeds)"
	var sent, acked plotter.Values
	var names []string
	for _, r := range t.Rows {
		s := r.Stats()
		sent = append(sent, tradeoffZeroNaN(s.LostPerKSent))
		acked = append(acked, tradeoffZeroNaN(s.LostPerKAcked))
		names = append(names, tradeoffBarLabel(r))
	}
	w := vg.Points(14)
	for i, v := range []plotter.Values{sent, acked} {
		bars, err := plotter.NewBarChart(v, w)
		if err != nil {
			return nil, err
		}
		bars.LineStyle.Width = 0
		bars.Color = tradeoffColors[i]
		bars.Offset = w * vg.Length(2*i-1) / 2
		p.Add(bars)
		p.Legend.Add([]string{"per 1,000 sent", "per 1,000 acknowledged"}[i], bars)
	}
	p.Legend.Top = true
	p.NominalX(names...)
	p.Y.Min = 0
	p.Y.Max = max(p.Y.Max, 1) // an all-zero table still gets an axis
	return p, nil
}

func tradeoffZeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// tradeoffLatencyPlot: one percentile curve per row (latency against percentile,
// the x axis stretched toward the tail: −log10(1−q)).
func tradeoffLatencyPlot(t TradeoffTable) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = t.Title + ": ack latency"
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "ack latency (virtual ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	qs := []float64{0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999}
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{
		{Value: tradeoffTail(0.5), Label: "p50"}, {Value: tradeoffTail(0.9), Label: "p90"}, {Value: tradeoffTail(0.99), Label: "p99"}, {Value: tradeoffTail(0.999), Label: "p99.9"}})
	n := 0
	for i, r := range t.Rows {
		var lat []float64
		for _, sd := range r.Seeds {
			if !sd.Stalled {
				lat = append(lat, sd.LatenciesMs...)
			}
		}
		if len(lat) == 0 {
			continue
		}
		slices.Sort(lat)
		var xys plotter.XYs
		for _, q := range qs {
			// The log scale needs a positive floor.
			xys = append(xys, plotter.XY{X: tradeoffTail(q), Y: max(tradeoffQuantile(lat, q), 0.01)})
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		c := tradeoffColors[i%len(tradeoffColors)]
		l.Color, pts.Color = c, c
		l.Width = vg.Points(1.5)
		if i >= len(tradeoffColors) {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l, pts)
		p.Legend.Add(tradeoffRowLabel(r), l, pts)
		n++
	}
	p.Legend.Top, p.Legend.Left = true, true
	if n == 0 {
		p.Y.Min, p.Y.Max = 0.1, 1
	}
	return p, nil
}

func tradeoffTail(q float64) float64 { return -math.Log10(1 - q) }

// TradeoffPage is what the HTML page shows besides the tables.
type tradeoffPage struct {
	Meta   TradeoffMeta
	Tables []tradeoffPageTable
}

type tradeoffPageTable struct {
	TradeoffTable
	Stats         []TradeoffStats
	Loss, Latency string
}

var tradeoffTemplate = template.Must(template.New("tradeoffs").Funcs(template.FuncMap{
	"num": tradeoffNum, "pct": tradeoffPct, "add": func(a, b int) int { return a + b },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>sluice trade-offs</title>
<style>body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:nth-child(-n+3),th{text-align:left}img{max-width:100%}</style></head><body>
<h1>Trade-offs, measured</h1>
<p><code>{{.Meta.Command}}</code>: {{.Meta.Seeds}} seeds per row, faults for {{.Meta.DurationMs}} virtual ms each; {{.Meta.Wall}} of wall time.
Lost: sent (not refused) and missing from the final read of the partition. Mean over seeds, max in brackets.
Unavailable: records refused or never acknowledged; acked /s: records acknowledged per virtual second (producers keep one batch in flight per partition and retry refusals, so unavailability also shows as lower throughput). Latency: virtual ms.</p>
{{range .Tables}}<h2>{{.Title}}</h2><p>{{.Setup}}</p>
<table><tr><th>configuration</th><th>acks</th><th>keeps</th><th>sent</th><th>lost /1,000 sent</th><th>lost /1,000 acked</th>{{if .Availability}}<th>unavailable</th><th>acked /s</th>{{end}}<th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>sim failures</th><th>stalled</th></tr>
{{$t := .}}{{range $i, $r := .Rows}}{{$s := index $t.Stats $i}}<tr><td>{{$r.Config}}</td><td>{{$r.Acks}}</td><td>{{$r.Keeps}}</td><td>{{$s.Sent}}</td>
<td>{{num $s.LostPerKSent 2}} ({{num $s.LostPerKSentMax 2}})</td><td>{{num $s.LostPerKAcked 2}} ({{num $s.LostPerKAckedMax 2}})</td>
{{if $t.Availability}}<td>{{pct $s.Unavailable}} ({{pct $s.UnavailableMax}})</td><td>{{num ($s.AckedPerSec $.Meta.DurationMs) 0}}</td>{{end}}<td>{{num $s.P50 1}}</td><td>{{num $s.P90 1}}</td><td>{{num $s.P99 1}}</td><td>{{num $s.P999 1}}</td><td>{{$s.Failures}}</td><td>{{$s.Stalled}}/{{add $s.Seeds $s.Stalled}}</td></tr>
{{end}}</table>
<p><img src="{{.Loss}}" alt="records lost per 1,000"> <img src="{{.Latency}}" alt="ack latency percentiles"></p>
{{end}}<p>Data: <a href="tradeoffs.csv">tradeoffs.csv</a>, <a href="tradeoffs.md">tradeoffs.md</a>.</p>
</body></html>
`))

// WriteTradeoffs writes tradeoffs.md, tradeoffs.csv, index.html and two
// plots per table into dir.
func WriteTradeoffs(dir string, meta TradeoffMeta, tables []TradeoffTable) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, f func(io.Writer) error) error {
		out, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := f(out); err != nil {
			out.Close()
			return fmt.Errorf("reports: %s: %w", name, err)
		}
		return out.Close()
	}
	if err := write("tradeoffs.md", func(w io.Writer) error { return TradeoffMarkdown(w, meta, tables) }); err != nil {
		return err
	}
	if err := write("tradeoffs.csv", func(w io.Writer) error { return TradeoffCSV(w, tables) }); err != nil {
		return err
	}
	page := tradeoffPage{Meta: meta}
	for _, t := range tables {
		lp, err := tradeoffLossPlot(t)
		if err != nil {
			return err
		}
		if err := lp.Save(9*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, tradeoffLossName(t.Key))); err != nil {
			return fmt.Errorf("reports: loss plot %s: %w", t.Key, err)
		}
		qp, err := tradeoffLatencyPlot(t)
		if err != nil {
			return err
		}
		if err := qp.Save(9*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, tradeoffLatencyName(t.Key))); err != nil {
			return fmt.Errorf("reports: latency plot %s: %w", t.Key, err)
		}
		pt := tradeoffPageTable{TradeoffTable: t, Loss: tradeoffLossName(t.Key), Latency: tradeoffLatencyName(t.Key)}
		for _, r := range t.Rows {
			pt.Stats = append(pt.Stats, r.Stats())
		}
		page.Tables = append(page.Tables, pt)
	}
	return write("index.html", func(w io.Writer) error { return tradeoffTemplate.Execute(w, page) })
}
