//go:build !linux

package vfs

import "os"

// fdatasync falls back to fsync where fdatasync is not available.
func fdatasync(f *os.File) error { return f.Sync() }

// preallocate is a no-op where fallocate is not available: it is an
// optimisation, never required for correctness.
func preallocate(*os.File, int64, int64) error { return nil }
