package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"sluice/env"
	"sluice/env/realtime"
	"sluice/node"
	"sluice/raftlog"
	"sluice/raftlog/vfs"
	"sluice/raftlog/writer"
	"sluice/transport"
)

// Options configures one broker process part.
type Options struct {
	ID      int32
	Brokers []node.Broker // the whole cluster, this broker included
	// Listener serves Kafka clients; the broker owns it from Start on.
	Listener net.Listener
	DataDir  string
	Logger   *slog.Logger
	Defaults node.TopicDefaults
	Groups   node.GroupConfig
	TickMs   int64 // default 100
	// RetentionCheckMs: log.retention.check.interval.ms (default 5 min).
	RetentionCheckMs int64
	// SegmentBytes of every log (default raftlog's 64 MiB).
	SegmentBytes int64
	// Net carries raft traffic between brokers.
	Net Network
	// MaxRequestBytes bounds one request frame before it is read
	// (socket.request.max.bytes, default 100 MiB).
	MaxRequestBytes int
	// MaxInflightPerConn bounds requests read from one connection and not
	// yet answered (default 100); the reader waits beyond it.
	MaxInflightPerConn int
	// MaxInflightBytesPerConn bounds the bytes of those requests (default
	// MaxRequestBytes): the reader waits, before reading a request's body,
	// until it fits, unless nothing is in flight (one request of any
	// allowed size always goes). A parked long poll keeps its request, so
	// without it one connection could hold MaxInflightPerConn requests of
	// MaxRequestBytes each.
	MaxInflightBytesPerConn int
	// IdleTimeout closes a connection with nothing in flight after this
	// long without a request (connections.max.idle.ms, default 10 min).
	IdleTimeout time.Duration
	// MaxConnections bounds the client connections open at once (Kafka's
	// max.connections; default 4096): each holds read and write buffers
	// and up to MaxInflightPerConn requests. One accepted beyond it is
	// closed at once, and the refusal logged (at most once a second).
	MaxConnections int
	// FS overrides the real file system (tests).
	FS vfs.FS
	// MinFreeBytes: below this much free space in the data directory's
	// file system, produce is refused with KAFKA_STORAGE_ERROR (disk.go;
	// default 64 MiB, negative: never). DiskCheckInterval is how often
	// it is read (default 1 s); FreeSpace reads it (default statfs;
	// tests replace it).
	MinFreeBytes      int64
	DiskCheckInterval time.Duration
	FreeSpace         func(dir string) (uint64, error)
	// FileSync: a group commit syncs each file it touched with its own
	// fdatasync. By default, where the data directory's file system offers
	// a whole sync that reports errors (Linux 5.8+ syncfs), a commit
	// touching several partitions' files syncs them all with one syncfs:
	// one device flush instead of one per file (writer.Options.WholeSync).
	// It also writes back whatever else is dirty on that file system, so
	// give the data directory a file system of its own, or set FileSync
	// when it shares one with heavy writers.
	FileSync bool
	// Join: the data directory is new but the cluster already exists (a
	// wiped disk, a replacement): node.Config.Join. The identity passed to
	// Start must then carry a new incarnation.
	Join bool
}

func (o Options) withDefaults() Options {
	if o.TickMs == 0 {
		o.TickMs = 100
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = 100 << 20
	}
	if o.MaxInflightPerConn == 0 {
		o.MaxInflightPerConn = 100
	}
	if o.MaxInflightBytesPerConn == 0 {
		o.MaxInflightBytesPerConn = o.MaxRequestBytes
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = 4096
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FS == nil {
		o.FS = vfs.OS()
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = 64 << 20
	}
	if o.DiskCheckInterval <= 0 {
		o.DiskCheckInterval = time.Second
	}
	if o.FreeSpace == nil {
		o.FreeSpace = statfsFree
	}
	return o
}

// Network is how a broker's raft traffic reaches its peers: the in-process
// LocalNet for `sluice dev`, TCP across processes (issue 5).
type Network interface {
	// Attach registers broker id's inbox and returns its sending side.
	Attach(id uint64, in Inbox) transport.Transport
	// Detach unregisters it (the broker stopped).
	Detach(id uint64)
}

// PeerSetter is a Network that dials peers by address (TCP): it learns
// brokers added to the cluster from the core's Output.Peers.
type PeerSetter interface {
	SetPeer(id uint64, addr string)
}

// Inbox is what a network delivers to a broker. Deliver reports false when
// the broker cannot take the batch (its queue is full, or it stopped); the
// network then drops it and reports that to the sender.
type Inbox interface {
	Deliver(b transport.Batch) bool
	transport.Reporter
}

// Broker runs one node core: its event loop and the goroutines that feed
// it (connections, disk, reads, ticker).
type Broker struct {
	opts  Options
	log   *slog.Logger
	clock *realtime.Clock
	n     *node.Node
	tr    transport.Transport
	w     *writer.Writer
	whole vfs.WholeSync // the writer's, closed after it; nil: file by file

	requests chan node.Request // from connection readers; bounded
	mu       sync.Mutex        // guards pending
	pending  []func()          // completions and deliveries; bounded by what is in flight
	wake     chan struct{}
	reads    chan readJob

	inboxBytes atomic.Int64
	diskFree   atomic.Uint64
	reqs       *requestMetrics
	commits    *commitMetrics
	conns      sync.Map // conn id -> *conn
	nextConn   atomic.Uint64
	openConns  atomic.Int64 // client connections open (MaxConnections)

	quit    chan struct{}
	stopped chan struct{}
	wg      sync.WaitGroup
	addr    string
}

type readJob struct {
	r node.Read
}

// Identity is what a data directory records about itself.
type Identity struct {
	ClusterID   string
	Incarnation [16]byte
}

// Start opens the broker's data directory and starts serving.
func Start(opts Options, id Identity) (*Broker, error) {
	opts = opts.withDefaults()
	log := opts.Logger.With("broker", opts.ID)
	e, seed := realtime.NewEnv(opts.Logger)
	log.Debug("random source seeded", "seed", seed)
	b := &Broker{
		opts: opts, log: log, clock: realtime.NewClock(),
		requests: make(chan node.Request, 1024), wake: make(chan struct{}, 1),
		reads: make(chan readJob, 1024), quit: make(chan struct{}), stopped: make(chan struct{}),
		reqs: newRequestMetrics(), commits: newCommitMetrics(),
	}
	n, err := node.Open(node.Config{
		ID: opts.ID, ClusterID: id.ClusterID, Incarnation: id.Incarnation, Brokers: opts.Brokers,
		FS: opts.FS, Dir: opts.DataDir, Env: env.Env{Clock: e.Clock, Rand: e.Rand, Log: opts.Logger},
		SegmentBytes: opts.SegmentBytes, TickMs: opts.TickMs, Defaults: opts.Defaults, Groups: opts.Groups, Join: opts.Join,
		RetentionCheckMs: opts.RetentionCheckMs,
	})
	if err != nil {
		return nil, err
	}
	b.n = n
	var wopts writer.Options
	if ws, ok := opts.FS.(vfs.WholeSyncer); ok && !opts.FileSync {
		s, err := ws.OpenWholeSync(opts.DataDir)
		if err != nil {
			log.Info("group commit syncs file by file", "reason", err)
		} else {
			b.whole, wopts.WholeSync = s, s
		}
	}
	b.w = writer.New(opts.FS, wopts)
	b.w.OnCycle = b.commits.cycle
	b.tr = opts.Net.Attach(uint64(opts.ID), inbox{b})
	for i := 0; i < 4; i++ {
		b.wg.Add(1)
		go b.reader()
	}
	b.addr = opts.Listener.Addr().String()
	b.wg.Add(2)
	go b.loop()
	go b.accept()
	if opts.MinFreeBytes > 0 {
		b.wg.Add(1)
		go b.watchDisk()
	}
	log.Info("broker listening", "addr", b.addr, "data_dir", opts.DataDir)
	return b, nil
}

// Addr is the address clients connect to.
func (b *Broker) Addr() string { return b.addr }

// Stop closes the listener and connections, stops the loop, and closes
// the logs after the writes in flight finish.
func (b *Broker) Stop() {
	select {
	case <-b.quit:
		return
	default:
	}
	close(b.quit)
	b.opts.Net.Detach(uint64(b.opts.ID))
	b.opts.Listener.Close()
	b.conns.Range(func(_, v any) bool {
		v.(*conn).close()
		return true
	})
	<-b.stopped
	b.w.Close()
	if b.whole != nil {
		b.whole.Close()
	}
	close(b.reads)
	b.wg.Wait()
	b.n.Close()
}

// Shutdown stops the broker gracefully (SIGTERM): it hands the leadership
// of every group it leads to another replica (node.Resign, retried every
// tick) while it goes on serving — clients that ask it for a partition it
// no longer leads are told the new leader — then stops as Stop does, which
// waits for every write handed to the disk to finish. If ctx ends first
// the broker stops anyway, and the groups it still led elect a leader
// after an election timeout, as after a crash. It returns how many groups
// it still led when it stopped.
func (b *Broker) Shutdown(ctx context.Context) int {
	tick := time.NewTicker(time.Duration(b.opts.TickMs) * time.Millisecond)
	defer tick.Stop()
	left := -1
	for {
		if !b.Do(func(n *node.Node) { left = n.Resign() }) || left == 0 {
			break
		}
		select {
		case <-ctx.Done():
			b.log.Warn("shutdown: stopping while still leading", "groups", left)
			b.Stop()
			return left
		case <-tick.C:
		}
	}
	b.log.Info("shutdown: leadership handed over")
	b.Stop()
	return max(left, 0)
}

// post queues a completion or delivery for the loop; it never blocks, so
// the writer's and the network's goroutines never wait on the loop.
func (b *Broker) post(f func()) {
	b.mu.Lock()
	b.pending = append(b.pending, f)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

type inbox struct{ b *Broker }

// maxInboxBytes bounds the peer batches waiting for the loop.
const maxInboxBytes = 64 << 20

func (i inbox) Deliver(bt transport.Batch) bool {
	size := int64(bt.SizeBytes())
	if i.b.inboxBytes.Add(size) > maxInboxBytes {
		i.b.inboxBytes.Add(-size)
		return false
	}
	select {
	case <-i.b.quit:
		i.b.inboxBytes.Add(-size)
		return false
	default:
	}
	bt.Msgs = append([]transport.Envelope(nil), bt.Msgs...)
	i.b.post(func() {
		i.b.inboxBytes.Add(-size)
		i.b.n.Receive(bt)
	})
	return true
}
func (i inbox) Unreachable(g transport.GroupID, node uint64) {
	i.b.post(func() { i.b.n.Unreachable(g, node) })
}
func (i inbox) SnapshotStatus(g transport.GroupID, node uint64, ok bool) {
	i.b.post(func() { i.b.n.SnapshotStatus(g, node, ok) })
}

// loop is the event loop: it owns the node core.
func (b *Broker) loop() {
	defer b.wg.Done()
	defer close(b.stopped)
	tick := time.NewTicker(time.Duration(b.opts.TickMs) * time.Millisecond)
	defer tick.Stop()
	b.n.Tick(b.nowMs())
	for {
		select {
		case <-b.quit:
			return
		case r := <-b.requests:
			b.n.SetNow(b.nowMs())
			b.n.Handle(r)
			// Take what else is waiting, up to a bound, before Ready.
			for i := 0; i < 256; i++ {
				select {
				case r := <-b.requests:
					b.n.Handle(r)
					continue
				default:
				}
				break
			}
		case <-b.wake:
		case <-tick.C:
			b.n.Tick(b.nowMs())
		}
		b.runPending()
		b.dispatch(b.n.Ready())
	}
}

func (b *Broker) nowMs() int64 { return b.clock.NowNs() / 1e6 }

func (b *Broker) runPending() {
	b.mu.Lock()
	fs := b.pending
	b.pending = nil
	b.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// dispatch carries out a Ready's outputs.
func (b *Broker) dispatch(out node.Output) {
	if ps, ok := b.opts.Net.(PeerSetter); ok {
		for _, p := range out.Peers {
			b.log.Info("raft peer", "id", p.ID, "addr", p.RaftAddr)
			ps.SetPeer(uint64(p.ID), p.RaftAddr)
		}
	}
	for _, bt := range out.Batches {
		b.tr.Send(bt)
	}
	if len(out.Writes) > 0 {
		rounds := make([]*raftlog.Round, len(out.Writes))
		byRound := make(map[*raftlog.Round]node.Write, len(out.Writes))
		for i, w := range out.Writes {
			rounds[i] = w.W.Round
			byRound[w.W.Round] = w
		}
		err := b.w.SubmitAll(rounds, func(r *raftlog.Round, err error) {
			w := byRound[r]
			b.post(func() { b.n.WriteDone(w, err) })
		})
		if err != nil {
			for _, w := range out.Writes {
				b.n.WriteDone(w, fmt.Errorf("runtime: writer: %w", err))
			}
		}
	}
	for _, r := range out.Reads {
		select {
		case b.reads <- readJob{r}:
		case <-b.quit:
		}
	}
	for _, resp := range out.Responses {
		if c, ok := b.conns.Load(resp.Conn); ok {
			c.(*conn).deliver(resp)
		}
	}
}

// reader executes cold fetch reads off the loop.
func (b *Broker) reader() {
	defer b.wg.Done()
	for j := range b.reads {
		batches, err := j.r.Plan.Execute()
		id := j.r.ID
		b.post(func() { b.n.ReadDone(id, batches, err) })
	}
}

// accept serves Kafka connections.
func (b *Broker) accept() {
	defer b.wg.Done()
	var refusalLogged time.Time // at most one such log line a second
	for {
		nc, err := b.opts.Listener.Accept()
		if err != nil {
			select {
			case <-b.quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			b.log.Warn("accept failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if b.openConns.Add(1) > int64(b.opts.MaxConnections) {
			b.openConns.Add(-1)
			// Logged before the close, so a client that sees its
			// connection closed finds the reason already in the log.
			if now := time.Now(); now.Sub(refusalLogged) >= time.Second {
				refusalLogged = now
				b.log.Warn("refusing a client connection: too many open", "remote", nc.RemoteAddr().String(), "max_connections", b.opts.MaxConnections)
			}
			nc.Close()
			continue
		}
		c := newConn(b, b.nextConn.Add(1), nc)
		b.conns.Store(c.id, c)
		go c.serve()
	}
}

// Do runs f on the event loop (with the node core) and waits for it; false
// if the broker stopped first.
func (b *Broker) Do(f func(n *node.Node)) bool {
	done := make(chan struct{})
	b.post(func() {
		f(b.n)
		close(done)
	})
	select {
	case <-done:
		return true
	case <-b.stopped:
		return false
	}
}

// Controller is the metadata leader as this broker sees it, -1 if unknown.
func (b *Broker) Controller() int32 {
	c := int32(-1)
	b.Do(func(n *node.Node) { c = n.Controller() })
	return c
}
