package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// progress shows how far a sluice sim run has got. On a terminal it keeps
// a bar on the last line, redrawn as virtual time advances; anywhere else
// (a CI log) it writes a plain line every heartbeat instead, so a log
// stays readable and still shows that a long seed is alive. Lines printed
// through it appear above the bar.
type progress struct {
	w         io.Writer
	tty       bool
	heartbeat time.Duration
	total     int // seeds to run
	done      int
	failed    int
	start     time.Time
	current   string // the seed running now
	virtualMs int64
	drawn     time.Time // last redraw of the bar
	lastLine  time.Time // last line printed
	barShown  bool
}

func newProgress(w io.Writer, total int) *progress {
	now := time.Now()
	return &progress{w: w, tty: isTerminal(w), heartbeat: 30 * time.Second, total: total, start: now, lastLine: now}
}

// isTerminal: w is a character device and the terminal can redraw a line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// begin: a seed starts.
func (p *progress) begin(scenario string, seed uint64) {
	p.current, p.virtualMs = fmt.Sprintf("%s seed %d", scenario, seed), 0
	p.draw(true)
}

// tick: the running seed reached virtual time nowMs (called every virtual
// second).
func (p *progress) tick(nowMs int64) {
	p.virtualMs = nowMs
	if !p.tty && time.Since(p.lastLine) >= p.heartbeat {
		p.printf("... %d of %d seeds done (%d failed), %s at %ds virtual, %s elapsed",
			p.done, p.total, p.failed, p.current, nowMs/1000, time.Since(p.start).Round(time.Second))
		return
	}
	p.draw(false)
}

// end: the running seed finished.
func (p *progress) end(failed bool) {
	p.done++
	if failed {
		p.failed++
	}
	p.current = ""
	p.draw(true)
}

// printf prints a line above the bar.
func (p *progress) printf(format string, args ...any) {
	p.clear()
	fmt.Fprintf(p.w, format+"\n", args...)
	p.lastLine = time.Now()
	p.draw(true)
}

// finish removes the bar: what follows is the run's summary.
func (p *progress) finish() { p.clear() }

func (p *progress) clear() {
	if p.barShown {
		fmt.Fprint(p.w, "\r\033[K")
		p.barShown = false
	}
}

// draw redraws the bar, at most ten times a second unless forced.
func (p *progress) draw(force bool) {
	if !p.tty || (!force && time.Since(p.drawn) < 100*time.Millisecond) {
		return
	}
	p.drawn = time.Now()
	const width = 30
	filled := width * p.done / max(p.total, 1)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	elapsed := time.Since(p.start)
	line := fmt.Sprintf("[%s] %d/%d seeds", bar, p.done, p.total)
	if p.failed > 0 {
		line += fmt.Sprintf(", %d FAILED", p.failed)
	}
	if p.current != "" {
		line += fmt.Sprintf(" · %s at %ds virtual", p.current, p.virtualMs/1000)
	}
	line += " · " + elapsed.Round(time.Second).String()
	if p.done > 0 && p.done < p.total {
		left := elapsed / time.Duration(p.done) * time.Duration(p.total-p.done)
		line += fmt.Sprintf(" (~%s left)", left.Round(time.Second))
	}
	fmt.Fprint(p.w, "\r\033[K"+line)
	p.barShown = true
}

// scenarioRow is one scenario's line of the summary table.
type scenarioRow struct {
	name       string
	seeds      int
	violations int
	virtualMs  int64
	wall       time.Duration
	failing    []uint64
}

// printTable writes the summary table: a row per scenario and a total.
func printTable(w io.Writer, rows []*scenarioRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tseeds\tfailed\tviolations\tvirtual\twall\tfailing seeds")
	row := func(r *scenarioRow, failed int, failing string) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1fs\t%.1fs\t%s\n", r.name, r.seeds, failed, r.violations,
			float64(r.virtualMs)/1e3, r.wall.Seconds(), failing)
	}
	total := scenarioRow{name: "total"}
	failed := 0
	for _, r := range rows {
		row(r, len(r.failing), seedList(r.failing))
		total.seeds += r.seeds
		total.violations += r.violations
		total.virtualMs += r.virtualMs
		total.wall += r.wall
		failed += len(r.failing)
	}
	row(&total, failed, "")
	tw.Flush()
}

// seedList shows up to ten seeds.
func seedList(seeds []uint64) string {
	var parts []string
	for i, s := range seeds {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("... (%d more)", len(seeds)-10))
			break
		}
		parts = append(parts, fmt.Sprint(s))
	}
	return strings.Join(parts, " ")
}
