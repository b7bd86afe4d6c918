package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the file in a data directory that a running broker (or `sluice
// dev` cluster) holds locked: flock(2), exclusive, released when the holder
// exits however it exits. It holds the holder's process id, for the error
// another start reports.
const lockFile = "LOCK"

// ErrDataDirInUse is wrapped by LockDataDir's error when another process
// (or another start in this one) holds the directory.
var ErrDataDirInUse = errors.New("data directory in use")

// DirLock is a held lock on a data directory.
type DirLock struct{ f *os.File }

// LockDataDir creates dir if needed and locks it, so that two brokers never
// run on one data directory: a second `sluice dev` or `sluice serve` on the
// same directory would write the same raft logs, and records one of them
// acknowledged would be lost.
func LockDataDir(dir string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("runtime: lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if pid := strings.TrimSpace(string(b)); pid != "" {
				holder = "process " + pid
			}
			return nil, fmt.Errorf("runtime: %w: %s is held by %s (another sluice broker or dev cluster); stop it, or use another data directory", ErrDataDirInUse, dir, holder)
		}
		return nil, fmt.Errorf("runtime: lock %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DirLock{f: f}, nil
}

// Unlock releases the lock. Safe on nil and twice.
func (l *DirLock) Unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// removeAllBut removes everything in dir except the lock file (sluice dev
// -fresh, under the lock: removing the locked file would let another start
// lock a new one).
func removeAllBut(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if e.Name() == lockFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
