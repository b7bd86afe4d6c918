package node

// A broker's storage identity (DESIGN.md step 8): where in the metadata log
// this broker's storage was born, and which replicas it must open amnesic.
//
// A replica opened on an empty log with voters bootstraps as a voter; one
// opened without voters is amnesic (partition.Config.Incarnation): it never
// votes or campaigns until its group's leader re-adds it as a learner under
// the broker's new incarnation. A broker whose disk was wiped must open
// amnesic every group it may have been a member of before, and only those:
//
//   - the metadata group, unless this storage bootstrapped it (a fresh
//     cluster);
//   - every partition created by a metadata command at an offset below
//     "born", the metadata offset at which this storage was born.
//
// born is 0 for a broker that bootstrapped the metadata group (a new
// cluster: every partition is created after it). For a broker started with
// Config.Join, born is the offset of the first metadata record after the
// conf change that re-added its metadata replica (partition.RejoinedAt);
// until that happens born is unknown and every partition opens amnesic.
//
// Why creates at or after born may bootstrap as voters: the re-adding conf
// change was proposed by the metadata leader after the wiped broker
// announced its new incarnation, so after the wipe; the leader's log then
// held every entry committed before it (raft's leader completeness), so
// every metadata command the broker's old storage ever applied lies below
// it, at offsets below born. A partition created at or after born was never
// opened by the old storage: the broker has no forgotten votes or
// acknowledgements in it, and bootstrapping it with an empty log is exactly
// what every other replica does. A born that is too high only opens more
// partitions amnesic, which costs a re-add, never safety.
//
// born is persisted in the data directory (bornFile, written durably
// before anything depends on it): "joining" until known, then the offset.
// A restart reads it back, so a broker that was joining keeps opening
// amnesic whatever Config.Join says, and one that has joined restarts
// normally. Incarnations must never be reused: a learner change from an
// earlier re-add under the same incarnation would end amnesia too early.

import (
	"errors"
	"fmt"
	"strconv"

	"sluice/raftlog/vfs"
)

// bornFile holds "joining" or the born offset (decimal), and a newline.
const bornFile = "born"

// bornJoining: born is not known yet (a joining broker not yet re-added to
// the metadata group).
const bornJoining = -1

// errNoBorn: the data directory has no born file.
var errNoBorn = errors.New("node: no born file")

// HasState reports whether dir holds a broker's state: its born file or a
// metadata log. A runtime that knows the cluster already exists starts a
// broker whose directory has none with Config.Join.
func HasState(fs vfs.FS, dir string) bool {
	if _, err := fs.Stat(vfs.Join(dir, bornFile)); err == nil {
		return true
	}
	names, err := fs.List(vfs.Join(dir, "metadata"))
	return err == nil && len(names) > 0
}

// readBorn reads the born file: bornJoining, an offset, or errNoBorn.
func readBorn(fs vfs.FS, dir string) (int64, error) {
	path := vfs.Join(dir, bornFile)
	s, err := readText(fs, path)
	if errors.Is(err, vfs.ErrNotExist) {
		return 0, errNoBorn
	}
	if err != nil {
		return 0, fmt.Errorf("node: %s: %w", path, err)
	}
	if s == "joining" {
		return bornJoining, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("node: %s: bad contents %q", path, s)
	}
	return v, nil
}

// writeBorn replaces the born file durably.
func writeBorn(fs vfs.FS, dir string, born int64) error {
	data := "joining\n"
	if born != bornJoining {
		data = strconv.FormatInt(born, 10) + "\n"
	}
	return replaceFile(fs, dir, bornFile, data)
}

// openBorn decides, before the metadata group opens, whether this storage
// is joining: it returns the born offset or bornJoining, persisted.
func (n *Node) openBorn() (int64, error) {
	born, err := readBorn(n.cfg.FS, n.cfg.Dir)
	switch {
	case err == nil:
		return born, nil // Config.Join is moot: the storage knows
	case !errors.Is(err, errNoBorn):
		return 0, err
	}
	born = 0
	if n.cfg.Join {
		if HasState(n.cfg.FS, n.cfg.Dir) {
			// Not new storage after all (a data directory from before born
			// files): its votes are its own.
			n.log.Warn("asked to join, but the data directory has a metadata log; starting normally")
		} else {
			born = bornJoining
		}
	}
	if err := writeBorn(n.cfg.FS, n.cfg.Dir, born); err != nil {
		return 0, err
	}
	return born, nil
}

// checkBorn learns born once the metadata replica has been re-added (before
// the metadata commands after it are applied), and persists it. A failed
// write leaves born unknown, so partitions keep opening amnesic (safe), and
// is retried.
func (n *Node) checkBorn() {
	if n.born != bornJoining || n.meta == nil || n.meta.p.Amnesic() {
		return
	}
	born, ok := n.meta.p.RejoinedAt()
	if !ok {
		// Not amnesic and never re-added: impossible for storage opened
		// joining (the amnesia record persists with the applied state).
		// The offset applied so far is at least the true born: safe.
		born = n.meta.p.AppliedOffset()
	}
	if err := writeBorn(n.cfg.FS, n.cfg.Dir, born); err != nil {
		n.log.Error("cannot record where this storage was born; retrying", "err", err)
		return
	}
	n.born = born
	n.log.Info("re-added to the metadata group under a new incarnation", "born", born)
}

// joined reports whether a metadata command at offset off creates
// partitions this storage may bootstrap as a voter.
func (n *Node) joined(off int64) bool { return n.born != bornJoining && off >= n.born }
