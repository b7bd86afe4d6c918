package sim

import (
	"bytes"
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/partition"
	"sluice/transport"
)

// checkReplicas is the implementation check the history cannot make: the
// replicas of every group agree on every entry committed on all of them —
// same term, same bytes, so the same stamped offsets (log matching).
func (w *World) checkReplicas() {
	groups := map[transport.GroupID][]*partition.Partition{}
	var order []transport.GroupID
	for _, sn := range w.nodes {
		if sn.n == nil {
			continue
		}
		for _, pi := range sn.n.Partitions() {
			if _, ok := groups[pi.Group]; !ok {
				order = append(order, pi.Group)
			}
			// An amnesic replica (a wiped broker not yet re-added) holds
			// at most a prefix it is still receiving: nothing to compare.
			if p := sn.n.Replica(pi.Group); p != nil && p.Err() == nil && !p.Amnesic() {
				groups[pi.Group] = append(groups[pi.Group], p)
			}
		}
	}
	slices.SortFunc(order, transport.GroupID.Compare)
	for _, g := range order {
		reps := groups[g]
		if len(reps) < 2 {
			continue
		}
		lo, hi := uint64(0), ^uint64(0)
		for _, p := range reps {
			lo = max(lo, p.OldestIndex())
			hi = min(hi, p.Committed())
		}
		for i := lo; i <= hi && i != 0; {
			ref, err := reps[0].Entries(i, hi+1, 1<<20)
			if err != nil || len(ref) == 0 {
				break
			}
			for _, p := range reps[1:] {
				got, err := p.Entries(i, i+uint64(len(ref)), 1<<30)
				if err != nil || len(got) != len(ref) {
					w.fail("replica check: group %v: cannot read entries %d..%d from a replica: %v", g, i, i+uint64(len(ref))-1, err)
					return
				}
				if k := firstDifference(ref, got); k >= 0 {
					w.fail("replica check: group %v: replicas differ at committed index %d (terms %d and %d)",
						g, ref[k].GetIndex(), ref[k].GetTerm(), got[k].GetTerm())
					return
				}
			}
			i += uint64(len(ref))
		}
	}
}

// firstDifference is the position of the first entry whose term or bytes
// differ, -1 if none.
func firstDifference(a, b []*pb.Entry) int {
	for k := range a {
		if k >= len(b) || a[k].GetTerm() != b[k].GetTerm() || a[k].GetIndex() != b[k].GetIndex() || !bytes.Equal(a[k].GetData(), b[k].GetData()) {
			return k
		}
	}
	return -1
}
