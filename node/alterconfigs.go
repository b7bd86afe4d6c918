package node

// AlterConfigs (key 33), v0–v2: the legacy API, which replaces a topic's
// whole set of configs with the request's (a config left out returns to
// its default).
//
// Any broker takes it: the controller proposes the change as one
// alter_configs metadata command, others forward it to the controller
// (KIP-590; kgo sends topic alters to any broker). The answer comes once the
// change has applied on the answering broker (REQUEST_TIMED_OUT after
// alterTimeoutMs, as the request carries no timeout; it may still apply).
// NOT_CONTROLLER only while no controller is known. Every config is
// validated first (configs.go): an unknown name or a bad value is
// INVALID_CONFIG, a null value or a name given twice INVALID_REQUEST, and
// nothing of that resource is stored. validate_only checks without storing.
// A change that leaves the configs as they are answers at once.
//
// Enforced at once on every replica (partition.SetTopicConfig and
// SetFlushPolicy): min.insync.replicas, max.message.bytes,
// message.timestamp.type, retention.ms and retention.bytes (applied at
// the next retention check), flush.messages and flush.ms (a relaxed flush
// policy — flush.messages > 1 and flush.ms > 0 — acknowledges writes
// before fsync and syncs entries every flush.messages entries or flush.ms
// milliseconds, never relaxing the sync of raft's term and vote, DESIGN.md
// step 7; tightened back, what was unsynced is synced at the next tick).
// segment.bytes applies from the next append on. Stored only:
// cleanup.policy compact, segment.ms, compression.type.
//
// Broker resources are INVALID_REQUEST: sluice has no dynamic broker
// configs (they are set where the broker starts). Other resource types
// are INVALID_REQUEST too; a resource listed twice is INVALID_REQUEST.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// alterTimeoutMs bounds the wait of the config APIs, which carry no
// timeout of their own; it stays below kgo's default request overhead
// (10 s), so the client hears REQUEST_TIMED_OUT rather than its own timeout.
const alterTimeoutMs = 8000

func (n *Node) handleAlterConfigs(r Request, req *kmsg.AlterConfigsRequest) {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	resp.Resources = make([]kmsg.AlterConfigsResponseResource, len(req.Resources))
	seen := map[configResource]int{}
	for _, rr := range req.Resources {
		seen[configResource{rr.ResourceType, rr.ResourceName}]++
	}
	var items []adminItem
	for i, rr := range req.Resources {
		or := &resp.Resources[i]
		*or = kmsg.NewAlterConfigsResponseResource()
		or.ResourceType, or.ResourceName = rr.ResourceType, rr.ResourceName
		res := alterResult{code: &or.ErrorCode, msg: &or.ErrorMessage}
		if e := checkAlterResource(rr.ResourceType, rr.ResourceName, seen); e != nil {
			res.fail(e)
			continue
		}
		set := rr.Configs
		next := func(_ [][2]string, rf int) ([][2]string, *configError) {
			m := map[string]string{}
			for _, c := range set {
				if _, dup := m[c.Name]; dup {
					return nil, invalidRequest("config %s is given more than once", c.Name)
				}
				if c.Value == nil {
					return nil, invalidRequest("config %s has a null value", c.Name)
				}
				if err := checkConfig(c.Name, *c.Value, rf); err != nil {
					return nil, invalidConfig("%v", err)
				}
				m[c.Name] = *c.Value
			}
			return sortedConfigs(m), nil
		}
		if it, ok := n.alterTopic(rr.ResourceName, req.ValidateOnly, next, res); ok {
			items = append(items, it)
		}
	}
	n.waitAdmin(r, resp, alterTimeoutMs, items)
}

// configResource names one resource of a config request.
type configResource struct {
	typ  kmsg.ConfigResourceType
	name string
}

// checkAlterResource refuses what the alter APIs do not change: resources
// listed twice, broker and other non-topic resources, bad topic names.
func checkAlterResource(typ kmsg.ConfigResourceType, name string, seen map[configResource]int) *configError {
	switch {
	case seen[configResource{typ, name}] > 1:
		return invalidRequest("resource %s is listed more than once", name)
	case typ == kmsg.ConfigResourceTypeBroker:
		return invalidRequest("sluice has no dynamic broker configs: they are set where the broker starts")
	case typ != kmsg.ConfigResourceTypeTopic:
		return invalidRequest("sluice alters topic configs only")
	}
	if err := validTopicName(name); err != nil {
		return &configError{kerr.InvalidTopicException, err.Error()}
	}
	return nil
}
