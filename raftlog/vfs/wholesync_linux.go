package vfs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// osWholeSync is syncfs(2) on a descriptor of a directory of the file
// system. The kernel keeps, per open file, how far it has seen the file
// system's write-back errors (f_sb_err): syncfs reports an error recorded
// since then and moves it on, so the descriptor must live as long as the
// writes it covers.
type osWholeSync struct{ d *os.File }

// sysSyncfs is syncfs(2)'s number on this GOARCH, from golang.org/x/sys's
// tables (the frozen syscall package predates syncfs, and raftlog/vfs
// imports std only); 0 where unknown.
var sysSyncfs = map[string]uintptr{
	"386": 344, "amd64": 306, "arm": 373, "arm64": 267, "loong64": 267, "riscv64": 267,
	"mips": 4342, "mipsle": 4342, "mips64": 5301, "mips64le": 5301,
	"ppc64": 348, "ppc64le": 348, "s390x": 338,
}[runtime.GOARCH]

func openWholeSync(dir string) (WholeSync, error) {
	if sysSyncfs == 0 {
		return nil, fmt.Errorf("%w: syncfs's system call number on %s is not known here", ErrWholeSyncUnsupported, runtime.GOARCH)
	}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return nil, fmt.Errorf("%w: uname: %v", ErrWholeSyncUnsupported, err)
	}
	release := utsString(u.Release[:])
	if !kernelAtLeast(release, 5, 8) {
		return nil, fmt.Errorf("%w: syncfs reports write-back errors from Linux 5.8 on, this is %s", ErrWholeSyncUnsupported, release)
	}
	if err := oneFileSystem(dir); err != nil {
		return nil, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, mapOSError(err)
	}
	return &osWholeSync{d: d}, nil
}

// deviceOf returns the device of the file system holding path (tests
// replace it).
var deviceOf = func(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, mapOSError(&os.PathError{Op: "stat", Path: path, Err: err})
	}
	return uint64(st.Dev), nil
}

// oneFileSystem checks that every directory under dir lies on dir's file
// system: syncfs syncs one file system, so a directory mounted from
// another below dir would be left out.
func oneFileSystem(dir string) error {
	root, err := deviceOf(dir)
	if err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return mapOSError(err)
		}
		if !d.IsDir() || path == dir {
			return nil
		}
		dev, err := deviceOf(path)
		if err != nil {
			return err
		}
		if dev != root {
			return fmt.Errorf("%w: %s is on another file system than %s", ErrWholeSyncUnsupported, path, dir)
		}
		return nil
	})
}

// Sync is syncfs(2) and then fsync(2) of the directory. The fsync is for
// file systems without a journal (ext2, ext4 without one, as on the
// development VM): there syncfs writes back the data, flushes the device,
// and only then writes the inode and bitmap blocks that delayed allocation
// dirtied during the write-back (a growing file's size and extents), with
// no flush after them. The directory's fsync ends with a device flush, so
// those blocks are durable too; where a journal commit already covered
// them it costs one more flush.
func (s *osWholeSync) Sync() error {
	err := control(s.d, "syncfs", func(fd int) error {
		return ignoringEINTR(func() error {
			if _, _, e := syscall.Syscall(sysSyncfs, uintptr(fd), 0, 0); e != 0 {
				return e
			}
			return nil
		})
	})
	if err == nil {
		err = s.d.Sync()
	}
	return mapOSError(err)
}

func (s *osWholeSync) Close() error { return mapOSError(s.d.Close()) }

// utsString reads a NUL-terminated utsname field (int8 or uint8 by
// architecture).
func utsString[T int8 | uint8](f []T) string {
	b := make([]byte, 0, len(f))
	for _, c := range f {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// kernelAtLeast reports whether a release string such as "6.8.0-45-generic"
// is at least major.minor; one it cannot parse is not.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err1 := strconv.Atoi(parts[0])
	digits := strings.IndexFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	if digits < 0 {
		digits = len(parts[1])
	}
	mnr, err2 := strconv.Atoi(parts[1][:digits])
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}
