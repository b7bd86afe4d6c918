package bench

import (
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// histMaxUs is the largest latency recorded (2 minutes); longer ones are
// recorded as this.
const histMaxUs = 120_000_000

// hist is an HdrHistogram of latencies in microseconds (3 significant
// digits), safe for concurrent use.
type hist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newHist() *hist { return &hist{h: hdrhistogram.New(1, histMaxUs, 3)} }

func (h *hist) record(d time.Duration) {
	us := max(1, min(d.Microseconds(), histMaxUs))
	h.mu.Lock()
	_ = h.h.RecordValue(us) // in range by construction
	h.mu.Unlock()
}

// merged returns one histogram holding every value of hs.
func merged(hs []*hist) *hdrhistogram.Histogram {
	out := hdrhistogram.New(1, histMaxUs, 3)
	for _, h := range hs {
		h.mu.Lock()
		out.Merge(h.h)
		h.mu.Unlock()
	}
	return out
}

// Latency summarises a latency histogram, in milliseconds.
type Latency struct {
	Count   int64   `json:"count"`
	MeanMs  float64 `json:"mean_ms"`
	P50Ms   float64 `json:"p50_ms"`
	P90Ms   float64 `json:"p90_ms"`
	P99Ms   float64 `json:"p99_ms"`
	P999Ms  float64 `json:"p99_9_ms"`
	P9999Ms float64 `json:"p99_99_ms"`
	MaxMs   float64 `json:"max_ms"`
	// Curve is the percentile curve from p0 to p99.99 (and the max), for
	// plots.
	Curve []CurvePoint `json:"curve"`
}

// CurvePoint is one point of a percentile curve.
type CurvePoint struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
	l := Latency{Count: h.TotalCount()}
	if l.Count == 0 {
		return l
	}
	l.MeanMs = h.Mean() / 1e3
	l.P50Ms, l.P90Ms, l.P99Ms, l.P999Ms, l.P9999Ms = ms(50), ms(90), ms(99), ms(99.9), ms(99.99)
	l.MaxMs = float64(h.Max()) / 1e3
	// Points evenly spaced in "nines": p = 100·(1 − 10^−x), x from 0 to 4.
	for x := 0.0; x <= 4.0001; x += 0.1 {
		p := 100 * (1 - math.Pow(10, -x))
		l.Curve = append(l.Curve, CurvePoint{Percentile: p, Ms: ms(p)})
	}
	return l
}
