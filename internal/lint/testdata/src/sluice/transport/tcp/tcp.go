// Package tcp is the TCP transport: exempt.
package tcp

import (
	"time"

	"sluice/transport"
)

// Serve runs the accept loop.
func Serve(g transport.GroupID) {
	go func() { time.Sleep(time.Millisecond); _ = g }()
}
