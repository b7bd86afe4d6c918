package node

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	pb "go.etcd.io/raft/v3/raftpb"

	"sluice/raftlog/vfs"
	"sluice/transport"
)

// wipe replaces broker id's disk with an empty one and gives it a new
// incarnation and Join, as a runtime would after a disk replacement; it
// starts the broker again if start is set.
func (c *cluster) wipe(id int32, start bool) {
	c.t.Helper()
	if !c.down[id] {
		c.nodes[id].Close()
		c.down[id] = true
	}
	cfg := c.cfgs[id]
	mem := vfs.NewMem(c.seed*1000 + uint64(id) + 500)
	cfg.FS, cfg.Join = mem, true
	cfg.Incarnation[15]++
	c.fs[id], c.cfgs[id] = mem, cfg
	if start {
		c.start(id)
	}
}

func (c *cluster) stop(id int32) {
	c.nodes[id].Close()
	c.down[id] = true
}

// watchVotes fails the test if broker x votes (grants a vote, or
// campaigns: a candidate votes for itself) in one of groups before its
// replica there has been re-added under its new incarnation.
func (c *cluster) watchVotes(x int32, groups []transport.GroupID) *[]string {
	var bad []string
	c.observe = func(from int32, b transport.Batch) {
		if from != x {
			return
		}
		for _, e := range b.Msgs {
			m := e.Msg
			granted := (m.GetType() == pb.MsgVoteResp || m.GetType() == pb.MsgPreVoteResp) && !m.GetReject()
			campaign := m.GetType() == pb.MsgVote || m.GetType() == pb.MsgPreVote
			if (!granted && !campaign) || !slices.Contains(groups, e.Group) {
				continue
			}
			if _, ok := c.nodes[x].Replica(e.Group).RejoinedAt(); !ok {
				bad = append(bad, fmt.Sprintf("broker %d sent %v (term %d, reject %v) in group %v before it was re-added",
					x, m.GetType(), m.GetTerm(), m.GetReject(), e.Group))
			}
		}
	}
	return &bad
}

// groupLeader returns the live broker leading g, 0 if none.
func (c *cluster) groupLeader(g transport.GroupID) int32 {
	for _, id := range c.ids {
		if c.down[id] {
			continue
		}
		if p := c.nodes[id].Replica(g); p != nil {
			if lead, _ := p.Leader(); lead == uint64(id) {
				return id
			}
		}
	}
	return 0
}

// rejoined reports whether broker x is back as a voter in every group,
// both in its own replica's view and its leader's.
func (c *cluster) rejoined(x int32, groups []transport.GroupID) bool {
	if c.nodes[x].born == bornJoining {
		return false
	}
	for _, g := range groups {
		p := c.nodes[x].Replica(g)
		if p == nil || p.Amnesic() || !slices.Contains(p.ConfState().GetVoters(), uint64(x)) {
			return false
		}
		if _, ok := p.RejoinedAt(); !ok {
			return false
		}
		lead := c.groupLeader(g)
		if lead == 0 || !slices.Contains(c.nodes[lead].Replica(g).ConfState().GetVoters(), uint64(x)) {
			return false
		}
	}
	return true
}

// A broker whose disk is wiped restarts with Join: it opens the metadata
// group and every partition it hosted amnesic, never votes or campaigns in
// them, and once the leaders re-add it it is a voter of every group again,
// holding every acknowledged record, and can lead. Two ways: the leaders
// stay up (they still hold the wiped broker's old match indexes), or the
// controller is down meanwhile, so the one remaining broker could win an
// election only with the wiped broker's vote, which must not come.
func TestWipedBrokerRejoins(t *testing.T) {
	t.Run("leaders-stay", func(t *testing.T) { testWipedBrokerRejoins(t, 71, false) })
	t.Run("controller-down", func(t *testing.T) { testWipedBrokerRejoins(t, 72, true) })
}

func testWipedBrokerRejoins(t *testing.T, seed uint64, controllerDown bool) {
	c := newCluster(t, seed, 3)
	c.createTopic("t", 3, 3, nil)
	var acked [3][]string
	produce := func(tag string, to func(p int32) int32) {
		for p := int32(0); p < 3; p++ {
			for i := range 4 {
				v := fmt.Sprintf("%s-%d-%d", tag, p, i)
				c.mustProduce(to(p), "t", p, makeBatch(1, v, int64(i+1)))
				acked[p] = append(acked[p], v)
			}
		}
	}
	produce("before", func(p int32) int32 { return c.leaderOf("t", p) })

	ctl := c.controller()
	x := ctl%3 + 1 // wiped: a follower of the metadata group
	other := 6 - ctl - x
	groups := slices.Clone(c.nodes[x].order) // the metadata group and the 3 partitions
	if len(groups) != 4 {
		t.Fatalf("broker %d hosts %d groups, want 4", x, len(groups))
	}
	ledByCtl := map[transport.GroupID]bool{}
	for _, g := range groups {
		ledByCtl[g] = c.groupLeader(g) == ctl
	}
	bad := c.watchVotes(x, groups)

	c.wipe(x, false)
	if controllerDown {
		c.stop(ctl)
	}
	c.start(x)
	if controllerDown {
		c.ticks(100)
		if born, err := readBorn(c.fs[x], "data"); err != nil || born != bornJoining {
			t.Fatalf("born file of the joining broker: %d, %v", born, err)
		}
		for _, g := range groups {
			// Without a metadata leader x has not learned its partitions yet.
			if p := c.nodes[x].Replica(g); p != nil && !p.Amnesic() {
				t.Fatalf("wiped broker %d: replica of %v is not amnesic", x, g)
			}
			if ledByCtl[g] && c.groupLeader(g) == other {
				t.Fatalf("broker %d leads %v with the vote of wiped broker %d", other, g, x)
			}
		}
		// A restart without Join keeps it joining: its directory remembers.
		c.stop(x)
		cfg := c.cfgs[x]
		cfg.Join = false
		c.cfgs[x] = cfg
		c.start(x)
		if !c.nodes[x].meta.p.Amnesic() || c.nodes[x].born != bornJoining {
			t.Fatalf("restarted without Join, broker %d is no longer joining", x)
		}
		c.ticks(20)
		c.start(ctl) // the controller returns
	}

	for i := 0; i < 500 && !c.rejoined(x, groups); i++ {
		c.tick()
	}
	if !c.rejoined(x, groups) {
		for _, g := range groups {
			if p := c.nodes[x].Replica(g); p != nil {
				t.Logf("group %v: amnesic %v, own conf %v, leader %d", g, p.Amnesic(), p.ConfState(), c.groupLeader(g))
			}
		}
		t.Fatalf("broker %d was not re-added to every group", x)
	}
	for _, s := range *bad {
		t.Error(s)
	}
	born, err := readBorn(c.fs[x], "data")
	if err != nil || born <= 0 || born != c.nodes[x].born {
		t.Fatalf("born file %d (%v), node says %d", born, err, c.nodes[x].born)
	}
	if metaBorn, _ := c.nodes[x].meta.p.RejoinedAt(); metaBorn != born {
		t.Fatalf("born %d, metadata replica rejoined at %d", born, metaBorn)
	}

	// A topic created now is bootstrapped by x as a voter at once.
	c.createTopic("after", 1, 3, nil)
	if p := c.hostedOn(x, "after", 0); p == nil || p.p.Amnesic() {
		t.Fatalf("broker %d opened a partition created after it rejoined amnesic", x)
	}

	// x can lead: stop other, move every leadership to x, produce through
	// it and read back everything acknowledged.
	c.stop(other)
	c.ticks(30)
	for i := 0; i < 300; i++ {
		all := true
		for _, g := range groups {
			switch lead := c.groupLeader(g); {
			case lead == x:
			case lead != 0:
				all = false
				c.nodes[lead].Replica(g).TransferLeadership(uint64(x))
			default:
				all = false
			}
		}
		if all {
			break
		}
		c.tick()
	}
	for p := int32(0); p < 3; p++ {
		for i := 0; i < 100 && c.leaderOf("t", p) != x; i++ {
			c.tick()
		}
		if lead := c.leaderOf("t", p); lead != x {
			t.Fatalf("partition %d: leader %d, want the re-added broker %d", p, lead, x)
		}
	}
	produce("after", func(int32) int32 { return x })
	for p := int32(0); p < 3; p++ {
		f := c.do(x, fetchReq(12, "t", [16]byte{}, p, 0, 0, 0, 1<<20, 1<<20)).(*kmsg.FetchResponse)
		recs := f.Topics[0].Partitions[0].RecordBatches
		for _, v := range acked[p] {
			if !bytes.Contains(recs, []byte(v)) {
				t.Errorf("partition %d: acknowledged record %q missing on the re-added leader", p, v)
			}
		}
	}
	for _, s := range *bad {
		t.Error(s)
	}
}

// A broker of a new cluster is born at offset 0; a restart keeps it.
func TestBornOfNewCluster(t *testing.T) {
	c := newCluster(t, 73, 3)
	for _, id := range c.ids {
		if born, err := readBorn(c.fs[id], "data"); err != nil || born != 0 || c.nodes[id].born != 0 {
			t.Fatalf("broker %d: born file %d (%v), node %d", id, born, err, c.nodes[id].born)
		}
		if !HasState(c.fs[id], "data") {
			t.Fatalf("broker %d: HasState false", id)
		}
	}
	// Join on a directory with state is moot.
	cfg := c.cfgs[2]
	cfg.Join = true
	c.cfgs[2] = cfg
	c.restart(2)
	if c.nodes[2].born != 0 || c.nodes[2].meta.p.Amnesic() {
		t.Fatalf("restart with Join over existing state: born %d, amnesic %v", c.nodes[2].born, c.nodes[2].meta.p.Amnesic())
	}
	if HasState(vfs.NewMem(1), "data") {
		t.Fatal("HasState on an empty disk")
	}
}
