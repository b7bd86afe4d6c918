package node

import (
	"strings"
	"testing"

	"sluice/raftlog/vfs"
)

// A replica whose files cannot be read when its broker starts is not
// dropped: it is reported unopened, opened again once the disk answers,
// and catches up with the records produced meanwhile.
func TestReplicaOpenedAfterAFailure(t *testing.T) {
	c := newCluster(t, 11, 3)
	ti := c.createTopic("o", 1, 3, nil)
	c.ticks(10)
	lead := c.leaderOf("o", 0)
	c.mustProduce(lead, "o", 0, makeBatch(5, "before", 1))
	victim := lead%3 + 1
	g := c.nodes[victim].group(ti, 0)
	dir := c.nodes[victim].groupDir(g)
	failing := true
	cfg := c.cfgs[victim]
	cfg.FS = vfs.Inject(c.fs[victim], vfs.RuleFunc(func(op vfs.Op) vfs.Injection {
		if failing && strings.HasPrefix(op.Path, dir) && (op.Kind == vfs.OpOpen || op.Kind == vfs.OpRead) {
			return vfs.Injection{Err: vfs.ErrEIO}
		}
		return vfs.Injection{}
	}))
	c.cfgs[victim] = cfg
	c.restart(victim)
	if c.nodes[victim].hosts[g] != nil {
		t.Fatal("the replica opened although its files cannot be read")
	}
	if u := c.nodes[victim].Unopened(); len(u) != 1 || u[0].Group != g || u[0].Err == nil {
		t.Fatalf("unopened replicas: %+v", u)
	}
	c.mustProduce(c.leaderOf("o", 0), "o", 0, makeBatch(5, "meanwhile", 2))
	c.ticks(2 * reopenTicks)
	if c.nodes[victim].hosts[g] != nil {
		t.Fatal("the replica opened while its disk still fails")
	}
	failing = false
	c.ticks(2*reopenTicks + 20)
	h := c.nodes[victim].hosts[g]
	if h == nil || len(c.nodes[victim].Unopened()) != 0 {
		t.Fatal("the replica was not opened once the disk answered")
	}
	hw, _ := c.nodes[c.leaderOf("o", 0)].hosts[g].p.HighWatermark()
	if got := h.p.AppliedOffset(); got != hw || hw != 10 {
		t.Fatalf("reopened replica applied up to %d, high watermark %d (want 10)", got, hw)
	}
}
