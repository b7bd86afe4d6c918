package partition

import "testing"

// acks=1: the write completes after raft already overwrote the entry; the
// request is acknowledged anyway.
func TestRegressAcks1AfterOverwrite(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.produce(1, 1, AcksAll)
	c.settle(1)
	L, _, m := c.deposeLeader()
	L.Produce(ProduceRequest{ID: 100, Batch: makeBatch(3, "P", 1), Acks: AcksLeader})
	out := L.Ready() // P's write W1 handed to the disk executor, not done yet
	if err := L.Step(m); err != nil {
		t.Fatal(err)
	}
	out2 := L.Ready() // W2 overwrites index k+1
	t.Logf("writes %d + %d; L term now %d", len(out.Writes), len(out2.Writes), m.GetTerm())
	for _, o := range []Output{out, out2} {
		for _, w := range o.Writes {
			L.WriteDone(w, w.Round.Run(c.fs[L.cfg.ID]))
			for _, r := range L.Ready().Results {
				if r.ID == 100 && r.Err == nil {
					k := m.GetIndex()
					tm, _ := L.log.Term(k + 1)
					t.Fatalf("acks=1 request acknowledged at offset %d although index %d now holds term %d", r.BaseOffset, k+1, tm)
				}
			}
		}
	}
}
