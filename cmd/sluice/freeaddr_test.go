package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
)

// freeAddr returns a 127.0.0.1 address for a broker process to listen on.
// It must stay free from when it is chosen until the process binds it,
// seconds later, so it is taken below the kernel's ephemeral port range:
// a port the kernel handed out for ":0" is handed out again to other
// tests' listeners and to every outgoing connection of the test run (a
// broker process once failed to start, its port taken meanwhile). It is
// checked to be free now, and never returned twice in one test binary.
func freeAddr(t *testing.T) string {
	t.Helper()
	lo := ephemeralLow()
	freeAddrMu.Lock()
	defer freeAddrMu.Unlock()
	for range 1000 {
		port := 10000 + rand.IntN(lo-10000)
		if freeAddrUsed[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		freeAddrUsed[port] = true
		return ln.Addr().String()
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

var (
	freeAddrMu   sync.Mutex
	freeAddrUsed = map[int]bool{}
)

// ephemeralLow is the lowest ephemeral port (Linux's
// ip_local_port_range; 32768, its default, elsewhere).
func ephemeralLow() int {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var a, z int
		if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &a, &z); err == nil && a > 11000 {
			lo = a
		}
	}
	return lo
}
