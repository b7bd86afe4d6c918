package runtime

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/raftlog/writer"
)

// commitMetrics describe the broker's group commits (raftlog/writer
// cycles): how many, synced how, and how long each took from its first
// write to its last sync. Kept whether or not /metrics is served.
type commitMetrics struct {
	cycles        *prometheus.CounterVec
	whole, byFile prometheus.Counter
	duration      prometheus.Histogram
	files         prometheus.Histogram
}

func newCommitMetrics() *commitMetrics {
	m := &commitMetrics{
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_group_commits_total",
			Help: `Group commits (one write-and-sync cycle for every partition's pending writes), by how they synced: "whole" (one syncfs of the data directory's file system) or "file" (an fdatasync per file).`},
			[]string{"sync"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_group_commit_duration_seconds",
			Help: "Time a group commit took, from its first write to its last sync.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		files: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_group_commit_files",
			Help: "Files a group commit wrote and synced.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
	}
	m.whole, m.byFile = m.cycles.WithLabelValues("whole"), m.cycles.WithLabelValues("file")
	return m
}

// cycle records one group commit (writer.Writer.OnCycle).
func (m *commitMetrics) cycle(s writer.CycleStats) {
	if s.WholeSync {
		m.whole.Inc()
	} else {
		m.byFile.Inc()
	}
	m.duration.Observe(time.Duration(s.Nanos).Seconds())
	m.files.Observe(float64(s.Files))
}

func (m *commitMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.cycles, m.duration, m.files}
}
