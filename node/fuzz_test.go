package node

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzSeed seeds the environment of every FuzzHandle run, so topic "t" has
// the same id in the seed corpus and in every run.
const fuzzSeed = 5

// fuzzCluster is a one-broker cluster with topic "t" (2 partitions), one
// batch in t/0.
func fuzzCluster(t testing.TB) (*cluster, *topicInfo) {
	c := newCluster(t, fuzzSeed, 1)
	tp := c.createTopic("t", 2, 1, nil)
	c.mustProduce(1, "t", 0, makeBatch(2, "fuzz", 1000))
	return c, tp
}

// fuzzVersion picks the request version from one fuzz byte: within the
// served range, or (high bit set) any version kmsg can decode, to reach
// the unsupported-version answers.
func fuzzVersion(key int16, b byte) int16 {
	r := served[key]
	if b&0x80 == 0 {
		return r.min + int16(b)%(r.max-r.min+1)
	}
	return int16(b&0x7f) % (kmsg.RequestForKey(key).MaxVersion() + 1)
}

// tooCostly bounds what one input may ask for, so that the fuzzer explores
// requests rather than waiting on ten thousand new raft groups.
func tooCostly(req kmsg.Request) bool {
	const maxNew = 16
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		n := 0
		for _, t := range r.Topics {
			n += max(int(t.NumPartitions), len(t.ReplicaAssignment), 1)
		}
		return n > maxNew
	case *kmsg.CreatePartitionsRequest:
		n := 0
		for _, t := range r.Topics {
			n += max(int(t.Count), 0)
		}
		return n > maxNew
	case *kmsg.MetadataRequest:
		return len(r.Topics) > maxNew
	}
	return false
}

// FuzzHandle decodes fuzzed bytes as a request of a served API (key and
// version from the first two arguments), hands it to a broker and drives
// it for a while: nothing may panic, every response must encode at its
// version, and no request may be answered twice (the harness checks both).
func FuzzHandle(f *testing.F) {
	keys := servedKeys()
	_, tp := fuzzCluster(f)
	for i, k := range keys {
		r := served[k]
		for _, v := range []int16{r.min, (r.min + r.max) / 2, r.max} {
			req := sampleRequest(k, v, tp.id)
			f.Add(byte(i), byte(v-r.min), req.AppendTo(nil))
		}
	}
	// Unsupported versions that kmsg decodes.
	for _, seed := range []struct {
		key, v int16
	}{{0, 2}, {1, 3}, {2, 0}, {20, 0}} {
		i := 0
		for j, k := range keys {
			if k == seed.key {
				i = j
			}
		}
		f.Add(byte(i), byte(0x80|seed.v), sampleRequest(seed.key, seed.v, tp.id).AppendTo(nil))
	}
	f.Fuzz(func(t *testing.T, keyByte, versionByte byte, body []byte) {
		key := keys[int(keyByte)%len(keys)]
		version := fuzzVersion(key, versionByte)
		req := kmsg.RequestForKey(key)
		req.SetVersion(version)
		if err := req.ReadFrom(body); err != nil {
			return
		}
		if tooCostly(req) {
			t.Skip("asks for too many new partitions or topics")
		}
		c, _ := fuzzCluster(t)
		c.rawRequests = true
		k := c.handleRaw(1, Request{Key: key, Version: version, ClientID: "fuzz", Msg: req})
		c.settle()
		c.ticks(5)
		if r, ok := c.answered(k); ok && r.Msg != nil && r.Msg.Key() != key {
			t.Fatalf("key %d v%d answered with key %d", key, version, r.Msg.Key())
		}
		// The broker still serves after the request.
		c.do(1, metadataReq(12, false))
	})
}
