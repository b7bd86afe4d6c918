package runtime

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"sluice/node"
	"sluice/raftlog/vfs"
)

// identityFile records, in a broker's data directory, the cluster it
// belongs to, its broker id and its storage incarnation (DESIGN.md step 8).
const identityFile = "identity.json"

type identityJSON struct {
	ClusterID   string `json:"cluster_id"`
	BrokerID    int32  `json:"broker_id"`
	Incarnation string `json:"incarnation"`
}

// LoadIdentity reads dir's identity, creating it (with a new incarnation)
// for an empty directory. A directory of another cluster or another broker
// id is refused.
func LoadIdentity(dir string, brokerID int32, clusterID string) (Identity, error) {
	path := filepath.Join(dir, identityFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return createIdentity(dir, brokerID, clusterID)
	}
	if err != nil {
		return Identity{}, err
	}
	var id identityJSON
	if err := json.Unmarshal(b, &id); err != nil {
		return Identity{}, fmt.Errorf("runtime: %s: %w", path, err)
	}
	if id.ClusterID != clusterID {
		return Identity{}, fmt.Errorf("runtime: data directory %s belongs to cluster %s, not %s; refusing to start", dir, id.ClusterID, clusterID)
	}
	if id.BrokerID != brokerID {
		return Identity{}, fmt.Errorf("runtime: data directory %s belongs to broker %d, not %d; refusing to start", dir, id.BrokerID, brokerID)
	}
	inc, err := base64.RawURLEncoding.DecodeString(id.Incarnation)
	if err != nil || len(inc) != 16 {
		return Identity{}, fmt.Errorf("runtime: %s: bad incarnation %q", path, id.Incarnation)
	}
	out := Identity{ClusterID: id.ClusterID}
	copy(out.Incarnation[:], inc)
	return out, nil
}

func createIdentity(dir string, brokerID int32, clusterID string) (Identity, error) {
	var out Identity
	out.ClusterID = clusterID
	_, _ = rand.Read(out.Incarnation[:])
	b, _ := json.MarshalIndent(identityJSON{ClusterID: clusterID, BrokerID: brokerID,
		Incarnation: base64.RawURLEncoding.EncodeToString(out.Incarnation[:])}, "", "  ")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return out, err
	}
	if err := writeFileSync(filepath.Join(dir, identityFile), append(b, '\n')); err != nil {
		return out, err
	}
	return out, nil
}

// writeFileSync writes a file durably: temporary file, fsync, rename,
// directory fsync.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// NewClusterID draws a Kafka-style cluster id (a base64url UUID).
func NewClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// DevOptions configures an in-process cluster (`sluice dev`, tests).
type DevOptions struct {
	Brokers  int    // default 3
	Host     string // default 127.0.0.1
	BasePort int    // broker i listens on BasePort+i; 0 picks free ports
	DataDir  string
	Fresh    bool // wipe DataDir first
	Logger   *slog.Logger
	Defaults node.TopicDefaults
	Groups   node.GroupConfig
	TickMs   int64
	// RetentionCheckMs: Options'.
	RetentionCheckMs int64
	// Listen opens broker listeners (default net.Listen("tcp", addr));
	// tests pass in-memory listeners (see the synctest test).
	Listen func(addr string) (net.Listener, error)
	// MinFreeBytes, DiskCheckInterval and FreeSpace: Options' (the disk
	// watcher).
	MinFreeBytes      int64
	DiskCheckInterval time.Duration
	FreeSpace         func(dir string) (uint64, error)
	// FileSync: Options'.
	FileSync bool
}

func (o *DevOptions) listen(addr string) (net.Listener, error) {
	if o.Listen != nil {
		return o.Listen(addr)
	}
	return net.Listen("tcp", addr)
}

// Cluster is brokers running in this process over a LocalNet.
type Cluster struct {
	opts      DevOptions
	net       *LocalNet
	clusterID string
	members   []node.Broker
	brokers   []*Broker
	// existed: the data directory held a cluster before StartDev (its
	// cluster_id file); started: every broker has been started once. Either
	// means the cluster exists, so a broker directory without state is a
	// wiped disk that must join, never bootstrap.
	existed, started bool
	lock             *DirLock // on opts.DataDir, released by Stop
}

// StartDev starts an in-process cluster and waits until it has a
// controller.
func StartDev(opts DevOptions) (*Cluster, error) {
	if opts.Brokers == 0 {
		opts.Brokers = 3
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	lock, err := LockDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if opts.Fresh {
		if err := removeAllBut(opts.DataDir); err != nil {
			lock.Unlock()
			return nil, err
		}
	}
	cid, existed, err := devClusterID(opts.DataDir)
	if err != nil {
		lock.Unlock()
		return nil, err
	}
	c := &Cluster{opts: opts, net: NewLocalNet(), clusterID: cid, brokers: make([]*Broker, opts.Brokers), existed: existed, lock: lock}
	lns := make([]net.Listener, opts.Brokers)
	for i := range lns {
		port := 0
		if opts.BasePort != 0 {
			port = opts.BasePort + i
		}
		ln, err := opts.listen(net.JoinHostPort(opts.Host, strconv.Itoa(port)))
		if err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			lock.Unlock()
			return nil, fmt.Errorf("runtime: listen for broker %d: %w", i+1, err)
		}
		lns[i] = ln
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		pn, _ := strconv.Atoi(p)
		c.members = append(c.members, node.Broker{ID: int32(i + 1), Host: opts.Host, Port: int32(pn)})
	}
	for i := range lns {
		if err := c.start(i, lns[i]); err != nil {
			c.Stop()
			for _, l := range lns[i:] {
				l.Close()
			}
			return nil, err
		}
	}
	c.started = true
	if err := c.WaitReady(30 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// devClusterID reads or creates the cluster id of a dev data directory;
// existed reports that it was there already.
func devClusterID(dir string) (cid string, existed bool, err error) {
	path := filepath.Join(dir, "cluster_id")
	b, err := os.ReadFile(path)
	if err == nil {
		return string(b), true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	cid = NewClusterID()
	return cid, false, writeFileSync(path, []byte(cid))
}

func (c *Cluster) brokerDir(i int) string {
	return filepath.Join(c.opts.DataDir, "broker-"+strconv.Itoa(i+1))
}

func (c *Cluster) start(i int, ln net.Listener) error {
	dir := c.brokerDir(i)
	join := c.joining(i)
	var id Identity
	var err error
	if join {
		// Its disk was wiped (or the directory deleted): new storage under a
		// new incarnation, never the old one, which the cluster's groups may
		// already have re-added once.
		c.opts.Logger.Warn("broker data directory has no state but the cluster exists; joining as new storage",
			"broker", i+1, "data_dir", dir)
		id, err = createIdentity(dir, int32(i+1), c.clusterID)
	} else {
		id, err = LoadIdentity(dir, int32(i+1), c.clusterID)
	}
	if err != nil {
		return err
	}
	b, err := Start(Options{ID: int32(i + 1), Brokers: c.members, Listener: ln, DataDir: dir,
		Logger: c.opts.Logger, Defaults: c.opts.Defaults, Groups: c.opts.Groups, TickMs: c.opts.TickMs, Net: c.net, Join: join,
		RetentionCheckMs: c.opts.RetentionCheckMs,
		MinFreeBytes:     c.opts.MinFreeBytes, DiskCheckInterval: c.opts.DiskCheckInterval, FreeSpace: c.opts.FreeSpace,
		FileSync: c.opts.FileSync}, id)
	if err != nil {
		return err
	}
	c.brokers[i] = b
	return nil
}

// joining reports whether broker i must start with Join: the cluster exists
// (and some other broker has state), but its directory has none.
func (c *Cluster) joining(i int) bool {
	fs := vfs.OS()
	if !c.existed && !c.started || node.HasState(fs, c.brokerDir(i)) {
		return false
	}
	for j := range c.brokers {
		if j != i && node.HasState(fs, c.brokerDir(j)) {
			return true
		}
	}
	return false
}

// Bootstrap is the comma-separated list of broker addresses.
func (c *Cluster) Bootstrap() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port))))
	}
	return out
}

// ClusterID is the cluster's id.
func (c *Cluster) ClusterID() string { return c.clusterID }

// Broker returns broker id's runtime (nil while stopped).
func (c *Cluster) Broker(id int32) *Broker { return c.brokers[id-1] }

// StopBroker stops broker id (its data directory stays).
func (c *Cluster) StopBroker(id int32) {
	if b := c.brokers[id-1]; b != nil {
		b.Stop()
		c.brokers[id-1] = nil
	}
}

// ShutdownBroker stops broker id gracefully (Broker.Shutdown): its
// leaderships handed over first. It returns how many groups it still led.
func (c *Cluster) ShutdownBroker(ctx context.Context, id int32) int {
	b := c.brokers[id-1]
	if b == nil {
		return 0
	}
	left := b.Shutdown(ctx)
	c.brokers[id-1] = nil
	return left
}

// RestartBroker starts broker id again from its data directory, on its
// old address.
func (c *Cluster) RestartBroker(id int32) error {
	m := c.members[id-1]
	ln, err := c.opts.listen(net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port))))
	if err != nil {
		return err
	}
	if err := c.start(int(id-1), ln); err != nil {
		ln.Close()
		return err
	}
	return nil
}

// WaitReady waits until every running broker knows the controller.
func (c *Cluster) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ready := true
		for _, b := range c.brokers {
			if b != nil && b.Controller() < 0 {
				ready = false
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("runtime: cluster not ready after %v: no controller elected", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Stop stops every broker.
func (c *Cluster) Stop() {
	for i, b := range c.brokers {
		if b != nil {
			b.Stop()
			c.brokers[i] = nil
		}
	}
	c.lock.Unlock()
}
