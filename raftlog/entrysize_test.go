package raftlog

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"
)

// TestEntrySizeIsProtoSize: the tail cache's byte count must be the size
// raft sizes entries by, whichever fields are set (nil and empty Data
// differ), however large the integers, and with unknown fields a newer
// peer might have sent.
func TestEntrySizeIsProtoSize(t *testing.T) {
	if unknownFieldsOffset == ^uintptr(0) {
		t.Fatal("pb.Entry has no unknownFields []byte: entrySize reads unknown fields through ProtoReflect, the slow way; update unknownFieldsOffset")
	}
	rapid.Check(t, func(t *rapid.T) {
		e := &pb.Entry{}
		if rapid.Bool().Draw(t, "hasType") {
			e.Type = pb.EntryType(rapid.IntRange(0, 2).Draw(t, "type")).Enum()
		}
		big := rapid.Uint64()
		if rapid.Bool().Draw(t, "hasTerm") {
			e.Term = new(big.Draw(t, "term"))
		}
		if rapid.Bool().Draw(t, "hasIndex") {
			e.Index = new(big.Draw(t, "index"))
		}
		switch rapid.IntRange(0, 2).Draw(t, "data") {
		case 1:
			e.Data = []byte{}
		case 2:
			e.Data = make([]byte, rapid.IntRange(1, 20000).Draw(t, "len"))
		}
		if rapid.Bool().Draw(t, "unknown") {
			b, err := proto.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			b = protowire.AppendTag(b, 99, protowire.BytesType)
			b = protowire.AppendBytes(b, make([]byte, rapid.IntRange(0, 300).Draw(t, "unknownLen")))
			e = &pb.Entry{}
			if err := proto.Unmarshal(b, e); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := unknownLen(e), len(e.ProtoReflect().GetUnknown()); got != want {
			t.Fatalf("unknownLen %d, ProtoReflect's %d", got, want)
		}
		if got, want := entrySize(e), proto.Size(e); got != want {
			t.Fatalf("entrySize %d, proto.Size %d for %v", got, want, e)
		}
	})
}
