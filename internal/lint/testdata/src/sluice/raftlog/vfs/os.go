package vfs

import (
	"os"
	"time"

	"example.com/plot" // want `import rule: sluice/raftlog/vfs may import only std, sluice/raftlog/vfs/\.\.\., not "example.com/plot"`
)

var _ = plot.Draw

// OS is the real file system: exempt from the determinism rules, not from the import rules.
type OS struct{ f *os.File }

// Sync records how long the sync took.
func (o OS) Sync() error {
	start := time.Now()
	err := o.f.Sync()
	_ = time.Since(start)
	return err
}
