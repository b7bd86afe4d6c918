package sim

import (
	"slices"
	"testing"
)

// MeasureHistory counts from the history alone: which sends the final
// reads returned, per acks level.
func TestMeasureHistory(t *testing.T) {
	h := &History{
		Sends: []Send{
			{Value: "a", Acks: -1, Outcome: OK, Invoke: 0, Complete: 3e6},
			{Value: "b", Acks: -1, Outcome: OK, Invoke: 1e6, Complete: 2e6},    // acked, lost
			{Value: "c", Acks: -1, Outcome: Fail, Invoke: 0, Complete: 1e6},    // refused: never lost
			{Value: "d", Acks: -1, Outcome: Unknown, Invoke: 0, Complete: -1},  // timed out, lost
			{Value: "e", Acks: 1, Outcome: OK, Invoke: 0, Complete: 5e6},       // kept
			{Value: "f", Acks: 1, Outcome: Unknown, Invoke: 0, Complete: 1e6},  // kept though unknown
			{Value: "g", Acks: 0, Outcome: Unknown, Invoke: 0, Complete: 0},    // lost
			{Value: "h", Acks: 0, Outcome: Unknown, Invoke: 0, Complete: 0},    // kept
			{Value: "i", Acks: 0, Outcome: Unknown, Partition: 1, Complete: 0}, // partition 1 never read
		},
		Polls: []Poll{
			{Partition: 0, Final: true, Outcome: OK, From: 0, HighWatermark: 4,
				Records: []Record{{0, "a"}, {1, "e"}, {2, "f"}, {3, "h"}}},
			{Partition: 0, Final: false, Outcome: OK, Records: []Record{{4, "b"}}}, // not a final read
		},
	}
	m := MeasureHistory(h, 2)
	if m.UnreadPartitions != 1 {
		t.Errorf("unread partitions %d, want 1", m.UnreadPartitions)
	}
	all, one, zero := m.Level(-1), m.Level(1), m.Level(0)
	if all.Sent != 4 || all.Acked != 2 || all.Refused != 1 || all.Unknown != 1 || all.Lost != 2 || all.LostAcked != 1 {
		t.Errorf("acks=all: %+v", all)
	}
	if !slices.Equal(all.LatenciesNs, []int64{1e6, 3e6}) {
		t.Errorf("acks=all latencies %v, want [1ms 3ms] sorted", all.LatenciesNs)
	}
	if one.Sent != 2 || one.Acked != 1 || one.Lost != 0 || one.LostAcked != 0 {
		t.Errorf("acks=1: %+v", one)
	}
	if zero.Sent != 3 || zero.Acked != 0 || zero.Unknown != 3 || zero.Lost != 2 {
		t.Errorf("acks=0: %+v", zero)
	}
}
