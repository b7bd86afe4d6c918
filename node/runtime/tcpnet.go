package runtime

import (
	"log/slog"
	"net"
	"sync"

	"sluice/node"
	"sluice/transport"
	"sluice/transport/tcp"
)

// TCPNet is the Network of a broker in its own process (`sluice serve`):
// raft traffic to and from the other brokers over transport/tcp.
type TCPNet struct {
	t  *tcp.Transport
	mu sync.RWMutex
	in Inbox
}

// TCPNetConfig configures a broker's TCP network.
type TCPNetConfig struct {
	ID          uint64
	ClusterID   string
	Incarnation [16]byte
	// Listener accepts the other brokers' raft connections.
	Listener net.Listener
	// Peers maps every other broker's id to its raft address.
	Peers  map[uint64]string
	Logger *slog.Logger
}

// NewTCPNet starts the transport; batches that arrive before the broker
// attaches are refused (and counted by the transport).
func NewTCPNet(cfg TCPNetConfig) (*TCPNet, error) {
	n := &TCPNet{}
	t, err := tcp.New(tcp.Config{
		ID: cfg.ID, ClusterID: node.ClusterKey(cfg.ClusterID), Incarnation: cfg.Incarnation, Listener: cfg.Listener, Peers: cfg.Peers,
		Deliver: n.deliver, Reporter: tcpReporter{n}, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	n.t = t
	return n, nil
}

// Attach implements Network.
func (n *TCPNet) Attach(_ uint64, in Inbox) transport.Transport {
	n.mu.Lock()
	n.in = in
	n.mu.Unlock()
	return n.t
}

// Detach implements Network.
func (n *TCPNet) Detach(uint64) {
	n.mu.Lock()
	n.in = nil
	n.mu.Unlock()
}

// Close stops the transport.
func (n *TCPNet) Close() { n.t.Close() }

// SetPeer implements PeerSetter: raft traffic to broker id goes to addr
// from now on (a broker added to the cluster, or one that moved).
func (n *TCPNet) SetPeer(id uint64, addr string) {
	if addr != "" {
		n.t.SetPeer(id, addr)
	}
}

// Addr is the raft listener's address.
func (n *TCPNet) Addr() string { return n.t.Addr().String() }

func (n *TCPNet) inbox() Inbox {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.in
}

func (n *TCPNet) deliver(b transport.Batch) bool {
	if in := n.inbox(); in != nil {
		return in.Deliver(b)
	}
	return false
}

type tcpReporter struct{ n *TCPNet }

func (r tcpReporter) Unreachable(g transport.GroupID, node uint64) {
	if in := r.n.inbox(); in != nil {
		in.Unreachable(g, node)
	}
}

func (r tcpReporter) SnapshotStatus(g transport.GroupID, node uint64, ok bool) {
	if in := r.n.inbox(); in != nil {
		in.SnapshotStatus(g, node, ok)
	}
}

// Stats are the transport's counters.
func (n *TCPNet) Stats() tcp.Stats { return n.t.Stats() }
