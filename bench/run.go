package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/profile"
)

// Target names.
const (
	TargetSluice = "sluice" // the in-process 3-broker `sluice dev` cluster
	// TargetSluiceFileSync is the same cluster with each group commit
	// fdatasyncing every file it touched instead of one syncfs (-file-sync).
	TargetSluiceFileSync = "sluice-filesync"
	TargetKfake          = "kfake"             // franz-go's kfake: in memory, no replication, no fsync
	TargetJSDefault      = "jetstream-default" // NATS JetStream R3 file storage, sync_interval 2m (its default)
	TargetJSAlways       = "jetstream-always"  // NATS JetStream R3 file storage, sync_interval always
	TargetBootstrap      = "bootstrap"         // any Kafka cluster at Options.Bootstrap
	targetJetStream      = "jetstream"         // both JetStream settings
	targetAll            = "all"               // sluice, kfake and both JetStream settings
	maxRunDuration       = time.Hour
	defaultDrainWait     = time.Minute
)

// ParseTargets expands a comma-separated target list ("all", "jetstream"
// or names).
func ParseTargets(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		switch t = strings.TrimSpace(t); t {
		case targetAll:
			out = append(out, TargetSluice, TargetKfake, TargetJSDefault, TargetJSAlways)
		case targetJetStream:
			out = append(out, TargetJSDefault, TargetJSAlways)
		case TargetSluice, TargetSluiceFileSync, TargetKfake, TargetJSDefault, TargetJSAlways, TargetBootstrap:
			out = append(out, t)
		default:
			return nil, fmt.Errorf("bench: unknown target %q (want sluice, sluice-filesync, kfake, jetstream, jetstream-default, jetstream-always, bootstrap or all)", t)
		}
	}
	return out, nil
}

// Profiles are the --profile modes.
var Profiles = []string{"cpu", "mem", "mutex", "block", "trace"}

// Options configures a run.
type Options struct {
	Targets   []string
	Bootstrap []string // seed brokers of the bootstrap target
	Workload  Workload
	Duration  time.Duration // measured window per target
	Warmup    time.Duration // load before the window, not measured
	// DataDir holds broker and JetStream data and the disk floor's file;
	// default a new temporary directory. What a run writes there is removed.
	DataDir string
	// NatsServer is the nats-server binary (default: looked up).
	NatsServer string
	// Profile is cpu, mem, mutex, block or "": profile the sluice target's
	// load phase (the in-process brokers and the clients) into ProfileDir.
	Profile    string
	ProfileDir string
	Floors     FloorOptions
	NoFloors   bool
	// Progress receives progress lines (default: discarded).
	Progress      io.Writer
	ProgressEvery time.Duration // default 5 s
	// DrainWait bounds the wait for acks and consumers after the window
	// (default 1 min).
	DrainWait time.Duration
}

// Results is everything a run measured.
type Results struct {
	Workload    Workload       `json:"workload"`
	Started     time.Time      `json:"started"`
	Machine     Machine        `json:"machine"`
	DurationS   float64        `json:"duration_s"`
	WarmupS     float64        `json:"warmup_s"`
	Floors      *Floors        `json:"floors,omitempty"`
	Calibration *TargetResult  `json:"calibration,omitempty"`
	Targets     []TargetResult `json:"targets"`
	Skipped     []Skip         `json:"skipped,omitempty"`
	Checks      []Check        `json:"checks,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
}

// Skip is a target that did not run, and why.
type Skip struct {
	Target string `json:"target"`
	Reason string `json:"reason"`
	// Failed: the target was tried and failed (a missing tool is a skip).
	Failed bool `json:"failed,omitempty"`
}

// TargetResult is one target's run.
type TargetResult struct {
	Target      string  `json:"target"`
	Description string  `json:"description"`
	RateTarget  float64 `json:"rate_target,omitempty"` // records/s, fixed-rate runs
	// Totals over the whole run (warm-up records included).
	Sent          int64 `json:"sent"`
	Acked         int64 `json:"acked"`
	AckErrors     int64 `json:"ack_errors"`
	Consumed      int64 `json:"consumed"`
	ConsumeErrors int64 `json:"consume_errors"`
	// Rates over the measured window.
	MeasuredS     float64 `json:"measured_s"`
	RecordsPerS   float64 `json:"records_per_s"`
	MBPerS        float64 `json:"mb_per_s"`
	ConsumedPerS  float64 `json:"consumed_per_s"`
	CatchUpMBPerS float64 `json:"catch_up_mb_per_s,omitempty"`
	// Ack is produce-ack latency: send (or scheduled send) to acknowledgement.
	Ack Latency `json:"ack"`
	// E2E is end-to-end latency: send (or scheduled send) to consumption.
	E2E Latency `json:"e2e"`
	// MeanBatchBytes is the mean produce batch the clients wrote (Kafka
	// targets).
	MeanBatchBytes float64 `json:"mean_batch_bytes,omitempty"`
	// Device is the data directory's disk during the window (every
	// process's I/O counts).
	Device *DeviceIO `json:"device,omitempty"`
	// CPUBusy is the fraction of the machine's CPUs busy during the window
	// (every process counts; 0: not measured, as where /proc/stat is not).
	CPUBusy float64  `json:"cpu_busy,omitempty"`
	Series  []Sample `json:"series"`
	Profile string   `json:"profile,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

// Sample is one second of a run.
type Sample struct {
	T            float64 `json:"t"` // seconds since the load started
	AckedPerS    float64 `json:"acked_per_s"`
	ConsumedPerS float64 `json:"consumed_per_s"`
}

func (o *Options) validate() error {
	if len(o.Targets) == 0 {
		return errors.New("bench: no targets")
	}
	if err := o.Workload.Validate(); err != nil {
		return err
	}
	if o.Duration <= 0 || o.Duration > maxRunDuration || o.Warmup < 0 || o.Warmup > maxRunDuration {
		return fmt.Errorf("bench: duration %v and warm-up %v must be in (0, %v]", o.Duration, o.Warmup, maxRunDuration)
	}
	for _, t := range o.Targets {
		if t == TargetBootstrap && len(o.Bootstrap) == 0 {
			return errors.New("bench: the bootstrap target needs a bootstrap address")
		}
	}
	if o.Profile != "" && !slices.Contains(Profiles, o.Profile) {
		return fmt.Errorf("bench: profile %q: want one of %s", o.Profile, strings.Join(Profiles, ", "))
	}
	if o.ProfileDir == "" {
		o.ProfileDir = "."
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	if o.DrainWait <= 0 {
		o.DrainWait = defaultDrainWait
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	o.Floors = o.Floors.withDefaults()
	return nil
}

// Run runs the workload against every target in turn, with the floors
// measured first, and returns what it measured.
func Run(ctx context.Context, o Options) (*Results, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.DataDir == "" {
		d, err := os.MkdirTemp("", "sluice-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		o.DataDir = d
	}
	res := &Results{Workload: o.Workload, Started: time.Now().UTC(), DurationS: o.Duration.Seconds(), WarmupS: o.Warmup.Seconds(),
		Machine: Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}}
	var ff *floorFile
	if !o.NoFloors {
		fl, f, err := measureFloors(ctx, o)
		if err != nil {
			return nil, err
		}
		ff = f
		defer ff.close()
		res.Floors = fl
	}
	w := o.Workload
	if w.Mode == FixedRate && w.Rate == 0 {
		cal := w
		cal.Mode = MaxRate
		first := o.Targets[0]
		fmt.Fprintf(o.Progress, "calibrating: %s at max rate for %v, then every target at %.0f%% of it\n", first, o.Duration, 100*w.RateFraction)
		tr, err := runTarget(ctx, o, first, cal, "", nil)
		if err != nil {
			return nil, fmt.Errorf("bench: calibration on %s: %w", first, err)
		}
		if tr.RecordsPerS <= 0 {
			return nil, fmt.Errorf("bench: calibration on %s acknowledged nothing", first)
		}
		res.Calibration = tr
		w.Rate = tr.RecordsPerS * w.RateFraction
		res.Workload.Rate = w.Rate
		fmt.Fprintf(o.Progress, "calibrated: %s max %.0f records/s; fixed rate %.0f records/s\n", first, tr.RecordsPerS, w.Rate)
	}
	for _, t := range o.Targets {
		prof := ""
		if t == TargetSluice {
			prof = o.Profile
		}
		var after func(*TargetResult) error
		if t == TargetSluice && ff != nil {
			// The floor at the batch size sluice saw, measured while its
			// cluster is idle but before its files are removed (deleting
			// gigabytes keeps the disk busy for a while).
			after = func(tr *TargetResult) error {
				// Both are context, not sluice's measurement: when one
				// fails, the target's results stand without it.
				skip := func(what string, err error) error {
					if ctx.Err() != nil {
						return err
					}
					fmt.Fprintf(o.Progress, "%s: not measured: %v\n", what, err)
					tr.Errors = append(tr.Errors, what+" not measured: "+err.Error())
					return nil
				}
				if tr.MeanBatchBytes < 1 {
					return nil
				}
				d, err := ff.measure(ctx, int(tr.MeanBatchBytes+0.5), o.Floors.PerSize)
				if err != nil {
					return skip("floor at sluice's mean produce batch", err)
				}
				d.Why = "sluice's mean produce batch"
				res.Floors.Disk = append(res.Floors.Disk, d)
				printDiskFloor(o.Progress, d)
				if w.Mode != FixedRate || w.Acks != "all" {
					return nil
				}
				// Every replica stores every record: each writer takes the
				// workload's whole byte rate (payloads only, so the bound
				// is if anything low).
				fmt.Fprintf(o.Progress, "bound: %d writers group-committing at %.0f records/s × %d B each, %v\n", sluiceRF, w.Rate, w.RecordBytes, o.Floors.SharedDisk)
				sd, err := measureSharedDisk(ctx, filepath.Join(o.DataDir, "floor"), sluiceRF, sluiceQuorum, w.Rate*float64(w.RecordBytes), o.Floors.SharedDisk)
				if err != nil {
					return skip("shared-disk bound", err)
				}
				res.Floors.SharedDisk = &sd
				printSharedDisk(o.Progress, sd)
				return nil
			}
		}
		tr, err := runTarget(ctx, o, t, w, prof, after)
		var skip *skipError
		if errors.As(err, &skip) {
			fmt.Fprintf(o.Progress, "%s: skipped: %s\n", t, skip.reason)
			res.Skipped = append(res.Skipped, Skip{Target: t, Reason: skip.reason})
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			// One target failing (a server that would not start, a client
			// error) is reported; the others still run.
			fmt.Fprintf(o.Progress, "%s: FAILED: %v\n", t, err)
			res.Skipped = append(res.Skipped, Skip{Target: t, Reason: "failed: " + err.Error(), Failed: true})
			continue
		}
		res.Targets = append(res.Targets, *tr)
	}
	res.Checks = checks(res)
	return res, nil
}

func measureFloors(ctx context.Context, o Options) (*Floors, *floorFile, error) {
	dir := filepath.Join(o.DataDir, "floor")
	fl := &Floors{Dir: o.DataDir}
	fmt.Fprintf(o.Progress, "floors: preallocating %d MiB in %s\n", o.Floors.FileBytes>>20, dir)
	ff, err := openFloorFile(dir, o.Floors.FileBytes)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range o.Floors.SizesBytes {
		d, err := ff.measure(ctx, n, o.Floors.PerSize)
		if err != nil {
			ff.close()
			return nil, nil, err
		}
		fl.Disk = append(fl.Disk, d)
		printDiskFloor(o.Progress, d)
	}
	rtt, err := measureRTT(ctx, o.Floors.RTT)
	if err != nil {
		ff.close()
		return nil, nil, err
	}
	fl.RTT = rtt
	fmt.Fprintf(o.Progress, "floor: loopback TCP RTT p50 %.0f µs, p99 %.0f µs (%d round trips)\n", rtt.P50Us, rtt.P99Us, rtt.RoundTrips)
	return fl, ff, nil
}

// percent formats a fraction, or "n/a" for 0 (not measured).
func percent(f float64) string {
	if f <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}

func printDiskFloor(w io.Writer, d DiskFloor) {
	why := ""
	if d.Why != "" {
		why = " (" + d.Why + ")"
	}
	fmt.Fprintf(w, "floor: write+fdatasync %7d B into a preallocated file: %7.1f MB/s, %6.0f syncs/s, p50 %.0f µs, p99 %.0f µs%s\n",
		d.Bytes, d.MBPerS, d.SyncsPerS, d.P50Us, d.P99Us, why)
}

// skipError is a target that cannot run here (not an error of the run).
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

// startSystem starts (or reaches) target t.
func startSystem(ctx context.Context, o Options, t string) (system, string, error) {
	switch t {
	case TargetSluice, TargetSluiceFileSync:
		fileSync := t == TargetSluiceFileSync
		s, err := startSluice(filepath.Join(o.DataDir, t), fileSync)
		what := "one syncfs per group commit"
		if fileSync {
			what = "an fdatasync per file per group commit"
		}
		return s, "sluice dev: 3 brokers in this process, RF 3, min.insync.replicas 2, fsync before ack (" + what + ")", err
	case TargetKfake:
		s, err := startKfake()
		return s, "kfake: 3 brokers in this process, in memory, no replication, no fsync", err
	case TargetBootstrap:
		return dialKafka(o.Bootstrap), "Kafka cluster at " + strings.Join(o.Bootstrap, ","), nil
	case TargetJSDefault, TargetJSAlways:
		bin, err := FindNatsServer(o.NatsServer)
		if err != nil {
			return nil, "", &skipError{reason: err.Error()}
		}
		sync, what := "2m", "sync_interval 2m (the default)"
		if t == TargetJSAlways {
			sync, what = "always", "sync_interval always"
		}
		s, err := startJetStream(ctx, bin, filepath.Join(o.DataDir, t), sync)
		return s, "NATS JetStream: 3 nats-servers, R3 stream, file storage, " + what, err
	}
	return nil, "", fmt.Errorf("bench: unknown target %q", t)
}

// runTarget starts target t, runs w against it, calls after (if set) while
// it is still up, and stops it.
func runTarget(ctx context.Context, o Options, t string, w Workload, prof string, after func(*TargetResult) error) (*TargetResult, error) {
	t0 := time.Now()
	sys, desc, err := startSystem(ctx, o, t)
	if err != nil {
		return nil, err
	}
	defer sys.close()
	t1 := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = sys.setup(sctx, w)
	cancel()
	if err != nil {
		return nil, err
	}
	requests := "up to 5 produce requests in flight per broker (idempotent, Produce v4+)"
	switch {
	case w.Requests > 1:
		requests = fmt.Sprintf("%d produce requests in flight per broker (not idempotent)", w.Requests)
	case w.Acks == "1":
		requests = "1 produce request in flight per broker (acks=1: not idempotent)"
	}
	fmt.Fprintf(o.Progress, "%s: %s; started in %v, topic ready in %v; workload %s (%d partitions, %d B records, %d producers, %d consumers, acks=%s, linger %v, %s, %s)\n",
		t, desc, t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond),
		w.Name, w.Partitions, w.RecordBytes, w.Producers, w.Consumers, w.Acks, w.Linger(), requests, w.Mode)
	l := &load{o: o, w: w, name: t, sys: sys}
	tr, err := l.run(ctx, prof)
	if err != nil {
		return nil, err
	}
	tr.Target, tr.Description = t, desc
	if after != nil {
		if err := after(tr); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// load is one target's run: producers, consumers, counters, histograms.
type load struct {
	o    Options
	w    Workload
	name string
	sys  system

	epoch    time.Time
	winStart atomic.Int64 // ns since epoch: records stamped at or after it are measured
	winEnd   atomic.Int64 // ns since epoch: the measured window's end, set before stop
	stop     atomic.Bool  // producers stop sending
	budget   atomic.Int64 // records left to send (catch-up)

	sent, acked, ackErrs, consumed, consumeErrs atomic.Int64

	errMu    sync.Mutex
	firstErr []string // first few distinct errors, bounded

	ackH, e2eH []*hist
	// payload is random bytes that new record buffers take successive
	// RecordBytes-sized chunks of, so records differ from each other and a
	// batch of them does not compress (OpenMessaging reuses one payload;
	// sluice would then compress its batches).
	payload []byte
	nextBuf atomic.Int64
	pool    sync.Pool
}

// payloadBytes is the random area record buffers are cut from.
const payloadBytes = 16 << 20

func (l *load) now() int64 { return int64(time.Since(l.epoch)) }

func (l *load) noteErr(kind string, err error) {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if len(l.firstErr) < 5 {
		l.firstErr = append(l.firstErr, kind+": "+err.Error())
	}
}

func (l *load) buf() *[]byte {
	if b, ok := l.pool.Get().(*[]byte); ok {
		return b
	}
	n := len(l.payload) / l.w.RecordBytes
	i := int(l.nextBuf.Add(1)) % n
	b := append([]byte(nil), l.payload[i*l.w.RecordBytes:(i+1)*l.w.RecordBytes]...)
	return &b
}

func (l *load) run(ctx context.Context, prof string) (*TargetResult, error) {
	w := l.w
	l.epoch = time.Now()
	l.winStart.Store(1<<63 - 1)
	rng := rand.New(rand.NewPCG(uint64(w.RecordBytes), 7))
	l.payload = make([]byte, max(payloadBytes, 64*w.RecordBytes))
	for i := 0; i+8 <= len(l.payload); i += 8 {
		binary.LittleEndian.PutUint64(l.payload[i:], rng.Uint64())
	}
	for range w.Producers {
		l.ackH = append(l.ackH, newHist())
	}
	for range w.Consumers {
		l.e2eH = append(l.e2eH, newHist())
	}
	var prods []producer
	defer func() {
		for _, p := range prods {
			p.close()
		}
	}()
	for i := range w.Producers {
		p, err := l.sys.newProducer(w, i)
		if err != nil {
			return nil, err
		}
		prods = append(prods, p)
	}
	var cons []consumer
	defer func() {
		for _, c := range cons {
			c.close()
		}
	}()
	for i := range w.Consumers {
		c, err := l.sys.newConsumer(w, i, partitionsOf(i, w.Consumers, w.Partitions))
		if err != nil {
			return nil, err
		}
		cons = append(cons, c)
	}
	cctx, stopConsumers := context.WithCancel(ctx)
	var cwg sync.WaitGroup
	consErr := make(chan error, len(cons))
	startConsumers := func() {
		for i, c := range cons {
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				h := l.e2eH[i]
				err := c.run(cctx, func(v []byte) {
					stamp := int64(binary.LittleEndian.Uint64(v))
					l.consumed.Add(1)
					if stamp >= l.winStart.Load() {
						h.record(time.Duration(l.now() - stamp))
					}
				}, func(err error) {
					l.consumeErrs.Add(1)
					l.noteErr("consume", err)
				})
				if err != nil {
					consErr <- err
				}
			}()
		}
	}
	defer func() {
		stopConsumers()
		cwg.Wait()
	}()
	if w.Mode != CatchUp {
		startConsumers()
	}

	// Warm-up records, one per partition, so leaders and metadata are known
	// before the clock starts. They are counted, never measured.
	if err := l.warm(ctx, prods[0]); err != nil {
		return nil, err
	}

	var stopProfile interface{ Stop() }
	tr := &TargetResult{}
	if prof != "" {
		dir := filepath.Join(l.o.ProfileDir, "profile-"+l.name)
		mode := map[string]func(*profile.Profile){"cpu": profile.CPUProfile, "mem": profile.MemProfile,
			"mutex": profile.MutexProfile, "block": profile.BlockProfile, "trace": profile.TraceProfile}[prof]
		stopProfile = profile.Start(mode, profile.ProfilePath(dir), profile.NoShutdownHook, profile.Quiet)
		tr.Profile = filepath.Join(dir, prof+".pprof")
		if prof == "trace" {
			tr.Profile = filepath.Join(dir, "trace.out")
		}
	}

	loadStart := l.now()
	sampler := l.sample(loadStart)
	if w.Mode == CatchUp {
		l.budget.Store((w.BacklogBytes + int64(w.RecordBytes) - 1) / int64(w.RecordBytes))
	}
	var pwg sync.WaitGroup
	for i, p := range prods {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			l.produce(ctx, i, p)
		}()
	}
	if w.Mode != CatchUp {
		if !sleepCtx(ctx, l.o.Warmup) {
			return nil, ctx.Err()
		}
	}
	start := l.now()
	l.winStart.Store(start)
	a0, c0 := l.acked.Load(), l.consumed.Load()
	disk0, _ := readDiskCounters(l.o.DataDir)
	cpu0, cpuOK0 := readCPUCounters()
	if w.Mode == CatchUp {
		pwg.Wait()
	} else if !sleepCtx(ctx, l.o.Duration) {
		return nil, ctx.Err()
	}
	end := l.now()
	a1, c1 := l.acked.Load(), l.consumed.Load()
	disk1, _ := readDiskCounters(l.o.DataDir)
	cpu1, cpuOK1 := readCPUCounters()
	l.winEnd.Store(end)
	l.stop.Store(true)
	pwg.Wait()
	dctx, cancel := context.WithTimeout(ctx, l.o.DrainWait)
	defer cancel()
	for _, p := range prods {
		if err := p.flush(dctx); err != nil {
			l.noteErr("flush", err)
			break
		}
	}
	// Catch-up: the read phase has its own start and count; the write
	// phase's window (start..end) still measures the backlog's writes.
	var readStart, readC0 int64
	if w.Mode == CatchUp {
		l.winStart.Store(l.now())
		readC0 = l.consumed.Load()
		readStart = l.now()
		startConsumers()
	}
	for l.consumed.Load() < l.acked.Load() && dctx.Err() == nil && len(consErr) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if w.Mode == CatchUp {
		secs := time.Duration(l.now() - readStart).Seconds()
		tr.CatchUpMBPerS = float64(l.consumed.Load()-readC0) * float64(w.RecordBytes) / secs / 1e6
	}
	if stopProfile != nil {
		stopProfile.Stop()
		fmt.Fprintf(l.o.Progress, "%s: %s profile written to %s\n", l.name, prof, tr.Profile)
	}
	tr.Series = sampler()
	select {
	case err := <-consErr:
		return nil, err
	default:
	}

	secs := time.Duration(end - start).Seconds()
	tr.RateTarget = 0
	if w.Mode == FixedRate {
		tr.RateTarget = w.Rate
	}
	tr.Sent, tr.Acked, tr.AckErrors = l.sent.Load(), l.acked.Load(), l.ackErrs.Load()
	tr.Consumed, tr.ConsumeErrors = l.consumed.Load(), l.consumeErrs.Load()
	tr.MeasuredS = secs
	tr.RecordsPerS = float64(a1-a0) / secs
	tr.MBPerS = tr.RecordsPerS * float64(w.RecordBytes) / 1e6
	tr.ConsumedPerS = float64(c1-c0) / secs
	tr.Ack = summarize(merged(l.ackH))
	tr.E2E = summarize(merged(l.e2eH))
	tr.MeanBatchBytes = l.sys.batchBytes()
	tr.Device = deviceIO(disk0, disk1, secs)
	if cpuOK0 && cpuOK1 {
		tr.CPUBusy = cpuBusy(cpu0, cpu1)
	}
	if tr.Consumed != tr.Acked {
		l.noteErr("drain", fmt.Errorf("consumers read %d records of %d acknowledged within %v", tr.Consumed, tr.Acked, l.o.DrainWait))
	}
	if w.Mode == FixedRate && tr.RecordsPerS < 0.95*w.Rate {
		// Its latencies then include records never sent, at their age when
		// the window ended (produce): a lower bound.
		l.noteErr("rate", fmt.Errorf("acknowledged %.0f records/s of the %.0f asked for: the target did not keep up", tr.RecordsPerS, w.Rate))
	}
	tr.Errors = l.firstErr
	fmt.Fprintf(l.o.Progress, "%s: done: %.0f records/s (%.1f MB/s) acknowledged; ack p50 %.2f ms p99 %.2f ms; e2e p50 %.2f ms p99 %.2f ms; sent %d, acked %d, errors %d, consumed %d\n",
		l.name, tr.RecordsPerS, tr.MBPerS, tr.Ack.P50Ms, tr.Ack.P99Ms, tr.E2E.P50Ms, tr.E2E.P99Ms, tr.Sent, tr.Acked, tr.AckErrors, tr.Consumed)
	fmt.Fprintf(l.o.Progress, "%s: during the window: CPUs %s busy; disk %s; mean produce batch %.0f B\n", l.name, percent(tr.CPUBusy), tr.Device, tr.MeanBatchBytes)
	if tr.CatchUpMBPerS > 0 {
		fmt.Fprintf(l.o.Progress, "%s: catch-up read %.1f MB/s\n", l.name, tr.CatchUpMBPerS)
	}
	return tr, nil
}

// warm sends one record to every partition through p and waits for them.
func (l *load) warm(ctx context.Context, p producer) error {
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for part := range l.w.Partitions {
		b := l.buf()
		binary.LittleEndian.PutUint64(*b, uint64(l.now()))
		wg.Add(1)
		l.sent.Add(1)
		err := p.send(ctx, int32(part), *b, func(err error) {
			if err != nil {
				l.ackErrs.Add(1)
				failed.Store(&err)
			} else {
				l.acked.Add(1)
			}
			l.pool.Put(b)
			wg.Done()
		})
		if err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, l.o.DrainWait)
	defer cancel()
	if err := p.flush(wctx); err != nil {
		return fmt.Errorf("bench: warm-up records not acknowledged: %w", err)
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return fmt.Errorf("bench: warm-up record failed: %w", *err)
	}
	return nil
}

// produce is producer i's loop until stop: as fast as it may (max-rate,
// catch-up) or on schedule (fixed-rate).
func (l *load) produce(ctx context.Context, i int, p producer) {
	w := l.w
	part := i % w.Partitions
	h := l.ackH[i]
	send := func(stamp int64) bool {
		if w.Mode == CatchUp && l.budget.Add(-1) < 0 {
			return false
		}
		b := l.buf()
		binary.LittleEndian.PutUint64(*b, uint64(stamp))
		l.sent.Add(1)
		err := p.send(ctx, int32(part), *b, func(err error) {
			if err != nil {
				l.ackErrs.Add(1)
				l.noteErr("produce", err)
			} else {
				l.acked.Add(1)
				if stamp >= l.winStart.Load() {
					h.record(time.Duration(l.now() - stamp))
				}
			}
			l.pool.Put(b)
		})
		if err != nil {
			l.sent.Add(-1)
			return false
		}
		part = (part + 1) % w.Partitions
		return true
	}
	if w.Mode != FixedRate {
		for !l.stop.Load() && send(l.now()) {
		}
		return
	}
	// Fixed rate: record n is due at start + n·interval and stamped with
	// that time, so latency counts any time it waited to be sent.
	interval := float64(time.Second) * float64(w.Producers) / w.Rate
	start := l.now()
	n := int64(0)
	for !l.stop.Load() {
		due := int64(float64(l.now()-start)/interval) + 1
		for ; n < due && !l.stop.Load(); n++ {
			if !send(start + int64(float64(n)*interval)) {
				return
			}
		}
		if wait := start + int64(float64(n)*interval) - l.now(); wait > 0 {
			time.Sleep(time.Duration(wait))
		}
	}
	// Records due in the window but never sent (a target that could not
	// keep up) count at their age when the window ended, a lower bound of
	// their latency: left out, they would drop the longest waits from the
	// percentiles (coordinated omission).
	winStart, winEnd := l.winStart.Load(), l.winEnd.Load()
	for ; ; n++ {
		stamp := start + int64(float64(n)*interval)
		if stamp > winEnd {
			break
		}
		if stamp >= winStart {
			h.record(time.Duration(winEnd - stamp))
		}
	}
}

// sample records acked and consumed records per second, and prints a
// progress line every ProgressEvery, until the returned function is
// called; that function returns the series.
func (l *load) sample(loadStart int64) func() []Sample {
	done := make(chan struct{})
	out := make(chan []Sample)
	go func() {
		var series []Sample
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		lastA, lastC, lastT := l.acked.Load(), l.consumed.Load(), l.now()
		lastPrint := lastT
		pa, pc := lastA, lastC
		maxSamples := int((2*maxRunDuration + 2*defaultDrainWait) / time.Second)
		for {
			select {
			case <-done:
				out <- series
				return
			case <-tick.C:
			}
			a, c, t := l.acked.Load(), l.consumed.Load(), l.now()
			dt := time.Duration(t - lastT).Seconds()
			if len(series) < maxSamples {
				series = append(series, Sample{T: time.Duration(t - loadStart).Seconds(),
					AckedPerS: float64(a-lastA) / dt, ConsumedPerS: float64(c-lastC) / dt})
			}
			lastA, lastC, lastT = a, c, t
			if time.Duration(t-lastPrint) >= l.o.ProgressEvery {
				pdt := time.Duration(t - lastPrint).Seconds()
				rate := float64(a-pa) / pdt
				p99 := float64(merged(l.ackH).ValueAtQuantile(99)) / 1e3
				phase := "measuring"
				if t < l.winStart.Load() {
					phase = "warm-up"
				}
				if l.stop.Load() {
					phase = "draining"
				}
				fmt.Fprintf(l.o.Progress, "%s: %5.0fs %-9s produce %8.0f rec/s %7.1f MB/s  consume %8.0f rec/s  ack p99 %.2f ms  errors %d\n",
					l.name, time.Duration(t-loadStart).Seconds(), phase, rate, rate*float64(l.w.RecordBytes)/1e6,
					float64(c-pc)/pdt, p99, l.ackErrs.Load()+l.consumeErrs.Load())
				lastPrint, pa, pc = t, a, c
			}
		}
	}()
	return func() []Sample {
		close(done)
		return <-out
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
