// Package writer is exempt: it runs the disk goroutines.
package writer

import (
	"time"

	"sluice/raftlog"
)

// Start runs a writer goroutine.
func Start(l *raftlog.Log) {
	go func() {
		time.Sleep(time.Millisecond)
		_ = l
	}()
}
