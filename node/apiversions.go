package node

// ApiVersions (key 18), v0–v5.
//
// Advertises exactly the table in handle.go. A request at a version above
// v5 is answered at v0 with UNSUPPORTED_VERSION and the table, as Apache
// Kafka does, so the client retries at a version both sides speak. No
// features are advertised (sluice has no feature flags yet).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleApiVersions(r Request) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = r.Version
	if !Served(r.Key, r.Version) || r.Msg == nil {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
	}
	keys := make([]int16, 0, len(served))
	for k := range served { //lint:maporder-ok sorted below
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := served[k]
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: v.min, MaxVersion: v.max})
	}
	return resp
}
