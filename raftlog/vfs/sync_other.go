//go:build !linux

package vfs

import (
	"fmt"
	"os"
)

// pwritev writes bufs one by one where vectored writes are not wired up.
func pwritev(f *os.File, bufs [][]byte, off int64) (int, error) {
	total := 0
	for _, b := range bufs {
		n, err := f.WriteAt(b, off+int64(total))
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// fdatasync falls back to fsync where fdatasync is not available.
func fdatasync(f *os.File) error { return f.Sync() }

// preallocate is a no-op where fallocate is not available: it is an
// optimisation, never required for correctness.
func preallocate(*os.File, int64, int64) error { return nil }

func openWholeSync(string) (WholeSync, error) {
	return nil, fmt.Errorf("%w: syncfs is Linux's", ErrWholeSyncUnsupported)
}
