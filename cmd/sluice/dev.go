package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	broker "sluice/node/runtime"
)

// runDev starts an in-process cluster and serves until interrupted.
func runDev(c *command, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(c, stderr)
	brokers := fs.Int("brokers", 3, "number of brokers")
	host := fs.String("host", "127.0.0.1", "address the brokers listen on and advertise")
	port := fs.Int("port", 9092, "port of broker 1; broker i listens on port+i-1 (0: any free ports)")
	dir := fs.String("data-dir", defaultDevDir(), "data directory (one subdirectory per broker)")
	fresh := fs.Bool("fresh", false, "wipe the data directory first")
	partitions := fs.Int("partitions", 1, "partitions of auto-created topics (num.partitions)")
	verbose := fs.Bool("v", false, "debug logging")
	metrics := fs.String("metrics", "", "serve Prometheus /metrics on HOST:PORT, broker i on PORT+i-1 (default: off)")
	fileSync := fs.Bool("file-sync", false, "group commit fdatasyncs each file it touched instead of one syncfs per commit (see sluice serve -h)")
	if status := parse(fs, args); status >= 0 {
		return status
	}
	if *brokers < 1 || *brokers > 9 {
		fmt.Fprintln(stderr, "sluice dev: -brokers must be between 1 and 9")
		return exitUsage
	}
	if *partitions < 1 || *partitions > 10000 {
		fmt.Fprintf(stderr, "sluice dev: -partitions must be in [1, 10000], not %d\n", *partitions)
		return exitUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := broker.DevOptions{Brokers: *brokers, Host: *host, BasePort: *port, DataDir: *dir, Fresh: *fresh, Logger: logger,
		FileSync: *fileSync}
	opts.Defaults.Partitions = int32(*partitions)
	// No initial rebalance delay, as Kafka's shipped server.properties sets
	// it for development: a group's first consumer starts at once.
	opts.Groups.Coordinator.InitialRebalanceDelayMs = -1
	start := time.Now()
	cl, err := broker.StartDev(opts)
	if err != nil {
		fmt.Fprintf(stderr, "sluice dev: %v\n", err)
		return 1
	}
	ms, err := serveDevMetrics(cl, *brokers, *metrics)
	if err != nil {
		cl.Stop()
		fmt.Fprintf(stderr, "sluice dev: -metrics: %v\n", err)
		return 1
	}
	bootstrap := strings.Join(cl.Bootstrap(), ",")
	fmt.Fprintf(stdout, "sluice dev: %d brokers ready in %v (cluster %s, data in %s)\n", *brokers, time.Since(start).Round(time.Millisecond), cl.ClusterID(), *dir)
	fmt.Fprintf(stdout, "bootstrap: %s\n", bootstrap)
	for i, m := range ms {
		fmt.Fprintf(stdout, "metrics: broker %d at http://%s/metrics\n", i+1, m.Addr())
	}
	fmt.Fprintf(stdout, "try:  echo hello | kcat -P -b %s -t demo && kcat -C -b %s -t demo -e\n", cl.Bootstrap()[0], cl.Bootstrap()[0])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Fprintln(stdout, "sluice dev: stopping")
	for _, m := range ms {
		m.Close()
	}
	cl.Stop()
	return exitOK
}

// defaultDevDir is under the user's cache directory.
func defaultDevDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "sluice", "dev")
}

// serveDevMetrics serves broker i's metrics on addr's port+i-1 (any free
// port when it is 0); none when addr is empty.
func serveDevMetrics(cl *broker.Cluster, brokers int, addr string) ([]*broker.MetricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	host, portStr, err := net.SplitHostPort(addr)
	port, err2 := strconv.Atoi(portStr)
	if err != nil || err2 != nil {
		return nil, fmt.Errorf("want HOST:PORT, got %q", addr)
	}
	var out []*broker.MetricsServer
	for i := range brokers {
		p := port
		if p != 0 {
			p += i
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			var m *broker.MetricsServer
			if m, err = broker.ServeMetrics(cl.Broker(int32(i+1)), ln, broker.MetricsOptions{}); err == nil {
				out = append(out, m)
				continue
			}
		}
		for _, m := range out {
			m.Close()
		}
		return nil, err
	}
	return out, nil
}
