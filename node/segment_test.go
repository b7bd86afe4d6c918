package node

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// segment.bytes is enforced per topic: a topic with small segments rolls
// many, one with the broker's size none; altered, it applies from the
// next append on.
func TestSegmentBytesPerTopic(t *testing.T) {
	c := newCluster(t, 9, 1)
	small := c.createTopic("small", 1, 1, nil, "segment.bytes", "4096")
	big := c.createTopic("big", 1, 1, nil)
	segments := func(ti *topicInfo) int {
		names, _ := c.fs[1].List(c.nodes[1].groupDir(c.nodes[1].group(ti, 0)))
		n := 0
		for _, name := range names {
			if strings.HasSuffix(name, ".seg") {
				n++
			}
		}
		return n
	}
	// Incompressible values: segments hold snappy-compressed entries.
	rng := rand.New(rand.NewPCG(1, 2))
	value := make([]byte, 1000)
	for i := range value {
		value[i] = byte('a' + rng.IntN(26))
	}
	for i := range 20 {
		c.mustProduce(1, "small", 0, makeBatch(1, string(value), int64(i)))
		c.mustProduce(1, "big", 0, makeBatch(1, string(value), int64(i)))
	}
	if s, b := segments(small), segments(big); s < 4 || b != 1 {
		t.Fatalf("segments: %d with segment.bytes=4096, %d with the broker's size; want ≥ 4 and 1", s, b)
	}
	resp := c.do(1, alterReq(false, "big", "segment.bytes", "4096")).(*kmsg.AlterConfigsResponse)
	if code := resp.Resources[0].ErrorCode; code != 0 {
		t.Fatalf("alter segment.bytes: error %d", code)
	}
	for i := range 20 {
		c.mustProduce(1, "big", 0, makeBatch(1, string(value), int64(i)))
	}
	if b := segments(big); b < 4 {
		t.Fatalf("after altering segment.bytes to 4096: %d segments", b)
	}
}
