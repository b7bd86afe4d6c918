package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// OS returns the FS of real files. Paths are passed to the os package as
// they are (absolute or relative to the working directory).
//
// Create, Rename, Remove and MkdirAll do not sync the directory: callers
// call SyncDir when the name change must survive a crash.
func OS() FS { return osFS{} }

// osFS is stateless: all state lives in the kernel.
type osFS struct{}

var (
	_ FS          = osFS{}
	_ WholeSyncer = osFS{}
)

// OpenWholeSync opens dir for syncfs(2) (Linux 5.8 and later, the first to
// report write-back errors from it; ErrWholeSyncUnsupported elsewhere). The
// descriptor stays open so that an error of any write-back since it was
// opened is reported by the next Sync.
func (osFS) OpenWholeSync(dir string) (WholeSync, error) { return openWholeSync(dir) }

func (osFS) Create(name string) (File, error) {
	return openOS(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
}

func (osFS) Open(name string) (File, error) {
	return openOS(name, os.O_RDONLY)
}

func (osFS) OpenReadWrite(name string) (File, error) {
	return openOS(name, os.O_RDWR)
}

func openOS(name string, flag int) (File, error) {
	f, err := os.OpenFile(name, flag, 0o644)
	if err != nil {
		return nil, mapOSError(err)
	}
	return &osFile{f: f, name: name}, nil
}

func (osFS) Rename(oldname, newname string) error {
	return mapOSError(os.Rename(oldname, newname))
}

func (osFS) Remove(name string) error { return mapOSError(os.Remove(name)) }

func (osFS) MkdirAll(dir string) error { return mapOSError(os.MkdirAll(dir, 0o755)) }

// List relies on os.ReadDir, which sorts by name.
func (osFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, mapOSError(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// SyncDir fsyncs the directory itself, which is what makes the entries
// created, renamed or removed in it durable on Linux file systems.
func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return mapOSError(err)
	}
	syncErr := d.Sync()
	closeErr := d.Close()
	return mapOSError(errors.Join(syncErr, closeErr))
}

func (osFS) Stat(name string) (int64, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return 0, mapOSError(err)
	}
	return fi.Size(), nil
}

// osFile is a File on an *os.File. ReadAt and WriteAt are pread and
// pwrite, which share no file offset, so a reader and a writer may use one
// osFile at once, as File promises.
type osFile struct {
	f    *os.File
	name string
}

var _ File = (*osFile)(nil)

func (f *osFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.f.ReadAt(p, off)
	return n, mapOSError(err)
}

func (f *osFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.f.WriteAt(p, off)
	return n, mapOSError(err)
}

var _ VectorWriter = (*osFile)(nil)

func (f *osFile) WriteVAt(bufs [][]byte, off int64) (int, error) {
	n, err := pwritev(f.f, bufs, off)
	return n, mapOSError(err)
}

func (f *osFile) Close() error { return mapOSError(f.f.Close()) }

func (f *osFile) Sync() error {
	return mapOSError(fdatasync(f.f))
}

func (f *osFile) Truncate(size int64) error { return mapOSError(f.f.Truncate(size)) }

func (f *osFile) Preallocate(off, length int64) error {
	return mapOSError(preallocate(f.f, off, length))
}

func (f *osFile) Size() (int64, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return 0, mapOSError(err)
	}
	return fi.Size(), nil
}

func (f *osFile) Name() string { return f.name }

// mapOSError makes the os package's sentinel errors match this package's
// (errors.Is(err, ErrNotExist) and so on) while keeping the original error,
// its text and its errno in the chain, so errors.Is(err, syscall.ENOSPC)
// still works. io.EOF and nil pass through untouched.
func mapOSError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrNotExist, err)
	case errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY):
		// The os package counts ENOTEMPTY as "exists"; ErrExist means a
		// name is taken, as in Mem.
		return fmt.Errorf("%w: %w", ErrExist, err)
	case errors.Is(err, fs.ErrClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}
