package node

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// flush.messages and flush.ms reach every replica: at creation
// (partitionConfig) and when altered (SetFlushPolicy); an alter's set
// replaces the topic's, so a config left out returns to its default.
func TestFlushPolicyReachesReplicas(t *testing.T) {
	c := newCluster(t, 71, 3)
	c.createTopic("f", 2, 3, nil, "flush.messages", "1000", "flush.ms", "500")
	check := func(what string, messages, ms int64) {
		t.Helper()
		c.settle()
		for _, id := range c.ids {
			ti := c.topic(id, "f")
			for p := range int32(2) {
				r := c.nodes[id].Replica(c.nodes[id].group(ti, p))
				if r == nil {
					t.Fatalf("%s: broker %d hosts no replica of f/%d", what, id, p)
				}
				if gm, gms := r.FlushPolicy(); gm != messages || gms != ms {
					t.Errorf("%s: broker %d f/%d flush policy %d messages %d ms, want %d %d", what, id, p, gm, gms, messages, ms)
				}
			}
		}
	}
	check("created", 1000, 500)
	resp := c.do(c.controller(), alterReq(false, "f", "flush.ms", "10")).(*kmsg.AlterConfigsResponse)
	checkCode(t, "alter", resp.Resources[0].ErrorCode, nil)
	check("altered", 1, 10)
}
