package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sluice/node"
	broker "sluice/node/runtime"
)

// member is one broker of a served cluster: its Kafka address (what
// clients are told) and its raft address (what brokers dial).
type member struct {
	id          int32
	kafka, raft string
}

// parseBrokers reads "1=kafkaHost:port@raftHost:port,2=...".
func parseBrokers(s string) ([]member, error) {
	var out []member
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		idStr, rest, ok := strings.Cut(part, "=")
		kafka, raft, ok2 := strings.Cut(rest, "@")
		id, err := strconv.Atoi(idStr)
		if !ok || !ok2 || err != nil || id <= 0 {
			return nil, fmt.Errorf("bad broker %q: want ID=KAFKA_HOST:PORT@RAFT_HOST:PORT", part)
		}
		for _, a := range []string{kafka, raft} {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("bad broker %q: %v", part, err)
			}
		}
		if slices.ContainsFunc(out, func(m member) bool { return m.id == int32(id) }) {
			return nil, fmt.Errorf("broker %d listed twice", id)
		}
		out = append(out, member{id: int32(id), kafka: kafka, raft: raft})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no brokers listed")
	}
	return out, nil
}

// serveConfig is one broker process.
type serveConfig struct {
	id         int32
	members    []member
	clusterID  string
	dataDir    string
	partitions int
	join       bool
	minFree    int64
	fileSync   bool
	maxConns   int
	logger     *slog.Logger
}

// served is a running broker with its network.
type served struct {
	b    *broker.Broker
	net  *broker.TCPNet
	lock *broker.DirLock // on the data directory
}

func (s *served) stop() {
	s.b.Stop()
	s.net.Close()
	s.lock.Unlock()
}

// shutdown stops gracefully: leadership handed over first (bounded by
// ctx), then flushed and closed. It returns the groups still led.
func (s *served) shutdown(ctx context.Context) int {
	left := s.b.Shutdown(ctx)
	s.net.Close()
	s.lock.Unlock()
	return left
}

// startServe starts one broker on the given Kafka and raft listeners.
func startServe(cfg serveConfig, kafkaLn, raftLn net.Listener) (*served, error) {
	var brokers []node.Broker
	peers := map[uint64]string{}
	for _, m := range cfg.members {
		host, portStr, _ := net.SplitHostPort(m.kafka)
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return nil, fmt.Errorf("broker %d: bad port in %s", m.id, m.kafka)
		}
		brokers = append(brokers, node.Broker{ID: m.id, Host: host, Port: int32(port), RaftAddr: m.raft})
		if m.id != cfg.id {
			peers[uint64(m.id)] = m.raft
		}
	}
	lock, err := broker.LockDataDir(cfg.dataDir)
	if err != nil {
		return nil, err
	}
	id, err := broker.LoadIdentity(cfg.dataDir, cfg.id, cfg.clusterID)
	if err != nil {
		lock.Unlock()
		return nil, err
	}
	tn, err := broker.NewTCPNet(broker.TCPNetConfig{ID: uint64(cfg.id), ClusterID: cfg.clusterID, Incarnation: id.Incarnation,
		Listener: raftLn, Peers: peers, Logger: cfg.logger})
	if err != nil {
		lock.Unlock()
		return nil, err
	}
	opts := broker.Options{ID: cfg.id, Brokers: brokers, Listener: kafkaLn, DataDir: cfg.dataDir, Logger: cfg.logger, Net: tn,
		Join: cfg.join, MinFreeBytes: cfg.minFree, FileSync: cfg.fileSync,
		MaxConnections: cfg.maxConns}
	opts.Defaults.Partitions = int32(cfg.partitions)
	b, err := broker.Start(opts, id)
	if err != nil {
		tn.Close()
		lock.Unlock()
		return nil, err
	}
	return &served{b: b, net: tn, lock: lock}, nil
}

// runServe runs one broker of a multi-process cluster until SIGINT or
// SIGTERM.
func runServe(c *command, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(c, stderr)
	id := fs.Int("id", 0, "this broker's id (required; one of -brokers)")
	brokersFlag := fs.String("brokers", "", "every broker: ID=KAFKA_ADDR@RAFT_ADDR,... (required; the same list on every broker)")
	listen := fs.String("listen", "", "Kafka listen address (default: this broker's KAFKA_ADDR)")
	raftListen := fs.String("raft-listen", "", "raft listen address (default: this broker's RAFT_ADDR)")
	clusterID := fs.String("cluster-id", "", "the cluster's id (required; any string, the same on every broker; a data directory of another cluster is refused)")
	dataDir := fs.String("data-dir", "", "this broker's data directory (required)")
	partitions := fs.Int("partitions", 1, "partitions of auto-created topics (num.partitions)")
	join := fs.Bool("join", false, "the data directory is new but the cluster exists (a wiped disk or a replaced broker): "+
		"join as new storage, which votes only once the cluster has re-added it; ignored if the directory has data")
	verbose := fs.Bool("v", false, "debug logging")
	metrics := fs.String("metrics", "", "serve Prometheus /metrics on this address (default: off)")
	minFree := fs.Int64("min-free-bytes", 64<<20, "below this much free space in the data directory's file system, produce is refused with KAFKA_STORAGE_ERROR (negative: never)")
	fileSync := fs.Bool("file-sync", false, "group commit fdatasyncs each file it touched, instead of one syncfs of the data directory's file system per commit (the default on Linux 5.8+: one device flush for many partitions; it also flushes other writers' data on that file system)")
	maxConns := fs.Int("max-connections", 4096, "client connections open at once (max.connections); one beyond it is closed at once")
	grace := fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM, how long to hand leadership over before stopping anyway")
	config := fs.String("config", "", "a file of KEY=VALUE lines with the same keys as these flags (# comments); flags on the command line win")
	if status := parse(fs, args); status >= 0 {
		return status
	}
	if *config != "" {
		if err := loadConfigFile(fs, *config); err != nil {
			fmt.Fprintf(stderr, "sluice serve: %v\n", err)
			return exitUsage
		}
	}
	members, err := parseBrokers(*brokersFlag)
	if err == nil && (*id <= 0 || *clusterID == "" || *dataDir == "") {
		err = fmt.Errorf("-id, -brokers, -cluster-id and -data-dir are required")
	}
	if err == nil && *maxConns < 1 {
		err = fmt.Errorf("-max-connections must be at least 1, not %d", *maxConns)
	}
	if err == nil && (*partitions < 1 || *partitions > 10000) {
		err = fmt.Errorf("-partitions must be in [1, 10000], not %d", *partitions)
	}
	var self member
	if err == nil {
		i := slices.IndexFunc(members, func(m member) bool { return m.id == int32(*id) })
		if i < 0 {
			err = fmt.Errorf("broker %d is not in -brokers", *id)
		} else {
			self = members[i]
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice serve: %v\n", err)
		return exitUsage
	}
	if *listen == "" {
		*listen = self.kafka
	}
	if *raftListen == "" {
		*raftListen = self.raft
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	kafkaLn, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "sluice serve: %v\n", err)
		return 1
	}
	raftLn, err := net.Listen("tcp", *raftListen)
	if err != nil {
		kafkaLn.Close()
		fmt.Fprintf(stderr, "sluice serve: %v\n", err)
		return 1
	}
	s, err := startServe(serveConfig{id: int32(*id), members: members, clusterID: *clusterID, dataDir: *dataDir,
		partitions: *partitions, join: *join, minFree: *minFree, fileSync: *fileSync, maxConns: *maxConns, logger: logger}, kafkaLn, raftLn)
	if err != nil {
		kafkaLn.Close()
		raftLn.Close()
		fmt.Fprintf(stderr, "sluice serve: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "sluice serve: broker %d serving Kafka on %s (advertised %s), raft on %s\n", *id, *listen, self.kafka, *raftListen)
	var m *broker.MetricsServer
	if *metrics != "" {
		ln, err := net.Listen("tcp", *metrics)
		if err == nil {
			m, err = broker.ServeMetrics(s.b, ln, broker.MetricsOptions{})
		}
		if err != nil {
			s.stop()
			fmt.Fprintf(stderr, "sluice serve: -metrics: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "sluice serve: metrics at http://%s/metrics\n", m.Addr())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	stop() // a second signal kills the process
	fmt.Fprintf(stdout, "sluice serve: broker %d stopping: handing leadership over (at most %v)\n", *id, *grace)
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	left := s.shutdown(sctx)
	if m != nil {
		m.Close()
	}
	if left > 0 {
		fmt.Fprintf(stdout, "sluice serve: broker %d stopped still leading %d groups (they elect a new leader after an election timeout)\n", *id, left)
	} else {
		fmt.Fprintf(stdout, "sluice serve: broker %d stopped; its leaderships were handed over\n", *id)
	}
	return exitOK
}

// loadConfigFile sets, from a file of KEY=VALUE lines, every flag of fs
// the command line did not set. Keys are the flags' names (with or
// without leading dashes); blank lines and lines starting with # are
// skipped. An unknown key or a bad value is an error naming the line.
func loadConfigFile(fs *flag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimLeft(strings.TrimSpace(k), "-"), strings.TrimSpace(v)
		if !ok || k == "" {
			return fmt.Errorf("%s:%d: want KEY=VALUE, got %q", path, i+1, line)
		}
		if fs.Lookup(k) == nil || k == "config" {
			return fmt.Errorf("%s:%d: unknown key %q (the keys are the flags of sluice serve)", path, i+1, k)
		}
		if set[k] {
			continue
		}
		if err := fs.Set(k, v); err != nil {
			return fmt.Errorf("%s:%d: %s: %v", path, i+1, k, err)
		}
	}
	return nil
}
