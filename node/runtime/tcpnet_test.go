package runtime

import (
	"log/slog"
	"net"
	"testing"
	"time"
)

// Brokers of two clusters whose ids share their first 16 bytes refuse each
// other: the identity they announce covers the whole id (node.ClusterKey).
func TestTCPNetRefusesClusterWithSharedIDPrefix(t *testing.T) {
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	a, err := NewTCPNet(TCPNetConfig{ID: 1, ClusterID: "production-cluster-east", Incarnation: [16]byte{1},
		Listener: ln1, Peers: map[uint64]string{2: ln2.Addr().String()}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewTCPNet(TCPNetConfig{ID: 2, ClusterID: "production-cluster-west", Incarnation: [16]byte{2},
		Listener: ln2, Peers: map[uint64]string{1: ln1.Addr().String()}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	deadline := time.Now().Add(10 * time.Second)
	for a.Stats().RefusedHandshakes == 0 || b.Stats().RefusedHandshakes == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no handshake refused: %+v, %+v", a.Stats(), b.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
