package reports

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The three plots of a run share one time axis (virtual seconds from the
// start of the run to its end) and one colour per fault kind, so a dip in
// throughput lines up with the fault shaded behind it and with that
// fault's bar on the timeline.

const plotW = 10 * vg.Inch

// palette: distinct colours for fault kinds (Tableau 10, then more).
var palette = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff}, {0x76, 0xb7, 0xb2, 0xff},
	{0x59, 0xa1, 0x4f, 0xff}, {0xed, 0xc9, 0x48, 0xff}, {0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff},
	{0x9c, 0x75, 0x5f, 0xff}, {0xba, 0xb0, 0xac, 0xff}, {0x17, 0xbe, 0xcf, 0xff}, {0x7f, 0x3c, 0x8d, 0xff},
	{0x11, 0xa5, 0x79, 0xff}, {0x3b, 0x3b, 0x98, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
}

// kindColors gives every fault kind of the run a colour, kinds in
// alphabetical order.
func kindColors(spans []Span) map[string]color.RGBA {
	var kinds []string
	for _, s := range spans {
		if !slices.Contains(kinds, s.Kind) {
			kinds = append(kinds, s.Kind)
		}
	}
	slices.Sort(kinds)
	out := make(map[string]color.RGBA, len(kinds))
	for i, k := range kinds {
		out[k] = kindColor(i)
	}
	return out
}

// kindColor is the palette's i-th colour; past its end, hues spread by the
// golden angle, so that no two kinds of a run share a colour.
func kindColor(i int) color.RGBA {
	if i < len(palette) {
		return palette[i]
	}
	h := math.Mod(float64(i-len(palette))*0.618033988749895+0.1, 1) * 6
	const s, v = 0.55, 0.8
	f := h - math.Floor(h)
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	var r, g, b float64
	switch int(h) {
	case 0:
		r, g, b = v, t, p
	case 1:
		r, g, b = q, v, p
	case 2:
		r, g, b = p, v, t
	case 3:
		r, g, b = p, q, v
	case 4:
		r, g, b = t, p, v
	default:
		r, g, b = v, p, q
	}
	return color.RGBA{R: uint8(r * 255), G: uint8(g * 255), B: uint8(b * 255), A: 0xff}
}

func newPlot(title, y string, r *Run) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "virtual time (s)"
	p.Y.Label.Text = y
	p.X.Min, p.X.Max = 0, math.Max(float64(r.VirtualNs)/1e9, 0.001)
	p.Add(plotter.NewGrid())
	return p
}

func textStyle(size vg.Length, c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(plot.DefaultFont, size), Handler: plot.DefaultTextHandler}
}

// minSpanWidth: an instantaneous fault is still drawn, this wide.
const minSpanWidth = vg.Length(2)

// spanX is a span's left and right edge on the canvas.
func spanX(s Span, trX func(float64) vg.Length) (vg.Length, vg.Length) {
	x0, x1 := trX(float64(s.StartNs)/1e9), trX(float64(s.EndNs)/1e9)
	if x1-x0 < minSpanWidth {
		x1 = x0 + minSpanWidth
	}
	return x0, x1
}

func rect(x0, y0, x1, y1 vg.Length) []vg.Point {
	return []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
}

// timelineBars draws each fault as a bar on its brokers' rows (or the
// network's), labelled with its kind where the label fits.
type timelineBars struct {
	spans  []Span
	rows   []string // top to bottom
	colors map[string]color.RGBA
}

// y is the plot coordinate of row i (the top row is highest).
func (t timelineBars) y(i int) float64 { return float64(len(t.rows) - 1 - i) }

func (t timelineBars) rowsOf(s Span) []int {
	if len(s.Nodes) == 0 {
		return []int{len(t.rows) - 1}
	}
	var out []int
	for _, n := range s.Nodes {
		if i := slices.Index(t.rows, brokerRow(n)); i >= 0 {
			out = append(out, i)
		}
	}
	return out
}

// lanes gives every (span, row) pair a lane within its row, so that
// overlapping faults on one broker sit one above the other instead of
// hiding each other: lane[i][k] is the lane of span i on its k-th row,
// count[row] the lanes the row needs.
func (t timelineBars) lanes() (lane [][]int, count []int) {
	count = make([]int, len(t.rows))
	ends := make([][]int64, len(t.rows)) // per row, per lane: where its last span ends
	lane = make([][]int, len(t.spans))
	for i, s := range t.spans {
		for _, row := range t.rowsOf(s) {
			l := slices.IndexFunc(ends[row], func(end int64) bool { return end <= s.StartNs })
			if l < 0 {
				l = len(ends[row])
				ends[row] = append(ends[row], 0)
			}
			ends[row][l] = max(s.EndNs, s.StartNs+1)
			lane[i] = append(lane[i], l)
			count[row] = max(count[row], l+1)
		}
	}
	return lane, count
}

func (t timelineBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	label := textStyle(vg.Points(7), color.Black)
	labelEnd := make([]vg.Length, len(t.rows)) // right edge of the last label drawn on each row
	for i := range labelEnd {
		labelEnd[i] = vg.Length(math.Inf(-1))
	}
	lane, count := t.lanes()
	for i, s := range t.spans {
		for k, row := range t.rowsOf(s) {
			x0, x1 := spanX(s, trX)
			h := 0.6 / float64(count[row])
			y0 := t.y(row) - 0.3 + float64(count[row]-1-lane[i][k])*h // lane 0 on top
			c.FillPolygon(t.colors[s.Kind], c.ClipPolygonXY(rect(x0, trY(y0), x1, trY(y0+h)-vg.Points(0.5))))
			top := trY(t.y(row) + 0.3)
			if w := label.Width(s.Kind); x0 >= labelEnd[row]+vg.Points(3) && x0+w <= c.Max.X {
				c.FillText(label, vg.Point{X: x0, Y: top + vg.Points(1)}, s.Kind)
				labelEnd[row] = x0 + w
			}
		}
	}
}

func (t timelineBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	return 0, 0, -0.6, float64(len(t.rows)) - 0.2
}

// shading marks the faults behind a plot's lines, in their kinds' colours,
// and the end of the fault phase with a dashed line.
type shading struct {
	spans  []Span
	colors map[string]color.RGBA
	endS   float64
}

func (s shading) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, sp := range s.spans {
		x0, x1 := spanX(sp, trX)
		col := s.colors[sp.Kind]
		c.FillPolygon(color.NRGBA{R: col.R, G: col.G, B: col.B, A: 0x40}, c.ClipPolygonX(rect(x0, c.Min.Y, x1, c.Max.Y)))
	}
	if s.endS > 0 && s.endS <= p.X.Max {
		x := trX(s.endS)
		ls := draw.LineStyle{Color: color.Gray{Y: 60}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
		c.StrokeLine2(ls, x, c.Min.Y, x, c.Max.Y)
		const txt = "faults stop, network heals"
		lbl := textStyle(vg.Points(8), color.Gray{Y: 60})
		lbl.XAlign, lbl.YAlign = draw.XLeft, draw.YTop
		at := x + vg.Points(3)
		if at+lbl.Width(txt) > c.Max.X { // no room on the right: write it on the left
			lbl.XAlign, at = draw.XRight, x-vg.Points(3)
		}
		c.FillText(lbl, vg.Point{X: at, Y: c.Max.Y - vg.Points(2)}, txt)
	}
}

func timelinePlot(r *Run, colors map[string]color.RGBA) (*plot.Plot, vg.Length) {
	rows := timelineRows(r)
	p := newPlot(fmt.Sprintf("fault timeline: %d faults (%s, seed %d)", len(r.Faults), r.Scenario.Name, r.Seed), "", r)
	p.Add(shading{endS: float64(r.FaultsEndNs) / 1e9})
	bars := timelineBars{spans: r.Faults, rows: rows, colors: colors}
	p.Add(bars)
	ticks := make([]plot.Tick, len(rows))
	for i, name := range rows {
		ticks[i] = plot.Tick{Value: bars.y(i), Label: name}
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min, p.Y.Max = -0.6, float64(len(rows))-0.2
	return p, vg.Inch + vg.Length(len(rows))*0.45*vg.Inch
}

// line adds a polyline of (x, y) to p in colour i of plotutil's palette,
// broken where y is NaN, and one legend entry for it.
func line(p *plot.Plot, name string, i int, dashed bool, xs, ys []float64) error {
	var legend *plotter.Line
	var seg plotter.XYs
	flush := func() error {
		if len(seg) == 0 {
			return nil
		}
		l, err := plotter.NewLine(seg)
		if err != nil {
			return err
		}
		l.Color = plotutil.DarkColors[i%len(plotutil.DarkColors)]
		l.Width = vg.Points(1.5)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
		if len(seg) == 1 { // a lone point still shows
			sc, err := plotter.NewScatter(seg)
			if err != nil {
				return err
			}
			sc.Color, sc.Radius, sc.Shape = l.Color, vg.Points(1.5), draw.CircleGlyph{}
			p.Add(sc)
		}
		if legend == nil {
			legend = l
			p.Legend.Add(name, l)
		}
		seg = nil
		return nil
	}
	for j, y := range ys {
		if math.IsNaN(y) {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		seg = append(seg, plotter.XY{X: xs[j], Y: y})
	}
	return flush()
}

// midS is the midpoint of every bucket, in seconds.
func (s series) midS() []float64 {
	out := make([]float64, len(s.startS))
	for i, t := range s.startS {
		out[i] = t + float64(s.bucketNs)/2e9
	}
	return out
}

func bucketName(ns int64) string {
	if ns >= 1e9 {
		return fmt.Sprintf("%d s", ns/1e9)
	}
	return fmt.Sprintf("%d ms", ns/1e6)
}

func throughputPlot(r *Run, s series, colors map[string]color.RGBA) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("client throughput (%s buckets; faults shaded)", bucketName(s.bucketNs)), "per virtual second", r)
	p.Add(shading{spans: r.Faults, colors: colors, endS: float64(r.FaultsEndNs) / 1e9})
	xs := s.midS()
	ymax := 0.0
	for i, l := range []struct {
		name   string
		ys     []float64
		dashed bool
	}{{"sends acknowledged", s.ackedPerS, false}, {"polls answered", s.pollsPerS, false}, {"sends given up (refused or unknown)", s.gaveUpPerS, true}} {
		for _, y := range l.ys {
			ymax = math.Max(ymax, y)
		}
		if err := line(p, l.name, i, l.dashed, xs, l.ys); err != nil {
			return nil, err
		}
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Y.Min, p.Y.Max = 0, math.Max(ymax*1.35, 1) // room for the legend
	return p, nil
}

func latencyPlot(r *Run, s series, colors map[string]color.RGBA) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("produce-ack latency, acks=all, first attempt to acknowledgement (%s buckets; faults shaded)", bucketName(s.bucketNs)), "ms (log scale)", r)
	p.Add(shading{spans: r.Faults, colors: colors, endS: float64(r.FaultsEndNs) / 1e9})
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, ys := range [][]float64{s.p50Ms, s.p99Ms} {
		for _, y := range ys {
			if !math.IsNaN(y) {
				lo, hi = math.Min(lo, y), math.Max(hi, y)
			}
		}
	}
	if s.acksAll == 0 {
		p.Title.Text = "produce-ack latency: no acks=all send was acknowledged"
		p.Y.Min, p.Y.Max = 0, 1
		return p, nil
	}
	lo = math.Max(lo, 0.001) // a log axis cannot show 0
	xs := s.midS()
	clamp := func(ys []float64) []float64 {
		out := make([]float64, len(ys))
		for i, y := range ys {
			out[i] = y
			if !math.IsNaN(y) {
				out[i] = math.Max(y, lo)
			}
		}
		return out
	}
	if err := line(p, "p50", 0, false, xs, clamp(s.p50Ms)); err != nil {
		return nil, err
	}
	if err := line(p, "p99", 2, false, xs, clamp(s.p99Ms)); err != nil {
		return nil, err
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = ticks125{}
	// Room above the lines for the legend, and at least a decade shown.
	p.Y.Min, p.Y.Max = lo/1.5, math.Max(hi*4, lo*10)
	return p, nil
}

// ticks125 marks a log axis at 1, 2 and 5 times each power of ten,
// labelled, with unlabelled minor ticks between: a latency axis often
// spans less than two decades, where powers of ten alone leave one label.
type ticks125 struct{}

func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for e := int(math.Floor(math.Log10(lo))); e <= int(math.Ceil(math.Log10(hi))); e++ {
		for m := 1; m <= 9; m++ {
			// m×10^e parsed from text is the double nearest to it, which
			// prints back as written (0.005, not 0.005000000000000001).
			v, _ := strconv.ParseFloat(fmt.Sprintf("%de%d", m, e), 64)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'f', -1, 64)
			}
			out = append(out, t)
		}
	}
	return out
}

const trafficH = 3.6 * vg.Inch

// writePlots saves the timeline, throughput and latency plots each alone,
// and stacked in one figure whose time axes line up (plot.Align).
func writePlots(dir string, r *Run, s series, colors map[string]color.RGBA) error {
	tl, tlH := timelinePlot(r, colors)
	tp, err := throughputPlot(r, s, colors)
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	lp, err := latencyPlot(r, s, colors)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	for _, f := range []struct {
		p    *plot.Plot
		h    vg.Length
		name string
	}{{tl, tlH, FileTimeline}, {tp, trafficH, FileThroughput}, {lp, trafficH, FileLatency}} {
		if err := f.p.Save(plotW, f.h, filepath.Join(dir, f.name)); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	c := vgimg.New(plotW, 3*trafficH)
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 3, Cols: 1, PadY: vg.Points(6), PadTop: vg.Points(2), PadBottom: vg.Points(2), PadLeft: vg.Points(4)}
	for i, cs := range plot.Align([][]*plot.Plot{{tl}, {tp}, {lp}}, tiles, dc) {
		[]*plot.Plot{tl, tp, lp}[i].Draw(cs[0])
	}
	f, err := os.Create(filepath.Join(dir, FileOverview))
	if err != nil {
		return err
	}
	_, err = vgimg.PngCanvas{Canvas: c}.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
