package runtime

// A broker's Prometheus endpoint (issues 8 and 9): requests per API (count,
// latency histogram, bytes; reqmetrics.go), broker gauges read from the
// node core at scrape time (replicas, leaders, under-replicated and
// offline partitions, disk free space), per-partition raft state (leader,
// term, ISR size, replicas, high watermark, log end), record bytes in and
// out per topic, and consumer lag — Kafka has no lag metrics of its own
// (operators run an exporter beside it), so sluice builds the exporter in.
//
// Consumer lag. Each broker reports only the groups whose coordinator is
// active on it (node.CoordinatedGroups), so the cluster's endpoints
// together report every group once. A poller samples, every
// LagPollInterval, those groups' committed offsets (OffsetFetch) and the
// high watermarks of the partitions they committed to (ListOffsets), with
// a kadm client of its own against the broker's listener — the same
// requests an external exporter sends, so what it reports is what clients
// see.
//
// Lag in seconds follows kafka-lag-exporter: per partition, a bounded
// table of (high watermark, wall time) samples, one per poll, says when
// the log end passed each offset. The time lag of a committed offset c is
// now − t(c), where t(c) is interpolated linearly between the two samples
// around c: the moment the record the group must read next was appended,
// give or take the poll interval. A group caught up (c ≥ the latest high
// watermark) lags 0 s. Details:
//   - a run of samples at one offset keeps only its first and last point
//     (the last is the latest moment the log still ended there, the best
//     bound for when the next record came);
//   - below the oldest sample, t(c) is extrapolated at the table's average
//     rate (or taken as the oldest sample's time when no record was
//     produced over the table), so it is an estimate that is at least
//     now − oldest sample;
//   - a full table drops the interior sample that interpolation from its
//     neighbours predicts best, so it keeps covering its whole span, and
//     the corners where the produce rate changed, rather than forgetting
//     the oldest samples;
//   - a high watermark below the last sample (a deleted and re-created
//     topic) starts the table afresh.
//
// Bounds: MaxLagGroups groups per broker (by name), MaxLagSeries
// (group, topic, partition) series, LagSamples samples per partition; what
// the bounds leave out is counted in sluice_consumergroup_lag_series_dropped.

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"sluice/node"
)

// MetricsOptions configures a broker's metrics endpoint.
type MetricsOptions struct {
	// LagPollInterval is how often consumer lag is sampled (default 5 s).
	// It is also the resolution of the lag in seconds.
	LagPollInterval time.Duration
	// MaxLagGroups bounds the groups reported per broker (default 1,000).
	MaxLagGroups int
	// MaxLagSeries bounds the (group, topic, partition) series reported
	// per broker (default 10,000).
	MaxLagSeries int
	// LagSamples bounds the high-watermark samples kept per partition
	// (default 120).
	LagSamples int
	// ScrapeTimeout bounds the wait for the event loop during a scrape
	// (default 5 s).
	ScrapeTimeout time.Duration
	// MaxPartitionSeries bounds the partitions reported per broker with
	// per-partition series (default 10,000; the rest are counted in
	// sluice_partition_series_dropped).
	MaxPartitionSeries int
}

func (o MetricsOptions) withDefaults() MetricsOptions {
	if o.LagPollInterval <= 0 {
		o.LagPollInterval = 5 * time.Second
	}
	if o.MaxLagGroups <= 0 {
		o.MaxLagGroups = 1000
	}
	if o.MaxLagSeries <= 0 {
		o.MaxLagSeries = 10000
	}
	if o.LagSamples < 3 {
		o.LagSamples = 120
	}
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = 5 * time.Second
	}
	if o.MaxPartitionSeries <= 0 {
		o.MaxPartitionSeries = 10000
	}
	return o
}

// MetricsServer serves one broker's /metrics over HTTP.
type MetricsServer struct {
	srv  *http.Server
	addr string
	lag  *lagCollector
	done chan struct{}
}

// ServeMetrics serves b's metrics on ln (which it owns from now on) at
// /metrics, and starts sampling consumer lag.
func ServeMetrics(b *Broker, ln net.Listener, opts MetricsOptions) (*MetricsServer, error) {
	opts = opts.withDefaults()
	lag, err := newLagCollector(b, opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	sluiceReg := prometheus.WrapRegistererWith(prometheus.Labels{"broker": strconv.Itoa(int(b.opts.ID))}, reg)
	sluiceReg.MustRegister(&brokerCollector{b: b, timeout: opts.ScrapeTimeout, maxSeries: opts.MaxPartitionSeries}, lag)
	sluiceReg.MustRegister(b.reqs.collectors()...)
	sluiceReg.MustRegister(b.commits.collectors()...)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	m := &MetricsServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		addr: ln.Addr().String(), lag: lag, done: make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			b.log.Warn("metrics server stopped", "err", err)
		}
	}()
	lag.start()
	b.log.Info("metrics listening", "addr", m.addr)
	return m, nil
}

// Addr is the address the endpoint listens on.
func (m *MetricsServer) Addr() string { return m.addr }

// Close stops the endpoint and the lag poller.
func (m *MetricsServer) Close() {
	m.srv.Close()
	<-m.done
	m.lag.stop()
}

// doTimeout runs f on b's event loop and waits at most timeout; false if
// the broker stopped or the loop did not get to it in time (f may then
// still run later, so it must only write what it owns).
func doTimeout(b *Broker, timeout time.Duration, f func(n *node.Node)) bool {
	select {
	case <-b.stopped:
		return false
	default:
	}
	done := make(chan struct{})
	b.post(func() {
		f(b.n)
		close(done)
	})
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-b.stopped:
		return false
	case <-t.C:
		return false
	}
}

// brokerCollector reports gauges read from the node core at scrape time.
type brokerCollector struct {
	b         *Broker
	timeout   time.Duration
	maxSeries int
}

var (
	descPartitions = prometheus.NewDesc("sluice_broker_partitions",
		"Partition replicas hosted by this broker (the metadata group and __consumer_offsets included).", nil, nil)
	descLeaders = prometheus.NewDesc("sluice_broker_leader_partitions",
		"Partitions this broker leads.", nil, nil)
	descStopped = prometheus.NewDesc("sluice_broker_stopped_partitions",
		"Replicas stopped by a storage error, or not yet opened because of one (they reopen once the disk is healthy).", nil, nil)
	descQuiesced = prometheus.NewDesc("sluice_broker_quiesced_partitions",
		"Replicas idle enough to stop ticking.", nil, nil)
	descUnderISR = prometheus.NewDesc("sluice_broker_under_replicated_partitions",
		"Partitions this broker leads whose in-sync replicas are fewer than their voters (Kafka's UnderReplicatedPartitions).", nil, nil)
	descController = prometheus.NewDesc("sluice_broker_is_controller",
		"1 if this broker leads the metadata group (the controller).", nil, nil)
	descConnections = prometheus.NewDesc("sluice_broker_connections",
		"Open Kafka client connections.", nil, nil)
	descCoordinated = prometheus.NewDesc("sluice_broker_coordinated_groups",
		"Consumer groups whose coordinator is active on this broker.", nil, nil)
	descUnknownMsgs = prometheus.NewDesc("sluice_broker_unknown_group_messages_total",
		"Raft messages dropped because this broker does not host their group.", nil, nil)
	descUp = prometheus.NewDesc("sluice_broker_up",
		"1 if the broker's event loop answered this scrape in time.", nil, nil)
	descOffline = prometheus.NewDesc("sluice_broker_offline_partitions",
		"Hosted partitions with no leader known to this broker (Kafka's OfflinePartitionsCount, as one replica sees it).", nil, nil)
	descDiskFree = prometheus.NewDesc("sluice_broker_disk_free_bytes",
		"Free space of the data directory's file system, as last read.", nil, nil)
	descDiskLow = prometheus.NewDesc("sluice_broker_disk_low",
		"1 while free space is below the threshold and produce is refused with KAFKA_STORAGE_ERROR.", nil, nil)
	descTopicIn = prometheus.NewDesc("sluice_topic_bytes_in_total",
		"Record bytes produced into the topic's partitions this broker leads.", []string{"topic"}, nil)
	descTopicOut = prometheus.NewDesc("sluice_topic_bytes_out_total",
		"Record bytes of the topic returned by this broker's fetches (consumers and Kafka-protocol fetchers).", []string{"topic"}, nil)

	partLabels   = []string{"topic", "partition"}
	descPLeader  = prometheus.NewDesc("sluice_partition_leader", "The partition's leader as this replica knows it (0: none).", partLabels, nil)
	descPTerm    = prometheus.NewDesc("sluice_partition_raft_term", "The replica's raft term (the partition's leader epoch).", partLabels, nil)
	descPISR     = prometheus.NewDesc("sluice_partition_isr_size", "In-sync replicas (reported by the leader only).", partLabels, nil)
	descPReps    = prometheus.NewDesc("sluice_partition_replicas", "Voting replicas of the partition.", partLabels, nil)
	descPHW      = prometheus.NewDesc("sluice_partition_high_watermark", "The replica's high watermark (-1 while unknown).", partLabels, nil)
	descPLEO     = prometheus.NewDesc("sluice_partition_log_end_offset", "The replica's log end offset.", partLabels, nil)
	descPStopped = prometheus.NewDesc("sluice_partition_stopped", "1 while the replica is stopped by a storage error.", partLabels, nil)
	descPDropped = prometheus.NewDesc("sluice_partition_series_dropped", "Partitions left out of the per-partition series by MaxPartitionSeries.", nil, nil)
)

// partitionState is one replica's raft state at a scrape.
type partitionState struct {
	topic          string
	partition      int32
	leader, term   uint64
	isr, replicas  int
	hw, leo        int64
	stopped, leads bool
}

func (c *brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPartitions, descLeaders, descStopped, descQuiesced, descUnderISR,
		descController, descConnections, descCoordinated, descUnknownMsgs, descUp, descOffline, descDiskFree, descDiskLow,
		descTopicIn, descTopicOut, descPLeader, descPTerm, descPISR, descPReps, descPHW, descPLEO, descPStopped, descPDropped} {
		ch <- d
	}
}

type brokerSnapshot struct {
	partitions, leaders, stopped, quiesced, underReplicated, groups, offline, dropped int
	controller, diskLow                                                               bool
	unknownMsgs                                                                       uint64
	parts                                                                             []partitionState
	traffic                                                                           []node.TopicBytes
}

func (c *brokerCollector) Collect(ch chan<- prometheus.Metric) {
	self := c.b.opts.ID
	out := make(chan brokerSnapshot, 1)
	ok := doTimeout(c.b, c.timeout, func(n *node.Node) {
		var s brokerSnapshot
		for _, p := range n.Partitions() {
			s.partitions++
			voters := len(n.Replica(p.Group).ConfState().Voters)
			switch {
			case p.Err != nil:
				s.stopped++
			case p.Leader == uint64(self):
				s.leaders++
				if p.Topic != "" && len(p.ISR) < voters {
					s.underReplicated++
				}
			}
			if p.Leader == 0 {
				s.offline++
			}
			if p.Quiesced {
				s.quiesced++
			}
			if p.Topic == "" {
				continue // the metadata group
			}
			if len(s.parts) >= c.maxSeries {
				s.dropped++
				continue
			}
			hw := p.HighWater
			if !p.HWValid {
				hw = -1
			}
			s.parts = append(s.parts, partitionState{topic: p.Topic, partition: p.Group.Partition, leader: p.Leader, term: p.Term,
				isr: len(p.ISR), replicas: voters, hw: hw, leo: p.LogEnd, stopped: p.Err != nil, leads: p.Leader == uint64(self)})
		}
		s.stopped += len(n.Unopened()) // assigned here, not yet opened
		s.partitions += len(n.Unopened())
		s.diskLow = n.DiskLow()
		s.traffic = n.TopicTraffic()
		s.controller = n.Controller() == self
		s.groups = len(n.CoordinatedGroups())
		s.unknownMsgs = n.Stats().UnknownGroupMsgs
		out <- s
	})
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	if !ok {
		gauge(descUp, 0)
		return
	}
	s := <-out
	gauge(descUp, 1)
	gauge(descPartitions, float64(s.partitions))
	gauge(descLeaders, float64(s.leaders))
	gauge(descStopped, float64(s.stopped))
	gauge(descQuiesced, float64(s.quiesced))
	gauge(descUnderISR, float64(s.underReplicated))
	gauge(descController, boolFloat(s.controller))
	gauge(descCoordinated, float64(s.groups))
	gauge(descOffline, float64(s.offline))
	gauge(descDiskLow, boolFloat(s.diskLow))
	if c.b.opts.MinFreeBytes > 0 {
		gauge(descDiskFree, float64(c.b.DiskFree()))
	}
	for _, t := range s.traffic {
		ch <- prometheus.MustNewConstMetric(descTopicIn, prometheus.CounterValue, float64(t.In), t.Topic)
		ch <- prometheus.MustNewConstMetric(descTopicOut, prometheus.CounterValue, float64(t.Out), t.Topic)
	}
	for _, p := range s.parts {
		l := []string{p.topic, strconv.Itoa(int(p.partition))}
		pg := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
		}
		pg(descPLeader, float64(p.leader))
		pg(descPTerm, float64(p.term))
		if p.leads {
			pg(descPISR, float64(p.isr))
		}
		pg(descPReps, float64(p.replicas))
		pg(descPHW, float64(p.hw))
		pg(descPLEO, float64(p.leo))
		pg(descPStopped, boolFloat(p.stopped))
	}
	gauge(descPDropped, float64(s.dropped))
	ch <- prometheus.MustNewConstMetric(descUnknownMsgs, prometheus.CounterValue, float64(s.unknownMsgs))
	conns := 0
	c.b.conns.Range(func(_, _ any) bool {
		conns++
		return true
	})
	gauge(descConnections, float64(conns))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Consumer lag.

var (
	lagLabels      = []string{"group", "topic", "partition"}
	descCommitted  = prometheus.NewDesc("sluice_consumergroup_committed_offset", "The group's committed offset of the partition (the next record it will read).", lagLabels, nil)
	descHighWater  = prometheus.NewDesc("sluice_consumergroup_high_watermark", "The partition's high watermark (log end offset as consumers see it) when the group's lag was sampled.", lagLabels, nil)
	descLagRecords = prometheus.NewDesc("sluice_consumergroup_lag_records", "High watermark minus committed offset (0 if the commit is ahead).", lagLabels, nil)
	descLagSeconds = prometheus.NewDesc("sluice_consumergroup_lag_seconds",
		"How long ago the record at the committed offset was appended, interpolated from high-watermark samples (0 when caught up).", lagLabels, nil)
	descDropped = prometheus.NewDesc("sluice_consumergroup_lag_series_dropped",
		"Groups and series left out of the last lag sample by MaxLagGroups and MaxLagSeries.", nil, nil)
	descPollErrors = prometheus.NewDesc("sluice_consumergroup_lag_poll_errors_total", "Lag polls that failed in part or whole.", nil, nil)
	descLastPoll   = prometheus.NewDesc("sluice_consumergroup_lag_last_poll_timestamp_seconds", "When the lag was last sampled (Unix time).", nil, nil)
)

// lagPoint is one exported (group, topic, partition).
type lagPoint struct {
	group, topic string
	partition    int32
	committed    int64
	hw           int64 // -1: unknown (the partition's end offset could not be listed)
	lagSeconds   float64
}

type topicPartition struct {
	topic     string
	partition int32
}

// lagCollector polls lag in the background and reports its last sample.
type lagCollector struct {
	b    *Broker
	opts MetricsOptions
	cl   *kgo.Client
	adm  *kadm.Client
	log  *slog.Logger

	// tables is the poller's own (no lock).
	tables map[topicPartition]*hwTable

	mu         sync.Mutex // guards what Collect reads
	points     []lagPoint
	dropped    int
	pollErrors int
	lastPoll   time.Time

	quit chan struct{}
	done chan struct{}
}

func newLagCollector(b *Broker, opts MetricsOptions) (*lagCollector, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ClientID("sluice-lag-exporter"))
	if err != nil {
		return nil, fmt.Errorf("runtime: lag exporter client: %w", err)
	}
	return &lagCollector{b: b, opts: opts, cl: cl, adm: kadm.NewClient(cl), log: b.log.With("component", "lag"),
		tables: map[topicPartition]*hwTable{}, quit: make(chan struct{}), done: make(chan struct{})}, nil
}

func (l *lagCollector) start() {
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.opts.LagPollInterval)
		defer t.Stop()
		for {
			l.poll()
			select {
			case <-l.quit:
				return
			case <-t.C:
			}
		}
	}()
}

func (l *lagCollector) stop() {
	close(l.quit)
	<-l.done
	l.cl.Close()
}

// poll takes one lag sample.
func (l *lagCollector) poll() {
	ctx, cancel := context.WithTimeout(context.Background(), max(l.opts.LagPollInterval, 5*time.Second))
	defer cancel()
	go func() { // a stop interrupts a poll in flight
		select {
		case <-l.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	points, dropped, err := l.sample(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.pollErrors++
		l.log.Debug("lag poll failed", "err", err)
	}
	// What could not be read this time is left out rather than repeated
	// from an older sample: a group whose coordinator moved is reported by
	// its new broker.
	l.points, l.dropped = points, dropped
	l.lastPoll = time.Now()
}

// sample reads the committed offsets of the groups coordinated here and
// the high watermarks of their partitions; err reports any part that
// failed (the points then hold what could be read).
func (l *lagCollector) sample(ctx context.Context) ([]lagPoint, int, error) {
	var groups []string
	out := make(chan []string, 1)
	if !doTimeout(l.b, l.opts.ScrapeTimeout, func(n *node.Node) { out <- n.CoordinatedGroups() }) {
		return nil, 0, fmt.Errorf("the event loop did not answer")
	}
	groups = <-out
	slices.Sort(groups)
	groups = slices.Compact(groups)
	dropped := 0
	if len(groups) > l.opts.MaxLagGroups {
		dropped += len(groups) - l.opts.MaxLagGroups
		groups = groups[:l.opts.MaxLagGroups]
	}
	if len(groups) == 0 {
		clear(l.tables)
		return nil, 0, nil
	}
	var firstErr error
	var points []lagPoint
	topics := map[string]bool{}
	for _, r := range l.adm.FetchManyOffsets(ctx, groups...) {
		if r.Err != nil {
			firstErr = cmpErr(firstErr, fmt.Errorf("offsets of group %s: %w", r.Group, r.Err))
			continue
		}
		r.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 {
				return
			}
			points = append(points, lagPoint{group: r.Group, topic: o.Topic, partition: o.Partition, committed: o.At, hw: -1})
		})
	}
	sort.Slice(points, func(i, j int) bool {
		a, b := points[i], points[j]
		if a.group != b.group {
			return a.group < b.group
		}
		if a.topic != b.topic {
			return a.topic < b.topic
		}
		return a.partition < b.partition
	})
	if len(points) > l.opts.MaxLagSeries {
		dropped += len(points) - l.opts.MaxLagSeries
		points = points[:l.opts.MaxLagSeries]
	}
	for _, p := range points {
		topics[p.topic] = true
	}
	if len(points) == 0 {
		if firstErr == nil {
			clear(l.tables)
		}
		return points, dropped, firstErr
	}
	ends, err := l.adm.ListEndOffsets(ctx, slices.Sorted(mapKeys(topics))...)
	if err != nil {
		// Shard errors leave some partitions out; those report no high
		// watermark this round.
		firstErr = cmpErr(firstErr, fmt.Errorf("end offsets: %w", err))
	}
	now := time.Now()
	used := map[topicPartition]bool{}    // partitions with a point
	sampled := map[topicPartition]bool{} // and with a sample this poll
	for i := range points {
		p := &points[i]
		tp := topicPartition{p.topic, p.partition}
		used[tp] = true
		end, ok := ends.Lookup(p.topic, p.partition)
		if !ok || end.Err != nil {
			continue
		}
		t := l.tables[tp]
		if t == nil {
			t = &hwTable{max: l.opts.LagSamples}
			l.tables[tp] = t
		}
		if !sampled[tp] { // one sample per partition per poll, however many groups read it
			t.add(end.Offset, now)
			sampled[tp] = true
		}
		p.hw = end.Offset
		p.lagSeconds = t.lagSeconds(p.committed, now)
	}
	for tp := range l.tables { //lint:maporder-ok deleting entries; order cannot leak
		if !used[tp] {
			delete(l.tables, tp)
		}
	}
	return points, dropped, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m { //lint:maporder-ok the caller sorts
			if !yield(k) {
				return
			}
		}
	}
}

func (l *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCommitted, descHighWater, descLagRecords, descLagSeconds, descDropped, descPollErrors, descLastPoll} {
		ch <- d
	}
}

func (l *lagCollector) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	points, dropped, errs, last := l.points, l.dropped, l.pollErrors, l.lastPoll
	l.mu.Unlock()
	for _, p := range points {
		labels := []string{p.group, p.topic, strconv.Itoa(int(p.partition))}
		ch <- prometheus.MustNewConstMetric(descCommitted, prometheus.GaugeValue, float64(p.committed), labels...)
		if p.hw < 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descHighWater, prometheus.GaugeValue, float64(p.hw), labels...)
		ch <- prometheus.MustNewConstMetric(descLagRecords, prometheus.GaugeValue, float64(max(0, p.hw-p.committed)), labels...)
		ch <- prometheus.MustNewConstMetric(descLagSeconds, prometheus.GaugeValue, p.lagSeconds, labels...)
	}
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.GaugeValue, float64(dropped))
	ch <- prometheus.MustNewConstMetric(descPollErrors, prometheus.CounterValue, float64(errs))
	if !last.IsZero() {
		ch <- prometheus.MustNewConstMetric(descLastPoll, prometheus.GaugeValue, float64(last.UnixNano())/1e9)
	}
}

// hwSample is a partition's high watermark at a moment.
type hwSample struct {
	offset int64
	atNs   int64
}

// hwTable is one partition's bounded history of high-watermark samples,
// offsets non-decreasing (see the top of this file).
type hwTable struct {
	s   []hwSample
	max int
}

func (t *hwTable) add(offset int64, at time.Time) {
	ns := at.UnixNano()
	n := len(t.s)
	if n > 0 && offset < t.s[n-1].offset {
		t.s = t.s[:0] // the log end went back: a new partition under an old name
		n = 0
	}
	if n >= 2 && t.s[n-1].offset == offset && t.s[n-2].offset == offset {
		t.s[n-1].atNs = ns // extend the run at one offset
		return
	}
	t.s = append(t.s, hwSample{offset, ns})
	if len(t.s) > t.max {
		t.thin()
	}
}

// thin drops the interior sample that interpolation from its neighbours
// misses by the least time (one on a straight stretch before the corner
// where a busy period turns idle), so the table keeps its whole span and
// its shape.
func (t *hwTable) thin() {
	best, bestErr := 1, math.Inf(1)
	for i := 1; i < len(t.s)-1; i++ {
		l, m, r := t.s[i-1], t.s[i], t.s[i+1]
		e := 0.0 // l and r at one offset: m is redundant
		if r.offset > l.offset {
			at := float64(l.atNs) + float64(m.offset-l.offset)*float64(r.atNs-l.atNs)/float64(r.offset-l.offset)
			e = math.Abs(float64(m.atNs) - at)
		}
		if e < bestErr {
			best, bestErr = i, e
		}
	}
	t.s = slices.Delete(t.s, best, best+1)
}

// lagSeconds is how long before now the log end passed committed.
func (t *hwTable) lagSeconds(committed int64, now time.Time) float64 {
	n := len(t.s)
	if n == 0 || committed >= t.s[n-1].offset {
		return 0
	}
	// The first sample beyond committed; the one before it (if any) is the
	// last moment the log still ended at or below it.
	i := sort.Search(n, func(i int) bool { return t.s[i].offset > committed })
	var atNs float64
	if i == 0 {
		first, last := t.s[0], t.s[n-1]
		atNs = float64(first.atNs)
		if last.offset > first.offset {
			nsPerRecord := float64(last.atNs-first.atNs) / float64(last.offset-first.offset)
			atNs -= float64(first.offset-committed) * nsPerRecord
		}
	} else {
		l, r := t.s[i-1], t.s[i]
		atNs = float64(l.atNs) + float64(committed-l.offset)*float64(r.atNs-l.atNs)/float64(r.offset-l.offset)
	}
	return max(0, (float64(now.UnixNano())-atNs)/1e9)
}
