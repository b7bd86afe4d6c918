package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NatsInstallHint says how to get a nats-server recent enough for the
// JetStream comparison (Debian's 2.9 is too old).
const NatsInstallHint = "go install github.com/nats-io/nats-server/v2@latest (then put $(go env GOPATH)/bin on PATH, or pass -nats-server PATH)"

// ErrNoNatsServer is returned when no nats-server binary is found.
var ErrNoNatsServer = errors.New("bench: nats-server not found; install it with " + NatsInstallHint)

// FindNatsServer returns the nats-server binary to use: path if given,
// else the one on PATH, else the one in $(go env GOPATH)/bin.
func FindNatsServer(path string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("bench: nats-server %s: %w", path, err)
		}
		return path, nil
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	if p := filepath.Join(gopath, "bin", "nats-server"); gopath != "" {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrNoNatsServer
}

// jsStream and jsSubjectPrefix name the one stream a run uses; partition p
// is subject bench.<p> in it. (A JetStream stream is one raft group; its
// subjects play the partitions' part for producers and consumers.)
const (
	jsStream        = "BENCH"
	jsSubjectPrefix = "bench."
)

// jsSystem is a 3-server JetStream cluster started from a nats-server
// binary, with file storage and an explicit sync_interval.
type jsSystem struct {
	dir      string
	urls     []string
	procs    []*exec.Cmd
	subjects []string
}

// startJetStream starts three clustered nats-servers with JetStream file
// storage under dir. syncInterval is written to the config as given:
// "2m" (the default, spelled out) or "always".
func startJetStream(ctx context.Context, bin, dir, syncInterval string) (_ *jsSystem, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &jsSystem{dir: dir}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+i]))
	}
	for i := range 3 {
		conf := fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:%d
jetstream {
  store_dir: %q
  sync_interval: %s
}
cluster {
  name: bench
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, i+1, ports[i], filepath.Join(dir, fmt.Sprintf("n%d", i+1)), syncInterval, ports[3+i], strings.Join(routes, ", "))
		confPath := filepath.Join(dir, fmt.Sprintf("n%d.conf", i+1))
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("n%d.log", i+1)))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "-c", confPath)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			return nil, fmt.Errorf("bench: start %s: %w", bin, err)
		}
		logf.Close() // the child holds its own descriptor
		s.procs = append(s.procs, cmd)
		s.urls = append(s.urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	return s, nil
}

// freePorts asks the kernel for n free loopback ports. Another process may
// take one before nats-server binds it; the start then fails clearly.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (s *jsSystem) close() {
	for _, p := range s.procs {
		_ = p.Process.Signal(os.Interrupt)
	}
	for _, p := range s.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	s.procs = nil
	os.RemoveAll(s.dir)
}

func (s *jsSystem) batchBytes() float64 { return 0 }

func (s *jsSystem) connect(i int) (*nats.Conn, error) {
	// Spread clients over the servers, as a Kafka client spreads over
	// partition leaders.
	url := s.urls[i%len(s.urls)]
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("bench: connect to nats-server %s: %w", url, err)
	}
	return nc, nil
}

// setup waits for the servers to form a cluster with a JetStream meta
// leader, then creates the R3 file-storage stream.
func (s *jsSystem) setup(ctx context.Context, w Workload) error {
	s.subjects = make([]string, w.Partitions)
	for p := range s.subjects {
		s.subjects[p] = jsSubjectPrefix + strconv.Itoa(p)
	}
	var nc *nats.Conn
	var err error
	for {
		if nc, err = s.connect(0); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: nats-server not reachable (logs in %s): %w", s.dir, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cfg := jetstream.StreamConfig{Name: jsStream, Subjects: []string{jsSubjectPrefix + ">"},
		Storage: jetstream.FileStorage, Replicas: 3, Retention: jetstream.LimitsPolicy}
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = js.CreateStream(cctx, cfg)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: create JetStream stream (R3, file; logs in %s): %w", s.dir, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *jsSystem) newProducer(w Workload, i int) (producer, error) {
	nc, err := s.connect(i)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(w.inflight()),
		jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		return nil, err
	}
	p := &jsProducer{nc: nc, js: js, subjects: s.subjects, acks: make(chan jsPending, w.inflight())}
	p.wg.Add(1)
	go p.resolve()
	return p, nil
}

// jsPending is a published message waiting for its ack.
type jsPending struct {
	f    jetstream.PubAckFuture
	done func(error)
}

type jsProducer struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	subjects []string
	// acks carries futures in publish order to resolve, which waits for
	// each; a stream acknowledges in order, so waiting in order costs
	// nothing.
	acks     chan jsPending
	inflight sync.WaitGroup
	wg       sync.WaitGroup
	once     sync.Once
}

func (p *jsProducer) resolve() {
	defer p.wg.Done()
	for a := range p.acks {
		select {
		case <-a.f.Ok():
			a.done(nil)
		case err := <-a.f.Err():
			a.done(err)
		}
		p.inflight.Done()
	}
}

func (p *jsProducer) send(ctx context.Context, part int32, value []byte, done func(error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := p.js.PublishAsync(p.subjects[part], value)
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			continue // back-pressure: Workload.Inflight messages await their acks
		}
		if err != nil {
			done(err)
			return nil
		}
		// resolve waits for every future, each bounded by the publish
		// timeout, so this send never waits forever.
		p.inflight.Add(1)
		p.acks <- jsPending{f: f, done: done}
		return nil
	}
}

func (p *jsProducer) flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *jsProducer) close() {
	p.once.Do(func() {
		close(p.acks)
		p.nc.Close() // fails the futures still pending, so resolve ends
		p.wg.Wait()
	})
}

func (s *jsSystem) newConsumer(w Workload, i int, parts []int32) (consumer, error) {
	nc, err := s.connect(i + 1)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if len(parts) == w.Partitions {
		cfg.FilterSubjects = []string{jsSubjectPrefix + ">"}
	} else {
		for _, p := range parts {
			cfg.FilterSubjects = append(cfg.FilterSubjects, s.subjects[p])
		}
	}
	return &jsConsumer{nc: nc, js: js, cfg: cfg}, nil
}

type jsConsumer struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg jetstream.OrderedConsumerConfig
}

func (c *jsConsumer) run(ctx context.Context, fn func([]byte), errs func(error)) error {
	// A loaded server can take longer than the API timeout to create the
	// consumer; try again (each failure counted) until the run ends.
	var cons jetstream.Consumer
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var err error
		cons, err = c.js.OrderedConsumer(cctx, jsStream, c.cfg)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		errs(fmt.Errorf("bench: JetStream ordered consumer: %w", err))
	}
	var mu sync.Mutex // fn is called from one goroutine at a time
	cc, err := cons.Consume(func(m jetstream.Msg) {
		mu.Lock()
		fn(m.Data())
		mu.Unlock()
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) { errs(err) }))
	if err != nil {
		return fmt.Errorf("bench: JetStream consume: %w", err)
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

func (c *jsConsumer) close() { c.nc.Close() }
