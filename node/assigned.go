package node

// Which assignment a replica's files belong to. Each topic partition's
// replica directory has a sibling file, DIR.assigned, naming the metadata
// offset of the command that created the directory (a topic's creation,
// its new partitions, or a reassignment that brought the replica here). A
// broker replays the metadata log at every start, and a command that
// removes the replica (the end of a reassignment that moved it away, a
// topic's deletion) deletes the directory only if the directory is no
// newer than the command: a partition moved away and later back keeps the
// replica it holds when the replay passes the old removal, even if the
// replay stops before the return (the saved applied offset lags the log).
// A replica opened for a command while a directory of an older assignment
// is still there (left by a removal that was interrupted, or by a replica
// dropped before it could open) starts afresh. A directory without the
// file (from before it existed, or a crash between the directory's first
// write and the file's) counts as of unknown age: removals delete it and
// openings reuse it, as before.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"sluice/raftlog/vfs"
	"sluice/transport"
)

const assignedSuffix = ".assigned"

func (n *Node) assignedPath(g transport.GroupID) string { return n.groupDir(g) + assignedSuffix }

// readAssigned returns the metadata offset that created g's directory; ok
// is false when it is unknown (no file, or one that cannot be read).
func (n *Node) readAssigned(g transport.GroupID) (int64, bool) {
	path := n.assignedPath(g)
	s, err := readText(n.cfg.FS, path)
	if errors.Is(err, vfs.ErrNotExist) {
		return 0, false
	}
	v, perr := strconv.ParseInt(s, 10, 64)
	if err != nil || perr != nil || v < 0 {
		n.log.Warn("cannot read which assignment a replica's files belong to; taking them as of unknown age", "path", path, "err", errors.Join(err, perr))
		return 0, false
	}
	return v, true
}

// writeAssigned records, durably, that g's directory was created by the
// metadata command at off.
func (n *Node) writeAssigned(g transport.GroupID, off int64) error {
	return replaceFile(n.cfg.FS, vfs.Join(n.cfg.Dir, "topics"), groupName(g)+assignedSuffix, strconv.FormatInt(off, 10)+"\n")
}

// groupDirExists reports whether g's directory exists.
func (n *Node) groupDirExists(g transport.GroupID) bool {
	_, err := n.cfg.FS.List(n.groupDir(g))
	return err == nil
}

// readText reads a small file whole, without surrounding white space; a
// missing file's error matches vfs.ErrNotExist.
func readText(fs vfs.FS, path string) (string, error) {
	size, err := fs.Stat(path)
	if err != nil {
		return "", err
	}
	f, err := fs.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// replaceFile replaces dir/name durably: a temporary file, written and
// synced, renamed into place, and the directory synced.
func replaceFile(fs vfs.FS, dir, name, data string) error {
	if err := fs.MkdirAll(dir); err != nil {
		return fmt.Errorf("node: %s: %w", dir, err)
	}
	path := vfs.Join(dir, name)
	tmp := path + ".tmp"
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("node: create %s: %w", tmp, err)
	}
	if _, err := f.WriteAt([]byte(data), 0); err != nil {
		f.Close()
		return fmt.Errorf("node: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("node: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("node: close %s: %w", tmp, err)
	}
	if err := fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("node: rename %s: %w", tmp, err)
	}
	if err := fs.SyncDir(dir); err != nil {
		return fmt.Errorf("node: sync dir %s: %w", dir, err)
	}
	return nil
}
