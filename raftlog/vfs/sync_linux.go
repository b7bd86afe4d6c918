package vfs

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"unsafe"
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

// iovMax is IOV_MAX: the most buffers one pwritev takes.
const iovMax = 1024

// pwritev writes bufs at off with pwritev(2), IOV_MAX buffers at a time,
// going on after short writes, as os.File.WriteAt does for one buffer.
func pwritev(f *os.File, bufs [][]byte, off int64) (int, error) {
	total := 0
	iovs := make([]syscall.Iovec, 0, min(len(bufs), iovMax))
	err := control(f, "pwritev", func(fd int) error {
		var first int // bytes of bufs[0] already written
		for len(bufs) > 0 {
			iovs = iovs[:0]
			for k, b := range bufs {
				if k == 0 {
					b = b[first:]
				}
				if len(iovs) == iovMax {
					break
				}
				if len(b) > 0 {
					iov := syscall.Iovec{Base: &b[0]}
					iov.SetLen(len(b))
					iovs = append(iovs, iov)
				}
			}
			if len(iovs) == 0 {
				return nil
			}
			pos := uint64(off) + uint64(total)
			// pos_l, pos_h: a 64-bit kernel ignores pos_h.
			r, _, e := syscall.Syscall6(syscall.SYS_PWRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iovs[0])),
				uintptr(len(iovs)), uintptr(pos), uintptr(pos>>32), 0)
			runtime.KeepAlive(bufs)
			if e == syscall.EINTR {
				continue
			}
			if e != 0 {
				return e
			}
			if r == 0 {
				return syscall.EIO // no progress: never spin
			}
			total += int(r)
			// Skip what was written.
			n := int(r) + first
			for len(bufs) > 0 && n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs = bufs[1:]
			}
			first = n
		}
		return nil
	})
	return total, err
}
