package vfs

import (
	"errors"
	"io"
	"syscall"
)

// File is an open file. Offsets are explicit on every read and write, so one
// File may be read by one goroutine while another writes a different range.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync makes the file's data and size durable (fdatasync). After a
	// failed Sync the file's durable contents are unknown: callers must not
	// retry, they must stop using the file and reopen from what is on disk.
	Sync() error
	// Truncate sets the file's size.
	Truncate(size int64) error
	// Preallocate reserves [off, off+length) on disk without changing the
	// contents a reader sees beyond the current size.
	Preallocate(off, length int64) error
	// Size returns the current size in bytes.
	Size() (int64, error)
	// Name returns the path the file was opened with.
	Name() string
}

// VectorWriter is implemented by Files that write several buffers to
// consecutive offsets in one call (pwritev). WriteVAt writes all of bufs,
// in order, from off, or returns an error; it returns the bytes written.
type VectorWriter interface {
	WriteVAt(bufs [][]byte, off int64) (int, error)
}

// WholeSyncer is an FS that can make the data written to all of its files
// durable in one call: Linux syncfs(2), which writes back every dirty file
// of a file system and flushes the device once, where a group commit
// touching n files would otherwise pay n fdatasyncs (and the device n
// cache flushes).
type WholeSyncer interface {
	// OpenWholeSync returns a WholeSync for the file system that holds dir.
	// It fails (wrapping ErrWholeSyncUnsupported) where such a sync would
	// not report every file's write errors, or would not cover everything
	// under dir (a directory below it on another file system); callers
	// then sync file by file.
	OpenWholeSync(dir string) (WholeSync, error)
}

// WholeSync makes every file's written data durable at once. It covers
// writes made after it was opened. On Linux it is syncfs(2) followed by an
// fsync of the directory it was opened on (see osWholeSync.Sync).
type WholeSync interface {
	// Sync makes durable what was written to every file before the call,
	// at least as fdatasync on each would. An error means the write-back
	// of some file failed since the WholeSync was opened or last synced,
	// without saying which: every file written since the last successful
	// Sync must be taken as failed (never retried, reopened from disk), as
	// after a failed File.Sync.
	Sync() error
	Close() error
}

// ErrWholeSyncUnsupported is returned (wrapped) by OpenWholeSync where a
// whole-file-system sync cannot be trusted to report errors.
var ErrWholeSyncUnsupported = errors.New("vfs: whole-file-system sync unsupported")

// FS is the file system the log runs on. Paths are slash-separated.
//
// Creating, renaming and removing a name is durable only after SyncDir on
// the directory that holds it.
type FS interface {
	// Create creates (or truncates) the named file, opened read-write.
	Create(name string) (File, error)
	// Open opens an existing file read-only.
	Open(name string) (File, error)
	// OpenReadWrite opens an existing file read-write without truncating it.
	OpenReadWrite(name string) (File, error)
	// Rename atomically renames oldname to newname, replacing newname.
	Rename(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// MkdirAll creates dir and any missing parents.
	MkdirAll(dir string) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	// SyncDir makes creations, renames and removals in dir durable.
	SyncDir(dir string) error
	// Stat returns the size of the named file; errors.Is(err, ErrNotExist)
	// when it does not exist.
	Stat(name string) (size int64, err error)
}

// Errors every FS returns (possibly wrapped), so callers can test with errors.Is.
var (
	ErrNotExist = errors.New("vfs: file does not exist")
	ErrExist    = errors.New("vfs: file exists")
	// ErrClosed is returned by operations on a closed File.
	ErrClosed = errors.New("vfs: file closed")
)

// IsNoSpace reports whether err means the device is full (ENOSPC).
func IsNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

// IsIOError reports whether err is an I/O error (EIO).
func IsIOError(err error) bool { return errors.Is(err, syscall.EIO) }

// Join joins path elements with '/'.
func Join(elem ...string) string {
	n := 0
	for _, e := range elem {
		if e != "" {
			n += len(e) + 1
		}
	}
	b := make([]byte, 0, n)
	for _, e := range elem {
		if e == "" {
			continue
		}
		if len(b) > 0 && b[len(b)-1] != '/' {
			b = append(b, '/')
		}
		b = append(b, e...)
	}
	return string(b)
}
