package groups

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A deleted topic's offsets go: at once on the active coordinator (a
// commit still being stored included), and on a replica that was not the
// coordinator when the topic went, once it becomes the coordinator, unless
// the topic exists again by then.
func TestDeleteTopicOffsets(t *testing.T) {
	exists := map[string]bool{"x": true, "y": true, "z": true}
	cfg := testConfig()
	cfg.Topic = func(name string) ([16]byte, int32, bool) { return [16]byte{}, 1, exists[name] }
	h := newHarness(t, cfg)
	for _, c := range []struct {
		group, topic string
		p            int32
	}{{"a", "x", 0}, {"a", "x", 1}, {"b", "x", 0}, {"a", "y", 0}, {"b", "z", 0}} {
		h.wantErr(h.commitReqDone(commitReq(c.group, "", -1, c.topic, c.p, 5)), nil)
	}
	// Active: x's offsets go, with a commit of x stored after the deletion
	// is asked for but before its tombstones.
	inflight := h.call(commitReq("b", "", -1, "x", 1, 9))
	delete(exists, "x")
	h.c.DeleteTopicOffsets("x")
	h.drain()
	h.commitAll()
	h.wantErr(inflight, nil)
	for _, g := range []string{"a", "b"} {
		for p := int32(0); p < 2; p++ {
			if o, ok := h.c.Offset(g, "x", p); ok {
				t.Errorf("group %s: offset %d of deleted topic x/%d kept", g, o.Offset, p)
			}
		}
	}
	if _, ok := h.c.Offset("a", "y", 0); !ok {
		t.Fatal("offset of topic y, not deleted, went too")
	}

	// Inactive: y and z are deleted while no replica coordinates; z is
	// created again before this replica becomes the coordinator.
	h.c.Deactivate()
	h.drain()
	c := New(h.cfg)
	for _, r := range h.log {
		h.apply(c, r)
	}
	delete(exists, "y")
	delete(exists, "z")
	c.DeleteTopicOffsets("y")
	c.DeleteTopicOffsets("z")
	c.DeleteTopicOffsets("never-committed")
	if len(c.deletedTopics) != 2 {
		t.Fatalf("noted %v, want y and z (the replica holds no offset of the third)", c.deletedTopics)
	}
	exists["z"] = true
	c.Activate(h.now)
	h.c = c
	h.drain()
	h.commitAll()
	if _, ok := h.c.Offset("a", "y", 0); ok {
		t.Error("offset of y, deleted while no replica coordinated, kept after activation")
	}
	if _, ok := h.c.Offset("b", "z", 0); !ok {
		t.Error("offset of z deleted although z exists again")
	}
	if len(h.c.deletedTopics) != 0 {
		t.Errorf("notes kept after activation: %v", h.c.deletedTopics)
	}
}

// commitReqDone sends a commit and stores it.
func (h *harness) commitReqDone(req *kmsg.OffsetCommitRequest) uint64 {
	h.t.Helper()
	tok := h.call(req)
	h.commitAll()
	return tok
}
