package groups

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// The assignors: every subscribed partition goes to exactly one of its
// subscribers, loads are balanced, the result depends only on the input,
// and the uniform assignor keeps what it can.

func TestAssignorsRandomized(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nt := rapid.IntRange(1, 4).Draw(t, "topics")
		var topics []assignTopic
		for i := range nt {
			name := fmt.Sprintf("t%d", i)
			topics = append(topics, assignTopic{id: topicID(name), name: name, partitions: int32(rapid.IntRange(0, 13).Draw(t, "partitions"))})
		}
		nm := rapid.IntRange(1, 7).Draw(t, "members")
		homogeneous := rapid.Bool().Draw(t, "homogeneous")
		var members []assignMember
		for i := range nm {
			m := assignMember{id: fmt.Sprintf("m%02d", i), prev: tps{}}
			for _, tp := range topics {
				if homogeneous || rapid.Bool().Draw(t, "subscribes") {
					m.topics = append(m.topics, tp.id)
				}
			}
			members = append(members, m)
		}
		for _, name := range []string{AssignorUniform, AssignorRange} {
			out := assign(name, members, topics)
			if again := assign(name, members, topics); !sameAssignment(out, again) {
				t.Fatalf("%s: not deterministic", name)
			}
			checkAssignment(t, name, members, topics, out, homogeneous)
		}
		// Uniform and sticky: a member joining moves only what it takes;
		// a member leaving moves only what it had.
		out := assign(AssignorUniform, members, topics)
		next := slices.Clone(members)
		for i := range next {
			next[i].prev = out[next[i].id]
		}
		if homogeneous {
			joined := append(slices.Clone(next), assignMember{id: "zz", topics: next[0].topics, prev: tps{}})
			after := assign(AssignorUniform, joined, topics)
			for _, m := range next {
				for _, tid := range out[m.id].topics() {
					for _, p := range out[m.id][tid] {
						if !after[m.id].has(tid, p) && !after["zz"].has(tid, p) {
							t.Fatalf("partition %x/%d moved between members that stayed", tid, p)
						}
					}
				}
			}
		}
		if homogeneous && len(next) > 1 {
			after := assign(AssignorUniform, next[1:], topics)
			for _, m := range next[1:] {
				for _, tid := range out[m.id].topics() {
					for _, p := range out[m.id][tid] {
						if !after[m.id].has(tid, p) {
							t.Fatalf("member %s lost %x/%d when another left", m.id, tid, p)
						}
					}
				}
			}
		}
	})
}

func sameAssignment(a, b map[string]tps) bool {
	return maps.EqualFunc(a, b, func(x, y tps) bool { return x.equal(y) })
}

func checkAssignment(t *rapid.T, name string, members []assignMember, topics []assignTopic, out map[string]tps, homogeneous bool) {
	owner := map[[16]byte]map[int32]string{}
	for _, m := range members {
		for _, tid := range out[m.id].topics() {
			if !subscribes(&m, tid) {
				t.Fatalf("%s: %s given a topic it does not subscribe to", name, m.id)
			}
			for _, p := range out[m.id][tid] {
				if owner[tid] == nil {
					owner[tid] = map[int32]string{}
				}
				if o, dup := owner[tid][p]; dup {
					t.Fatalf("%s: %x/%d given to %s and %s", name, tid, p, o, m.id)
				}
				owner[tid][p] = m.id
			}
		}
	}
	for _, tp := range topics {
		subscribed := false
		for _, m := range members {
			subscribed = subscribed || subscribes(&m, tp.id)
		}
		if subscribed && int32(len(owner[tp.id])) != tp.partitions {
			t.Fatalf("%s: topic %s: %d of %d partitions assigned", name, tp.name, len(owner[tp.id]), tp.partitions)
		}
	}
	if name == AssignorUniform && homogeneous {
		lo, hi := 1<<30, 0
		for _, m := range members {
			lo, hi = min(lo, out[m.id].count()), max(hi, out[m.id].count())
		}
		if hi-lo > 1 {
			t.Fatalf("uniform: loads from %d to %d", lo, hi)
		}
	}
}

func TestRangeAssignor(t *testing.T) {
	a, b := topicID("a"), topicID("b")
	members := []assignMember{{id: "m1", topics: [][16]byte{a, b}}, {id: "m2", topics: [][16]byte{a, b}}}
	out := assign(AssignorRange, members, []assignTopic{{id: a, name: "a", partitions: 3}, {id: b, name: "b", partitions: 3}})
	if !slices.Equal(out["m1"][a], []int32{0, 1}) || !slices.Equal(out["m1"][b], []int32{0, 1}) || !slices.Equal(out["m2"][a], []int32{2}) {
		t.Fatalf("range: %v", out)
	}
}
