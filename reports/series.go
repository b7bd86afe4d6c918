package reports

import (
	"math"
	"slices"

	"sluice/checker"
)

// series is a run's client traffic over virtual time, in buckets of equal
// width. Rates are per virtual second whatever the bucket width.
type series struct {
	bucketNs int64
	startS   []float64 // each bucket's start, virtual seconds
	// ackedPerS: sends acknowledged (any acks setting) by completion time.
	// gaveUpPerS: sends with acks=1 or acks=all that completed without an
	// acknowledgement (refused, or the client gave up: outcome unknown).
	// pollsPerS: polls answered.
	ackedPerS, gaveUpPerS, pollsPerS []float64
	// p50Ms, p99Ms: produce-ack latency of acks=all sends acknowledged in
	// the bucket, from the first attempt to the acknowledgement (retries
	// included); NaN where none was.
	p50Ms, p99Ms []float64
	// acksAll counts the latencies measured over the whole run.
	acksAll int
}

// bucketWidthNs is one virtual second, or finer for short runs so that a
// fault of a few hundred milliseconds still shows: at most about 60
// buckets, and never under 100 ms.
func bucketWidthNs(virtualNs int64) int64 {
	for _, b := range []int64{100e6, 250e6, 500e6} {
		if virtualNs <= 60*b {
			return b
		}
	}
	return 1e9
}

func computeSeries(h checker.History, virtualNs int64) series {
	width := bucketWidthNs(virtualNs)
	n := int(max(virtualNs, 1)+width-1) / int(width)
	s := series{bucketNs: width, startS: make([]float64, n), ackedPerS: make([]float64, n), gaveUpPerS: make([]float64, n),
		pollsPerS: make([]float64, n), p50Ms: make([]float64, n), p99Ms: make([]float64, n)}
	bucket := func(ns int64) int { return min(int(ns/width), n-1) }
	lat := make([][]float64, n)
	perS := 1e9 / float64(width)
	for _, snd := range h.Sends {
		if snd.Complete < 0 {
			continue
		}
		b := bucket(snd.Complete)
		switch {
		case snd.Outcome == checker.OK:
			s.ackedPerS[b] += perS
			if snd.Acks == checker.AcksAll {
				lat[b] = append(lat[b], float64(snd.Complete-snd.Invoke)/1e6)
				s.acksAll++
			}
		case snd.Acks != checker.AcksNone:
			s.gaveUpPerS[b] += perS
		}
	}
	for _, p := range h.Polls {
		if p.Complete >= 0 && p.Outcome == checker.OK {
			s.pollsPerS[bucket(p.Complete)] += perS
		}
	}
	for i := range n {
		s.startS[i] = float64(int64(i)*width) / 1e9
		slices.Sort(lat[i])
		s.p50Ms[i], s.p99Ms[i] = quantile(lat[i], 0.50), quantile(lat[i], 0.99)
	}
	return s
}

// quantile is the nearest-rank q-quantile of sorted values; NaN for none.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}
