package sim

import (
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
	"slices"
	"strconv"
	"strings"

	"sluice/raftlog/vfs"
	"sluice/transport"
)

// Disk faults beyond the original ones (faults.go):
//
//   - majority power loss: a majority of brokers, not all, lose power at
//     once; with sync-before-ack nothing acknowledged may be lost.
//   - latent sector errors and misdirected writes damage one replica's
//     segment file. Raft repairs a replica only from a majority of intact
//     ones, so the damage is kept to what every replica of the group holds
//     durably: bytes below a sync mark of the file (where raftlog promises
//     to tell damage from a torn tail) that hold only records every replica
//     has applied (applied entries are durable: raft runs with
//     AsyncStorageWrites). One broker's disk is damaged at a time, never
//     while another is wiped or rejoining, and the damaged broker counts as
//     down. A misdirected write is modelled after the fact (vfs.Mem
//     Misdirect), as found once the page cache that hid it is dropped: a
//     write-time one would lose the newest records, which no other replica
//     may hold yet. sluice has no repair path for a damaged segment: a
//     replica that detects it stops the partition (fail-stop), and
//     reopening it fails (damage in a segment recovery scans) or succeeds
//     until the next read meets the damage again (a closed segment, which
//     recovery trusts; only a read finds damage there); a broker restarted
//     on the disk does not host
//     a replica whose log fails to open (a damaged metadata log would keep
//     it from starting: then the operator replaces the disk at once). Half
//     the time the fault restarts the broker's process on the damaged disk
//     (recovery reads the segments it does not trust yet). It ends with the
//     operator's repair, 1–3 s after the damage: the broker's disk is
//     replaced and it rejoins under a new incarnation (wipe.go).
//   - a slow disk whose writes and syncs take about a second.

// diskFaults are fault kinds (see scenario.go) added to the simulator's
// original ones; kitchen-sink draws them too.
var diskFaults = []faultKind{
	{"majority-power-loss", "a majority of brokers (not all) lose power at the same instant; each restarts after 0.1–1 s: nothing acknowledged may be lost (sync-before-ack)",
		func(w *World, sn *simNode) {
			ids := w.rng.Perm(w.cfg.Nodes)[:w.cfg.Nodes/2+1]
			slices.Sort(ids)
			var nodes []*simNode
			for _, i := range ids {
				nodes = append(nodes, w.nodes[i])
			}
			if len(nodes) < w.cfg.Nodes {
				w.powerLoss("majority-power-loss", nodes)
			}
		}},
	{"sector-errors", "latent sector errors: 1–3 runs of 1–8 sectors (512 B) of one segment file of one workload replica fail every read with EIO, below the point every replica holds durably; half the time the broker's process restarts on the damaged disk; 1–3 s after the damage the disk is replaced (wipe and rejoin)",
		func(w *World, sn *simNode) { w.damageDisk(sn, false) }},
	{"misdirected-write", "the bytes of 1–8 sectors of one segment file of one workload replica were written 1–64 sectors off (their own place reads as zeros, the landing place is overwritten), below the point every replica holds durably; half the time the broker's process restarts on the damaged disk; 1–3 s after the damage the disk is replaced (wipe and rejoin)",
		func(w *World, sn *simNode) { w.damageDisk(sn, true) }},
	{"slow-disk-1s", "one broker's disk takes about a second per write and sync (0.2–0.4 s write, 0.5–0.7 s sync, every cycle) for 2–6 s",
		func(w *World, sn *simNode) {
			if sn.disk.verySlowUntilNs > w.nowNs {
				return
			}
			d := w.uniform(2e9, 6e9)
			w.record("slow-disk-1s", sn.id)
			sn.disk.verySlowUntilNs = w.nowNs + d
			w.span("slow-disk-1s", d, sn.id)
		}},
}

// powerLoss cuts the power of nodes at the same instant; each restarts
// after 0.1–1 s.
func (w *World) powerLoss(kind string, nodes []*simNode) {
	var ids []uint64
	for _, sn := range nodes {
		ids = append(ids, sn.id)
	}
	w.record(kind, ids...)
	w.span(kind, 0, ids...)
	for _, sn := range nodes {
		w.crash(sn, true, w.uniform(100e6, 1e9))
	}
}

// sectorBytes is the unit of latent errors and misdirected writes.
const sectorBytes = 512

// damage is a damaged disk awaiting the operator's repair.
type damage struct {
	misdirect bool
	group     transport.GroupID
	path      string
	// bad are the unreadable byte ranges (latent sector errors).
	bad []byteRange
	// applied: the damage is on the disk (until then the fault waits for
	// every replica to hold the records it may hit).
	applied bool
	reads   int  // reads that hit a bad sector
	refused bool // the broker refused to start on the damaged disk
	// groups and member: groupsOf(sn) when the damage was done, for a
	// repair while the broker is down.
	groups, member []transport.GroupID
}

type byteRange struct{ lo, hi int64 }

// unreadable reports whether op reads a bad sector.
func (d *damage) unreadable(op vfs.Op) bool {
	if d == nil || op.Path != d.path {
		return false
	}
	for _, b := range d.bad {
		if op.Off < b.hi && op.Off+int64(op.Len) > b.lo {
			return true
		}
	}
	return false
}

// damageDisk starts a latent-sector-error or misdirected-write fault on one
// of sn's replicas of the workload topic: it picks a replica whose group
// has every voter up, notes the replica's log end and the segment file's
// size, waits (up to 2 s) until every replica has applied up to that log
// end, then damages the file below its last sync mark and that size.
func (w *World) damageDisk(sn *simNode, misdirect bool) {
	if !w.minorityDown(sn) || w.anyRejoining() {
		return
	}
	g, path, ok := w.pickSegment(sn)
	if !ok {
		return
	}
	sizeBytes, err := sn.mem.Stat(path)
	if err != nil {
		return
	}
	leo := sn.n.Replica(g).LogEndOffset()
	d := &damage{misdirect: misdirect, group: g, path: path}
	sn.damage = d // reserved: the broker counts as down from now on
	kind := either(misdirect, "misdirected-write", "sector-errors")
	w.record(kind+"-armed", sn.id, uint64(sizeBytes))
	gen, deadline := sn.gen, w.nowNs+2e9
	var try func()
	try = func() {
		if sn.damage != d {
			return
		}
		if sn.gen != gen || sn.n == nil {
			sn.damage = nil // crashed meanwhile: the fault lapses
			w.record(kind+"-lapsed", sn.id)
			return
		}
		if !w.faulting || w.nowNs >= deadline || !w.allApplied(g, sn, leo) {
			if !w.faulting || w.nowNs >= deadline {
				sn.damage = nil
				w.record(kind+"-lapsed", sn.id)
				return
			}
			w.after(20e6, try)
			return
		}
		d.groups, d.member = w.groupsOf(sn)
		if !w.applyDamage(sn, d, min(syncedBelow(sn.mem, path), sizeBytes)) {
			sn.damage = nil
			w.record(kind+"-lapsed", sn.id)
			return
		}
		repairNs := w.uniform(1e9, 3e9)
		w.span(kind, repairNs, sn.id)
		w.after(repairNs, func() {
			if sn.damage == d {
				w.repair(sn)
			}
		})
		// Half the time the broker restarts on the damaged disk first
		// (its process dies; the page cache survives, the damage is on
		// the disk): recovery meets the damage if it lies in a segment
		// recovery scans.
		if w.rng.IntN(2) == 0 {
			w.after(w.uniform(200e6, repairNs/2), func() {
				if sn.damage == d && sn.n != nil {
					w.record(kind+"-restart", sn.id)
					w.crash(sn, false, w.uniform(100e6, 500e6))
				}
			})
		}
	}
	try()
}

// pickSegment draws one of sn's segment files of a workload-topic replica
// whose group has all its voters up and healthy.
func (w *World) pickSegment(sn *simNode) (transport.GroupID, string, bool) {
	var groups []transport.GroupID
	for _, pi := range sn.n.Partitions() {
		if pi.Topic == w.topic && w.groupHealthy(pi.Group, sn) {
			groups = append(groups, pi.Group)
		}
	}
	if len(groups) == 0 {
		return transport.GroupID{}, "", false
	}
	g := groups[w.rng.IntN(len(groups))]
	// The node's layout: data/topics/<topic id>-<partition>/<gen>.seg.
	dir := vfs.Join("data", "topics", hex.EncodeToString(g.TopicID[:])+"-"+strconv.Itoa(int(g.Partition)))
	names, err := sn.mem.List(dir)
	if err != nil {
		return g, "", false
	}
	var segs []string
	for _, n := range names {
		if strings.HasSuffix(n, ".seg") {
			segs = append(segs, n)
		}
	}
	if len(segs) == 0 {
		return g, "", false
	}
	return g, vfs.Join(dir, segs[w.rng.IntN(len(segs))]), true
}

// groupHealthy: every voter of g is up, not paused, not damaged (but for
// self, the broker the fault is on) nor rejoining, and holds a healthy,
// non-amnesic replica.
func (w *World) groupHealthy(g transport.GroupID, self *simNode) bool {
	var voters []uint64
	for _, sn := range w.nodes {
		if sn.n != nil && !sn.paused {
			if p := sn.n.Replica(g); p != nil {
				voters = p.ConfState().GetVoters()
				break
			}
		}
	}
	if len(voters) == 0 {
		return false
	}
	for _, id := range voters {
		o := w.nodes[id-1]
		if o.n == nil || o.paused || (o != self && w.rejoining(o)) {
			return false
		}
		p := o.n.Replica(g)
		if p == nil || p.Err() != nil || p.Amnesic() {
			return false
		}
	}
	return true
}

// allApplied: every voter of g is healthy and has applied every record
// below offset.
func (w *World) allApplied(g transport.GroupID, self *simNode, offset int64) bool {
	if !w.groupHealthy(g, self) {
		return false
	}
	for _, sn := range w.nodes {
		if sn.n == nil {
			continue
		}
		if p := sn.n.Replica(g); p != nil && p.AppliedOffset() < offset {
			return false
		}
	}
	return true
}

// applyDamage puts d on sn's disk within [0, limit): bad sectors, or a
// misdirected run of sectors. It reports false when the range is too small.
func (w *World) applyDamage(sn *simNode, d *damage, limit int64) bool {
	sectors := limit / sectorBytes
	if sectors < 2 {
		return false
	}
	if d.misdirect {
		n := min(1+w.rng.Int64N(8), sectors/2)
		from := w.rng.Int64N(sectors - n + 1)
		shift := 1 + w.rng.Int64N(64)
		to := from + shift
		if w.rng.IntN(2) == 0 || to+n > sectors {
			to = from - shift
		}
		to = max(0, min(to, sectors-n))
		if to == from {
			return false
		}
		if err := sn.mem.Misdirect(d.path, from*sectorBytes, to*sectorBytes, n*sectorBytes); err != nil {
			return false
		}
		w.record("misdirected-write", sn.id, uint64(from), uint64(to), uint64(n))
	} else {
		for range 1 + w.rng.IntN(3) {
			n := min(1+w.rng.Int64N(8), sectors)
			lo := w.rng.Int64N(sectors - n + 1)
			d.bad = append(d.bad, byteRange{lo * sectorBytes, (lo + n) * sectorBytes})
			w.record("sector-errors", sn.id, uint64(lo), uint64(n))
		}
	}
	d.applied = true
	return true
}

// repair is the operator's answer to a damaged disk: replace it and let the
// broker rejoin under a new incarnation, as a wipe does (if it is up, it
// goes down for 0.1–1 s first).
func (w *World) repair(sn *simNode) {
	d := sn.damage
	sn.damage = nil
	if !d.applied {
		return // the fault lapsed before damaging anything
	}
	// stopped: the replica found the damage and stopped (fail-stop), or
	// the broker, restarted on the damaged disk, could not open it and
	// does not host it.
	stopped := false
	if sn.n != nil {
		p := sn.n.Replica(d.group)
		stopped = p == nil || p.Err() != nil
	}
	w.record("repair", sn.id, uint64(d.reads), b2u(stopped), b2u(d.refused))
	sn.repairs = append(sn.repairs, repairNote{misdirect: d.misdirect, reads: d.reads, stopped: stopped, refused: d.refused})
	if sn.n != nil {
		w.wipe(sn, w.uniform(100e6, 1e9))
		return
	}
	// Down (a power loss hit it): the groups it must rejoin are those it
	// was a member of when the damage was done.
	w.statWipes++
	w.record("wipe", sn.id, uint64(len(d.groups)), uint64(len(d.member)))
	w.replaceDisk(sn, d.groups, d.member)
}

// repairNote is what one repair found (for tests and reports).
type repairNote struct {
	misdirect bool
	reads     int  // reads that hit a bad sector
	stopped   bool // the damaged replica was stopped or not hosted
	refused   bool // the broker refused to start on the damaged disk
}

// syncedBelow is the highest durable position the sync marks of the
// segment file at path record (0 if none): raftlog reads damage below it
// as corruption, never as a torn tail. It walks the file's valid frames
// (the format of raftlog/format.go: CRC32C | length | type | generation |
// payload; a sync mark is type 6 with payload generation | position).
func syncedBelow(m *vfs.Mem, path string) int64 {
	f, err := m.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0
	}
	b := make([]byte, size)
	if n, err := f.ReadAt(b, 0); err != nil && (err != io.EOF || int64(n) != size) {
		return 0
	}
	const head = 17
	var mark int64
	for pos := int64(0); pos+head <= size; {
		n := int64(binary.LittleEndian.Uint32(b[pos+4:]))
		end := pos + head + n
		if n > size || end > size || crc32.Checksum(b[pos+4:end], castagnoli) != binary.LittleEndian.Uint32(b[pos:]) {
			break
		}
		if b[pos+8]&0x7f == 6 && n == 16 {
			mark = max(mark, int64(binary.LittleEndian.Uint64(b[pos+head+8:])))
		}
		pos = end
	}
	return mark
}
