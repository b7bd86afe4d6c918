package runtime

// The disk watcher: every DiskCheckInterval it reads the data directory's
// free space (statfs) and tells the core when it crosses MinFreeBytes
// (node.SetDiskLow): below it, produce is refused with KAFKA_STORAGE_ERROR
// and nothing else changes; above it again, produce is accepted. A failed
// statfs is logged and leaves the state as it was.

import (
	"math"
	"syscall"
	"time"
)

// statfsFree is the free space of the file system holding dir, in bytes
// available to an unprivileged user.
func statfsFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

func (b *Broker) watchDisk() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.DiskCheckInterval)
	defer t.Stop()
	low, failing := false, false
	for {
		free, err := b.opts.FreeSpace(b.opts.DataDir)
		switch {
		case err != nil:
			if !failing {
				b.log.Warn("cannot read the data directory's free space", "dir", b.opts.DataDir, "err", err)
			}
			failing = true
		default:
			failing = false
			b.diskFree.Store(min(free, math.MaxInt64))
			if now := free < uint64(b.opts.MinFreeBytes); now != low {
				low = now
				b.log.Info("data directory free space", "free_bytes", free, "min_free_bytes", b.opts.MinFreeBytes, "low", low)
				b.post(func() { b.n.SetDiskLow(now) })
			}
		}
		select {
		case <-b.quit:
			return
		case <-t.C:
		}
	}
}

// DiskFree is the data directory's free space as last read, in bytes.
func (b *Broker) DiskFree() uint64 { return b.diskFree.Load() }
