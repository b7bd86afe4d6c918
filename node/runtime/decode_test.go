package runtime

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzDecodeRequest: any frame either decodes or is refused with an error
// (the connection then closes); never a panic, and a decoded request
// re-encodes.
func FuzzDecodeRequest(f *testing.F) {
	formatter := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	for _, r := range []kmsg.Request{
		kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrMetadataRequest(), kmsg.NewPtrProduceRequest(),
		kmsg.NewPtrFetchRequest(), kmsg.NewPtrListOffsetsRequest(), kmsg.NewPtrCreateTopicsRequest(),
	} {
		for _, v := range []int16{0, 3, r.MaxVersion()} {
			r.SetVersion(v)
			frame := formatter.AppendRequest(nil, r, 7)
			f.Add(frame[4:]) // without the size prefix, as readRequest hands it over
		}
	}
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 255, 255}) // ApiVersions v99
	f.Add([]byte{0x7f, 0x7f, 0, 0, 0, 0, 0, 1})       // unknown key
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, _, err := decodeRequest(1, 0, frame)
		if err != nil || req.Msg == nil {
			return
		}
		_ = req.Msg.AppendTo(nil)
	})
}

func TestDecodeRequestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"short header", []byte{0, 3}},
		{"unknown API key", []byte{0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 255, 255}},
		{"version beyond kmsg", []byte{0, 0, 0, 99, 0, 0, 0, 1, 255, 255}},
		{"truncated body", []byte{0, 3, 0, 1, 0, 0, 0, 1, 255, 255, 0, 0, 0}},
	} {
		if _, _, err := decodeRequest(1, 0, tc.frame); err == nil {
			t.Errorf("%s: decoded without error", tc.name)
		}
	}
	// ApiVersions at an unknown version is answered (at v0), not refused.
	req, corr, err := decodeRequest(1, 0, []byte{0, 18, 0, 99, 0, 0, 0, 5, 255, 255})
	if err != nil || req.Key != 18 || req.Msg != nil || corr != 5 {
		t.Fatalf("ApiVersions v99: req %+v corr %d err %v", req, corr, err)
	}
}
