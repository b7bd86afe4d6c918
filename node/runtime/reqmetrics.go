package runtime

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestMetrics counts every Kafka request a broker answers, per API:
// how many, how long from the frame read to the response written, and
// the bytes both ways. They are kept whether or not /metrics is served
// (a few atomic adds per request), and registered by ServeMetrics.
type requestMetrics struct {
	count    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	in, out  *prometheus.CounterVec
	byKey    [kmsg.MaxKey + 1]apiMetrics
	fallback apiMetrics
}

// apiMetrics are one API's series, resolved once (no label lookup per
// request).
type apiMetrics struct {
	count, in, out prometheus.Counter
	latency        prometheus.Observer
}

func newRequestMetrics() *requestMetrics {
	m := &requestMetrics{
		count: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_requests_total",
			Help: "Kafka requests answered (or, under acks=0, completed), by API."}, []string{"api"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_request_duration_seconds",
			Help:    "Time from a request's frame read to its response written, by API (a long-polling fetch counts its wait).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}, []string{"api"}),
		in: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_request_bytes_total",
			Help: "Request frame bytes read, by API."}, []string{"api"}),
		out: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_response_bytes_total",
			Help: "Response frame bytes written, by API."}, []string{"api"}),
	}
	resolve := func(name string) apiMetrics {
		return apiMetrics{count: m.count.WithLabelValues(name), in: m.in.WithLabelValues(name),
			out: m.out.WithLabelValues(name), latency: m.latency.WithLabelValues(name)}
	}
	for k := range m.byKey {
		if name := kmsg.NameForKey(int16(k)); name != "" {
			m.byKey[k] = resolve(name)
		}
	}
	m.fallback = resolve("Unknown")
	return m
}

func (m *requestMetrics) api(key int16) *apiMetrics {
	if key >= 0 && int(key) < len(m.byKey) && m.byKey[key].count != nil {
		return &m.byKey[key]
	}
	return &m.fallback
}

// done records one request of API key: its frame size, its response's
// (0: none written), and when its frame was read.
func (m *requestMetrics) done(key int16, inBytes, outBytes int, start time.Time) {
	a := m.api(key)
	a.count.Inc()
	a.in.Add(float64(inBytes))
	a.out.Add(float64(outBytes))
	a.latency.Observe(time.Since(start).Seconds())
}

func (m *requestMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.count, m.latency, m.in, m.out}
}
