package partition

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"testing/cryptotest"

	"google.golang.org/protobuf/proto"
)

// traceHash runs a scripted scenario (elections, produces, a leader crash)
// and hashes every message, disk write and result in order. etcd raft draws
// election jitter from crypto/rand, so the run seeds it.
func traceHash(t *testing.T, seed uint64) [32]byte {
	cryptotest.SetGlobalRandom(t, seed)
	h := sha256.New()
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.trace = func(kind string, b []byte) {
		h.Write([]byte(kind))
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	for id := uint64(1); id <= 15; id++ {
		c.produce(id, 3, AcksAll)
		c.settle(id)
		if id == 8 {
			l := c.waitLeader()
			c.crash(l.cfg.ID)
			for i := 0; i < 20; i++ {
				c.tick()
			}
			c.start(l.cfg.ID)
		}
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func TestSameSeedSameTrace(t *testing.T) {
	a, b := traceHash(t, 42), traceHash(t, 42)
	if a != b {
		t.Fatalf("same seed, different traces: %x vs %x", a, b)
	}
	if c := traceHash(t, 43); c == a {
		t.Fatalf("different seeds gave the same trace %x", a)
	}
}

func marshal(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("marshal: %v", err))
	}
	return b
}
