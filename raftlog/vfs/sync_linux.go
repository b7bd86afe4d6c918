package vfs

import (
	"errors"
	"os"
	"syscall"
)

// fallocKeepSize is FALLOC_FL_KEEP_SIZE from <linux/falloc.h>: reserve
// blocks without changing the file size, so readers (and recovery, which
// trusts the size) never see the reserved zeros.
const fallocKeepSize = 0x1

// fdatasync flushes the file's data and the metadata needed to read it
// back (its size), skipping timestamps: cheaper than fsync and enough for
// a log whose size is part of what it syncs.
func fdatasync(f *os.File) error {
	return control(f, "fdatasync", func(fd int) error {
		return ignoringEINTR(func() error { return syscall.Fdatasync(fd) })
	})
}

// preallocate reserves [off, off+length) so later appends are less likely
// to fail with ENOSPC halfway and the extent stays contiguous. File systems
// that cannot preallocate (EOPNOTSUPP) are treated as success: it is an
// optimisation, not a promise.
func preallocate(f *os.File, off, length int64) error {
	if length <= 0 {
		return nil
	}
	return control(f, "fallocate", func(fd int) error {
		err := ignoringEINTR(func() error {
			return syscall.Fallocate(fd, fallocKeepSize, off, length)
		})
		if errors.Is(err, syscall.EOPNOTSUPP) {
			return nil
		}
		return err
	})
}

// control runs fn on f's descriptor through SyscallConn, which (unlike
// f.Fd) leaves the descriptor's mode alone and keeps f from being closed
// while fn runs. Errors are wrapped in an *os.PathError like the os
// package's own, so the errno stays reachable with errors.Is.
func control(f *os.File, op string, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(int(fd)) }); err != nil {
		// Control fails only when f is closed, with the os package's
		// internal "use of closed file"; report it as the os package's
		// own methods do.
		return &os.PathError{Op: op, Path: f.Name(), Err: os.ErrClosed}
	}
	if opErr != nil {
		return &os.PathError{Op: op, Path: f.Name(), Err: opErr}
	}
	return nil
}

// ignoringEINTR retries fn while a signal interrupts it, as the os package
// does for its own system calls.
func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if err != syscall.EINTR {
			return err
		}
	}
}
