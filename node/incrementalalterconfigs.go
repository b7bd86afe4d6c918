package node

// IncrementalAlterConfigs (key 44), v0–v1 (KIP-339): SET, DELETE, APPEND
// and SUBTRACT per config, applied to the topic's current configs.
//
// Handled as AlterConfigs is (alterconfigs.go): any broker takes it and
// forwards it to the controller (KIP-590); one alter_configs metadata
// command per topic carries the resulting set; answered once applied on
// the answering broker; validate_only honoured; broker and other
// non-topic resources are INVALID_REQUEST. The operations are computed on
// the answering broker from its copy of the topic's configs; should
// another alter of the same topic apply first, they are computed again
// from the configs that won, so concurrent alters never lose each other's
// changes.
//
// SET with a null value, an unknown operation and a name given twice in
// one resource are INVALID_REQUEST; an unknown name, a bad value and
// APPEND or SUBTRACT on a config that is not a list (the only list is
// cleanup.policy) are INVALID_CONFIG. APPEND and SUBTRACT start from the
// current value, the default when the topic has none; DELETE of a config
// the topic does not set is no change. Enforced and stored-only configs as
// in alterconfigs.go.

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleIncrementalAlterConfigs(r Request, req *kmsg.IncrementalAlterConfigsRequest) {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	resp.Resources = make([]kmsg.IncrementalAlterConfigsResponseResource, len(req.Resources))
	seen := map[configResource]int{}
	for _, rr := range req.Resources {
		seen[configResource{rr.ResourceType, rr.ResourceName}]++
	}
	var items []adminItem
	for i, rr := range req.Resources {
		or := &resp.Resources[i]
		*or = kmsg.NewIncrementalAlterConfigsResponseResource()
		or.ResourceType, or.ResourceName = rr.ResourceType, rr.ResourceName
		res := alterResult{code: &or.ErrorCode, msg: &or.ErrorMessage}
		if e := checkAlterResource(rr.ResourceType, rr.ResourceName, seen); e != nil {
			res.fail(e)
			continue
		}
		ops := rr.Configs
		next := func(cur [][2]string, rf int) ([][2]string, *configError) {
			return n.applyIncremental(cur, rf, ops)
		}
		if it, ok := n.alterTopic(rr.ResourceName, req.ValidateOnly, next, res); ok {
			items = append(items, it)
		}
	}
	n.waitAdmin(r, resp, alterTimeoutMs, items)
}

// applyIncremental applies ops to a topic's overrides cur.
func (n *Node) applyIncremental(cur [][2]string, rf int, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) ([][2]string, *configError) {
	m := configMap(cur)
	seen := map[string]bool{}
	for _, c := range ops {
		if seen[c.Name] {
			return nil, invalidRequest("config %s is given more than once", c.Name)
		}
		seen[c.Name] = true
		d := configDefOf(c.Name)
		if d == nil {
			return nil, invalidConfig("unknown topic config %q", c.Name)
		}
		if c.Op != kmsg.IncrementalAlterConfigOpDelete && c.Value == nil {
			return nil, invalidRequest("config %s: null value for %v", c.Name, c.Op)
		}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			m[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(m, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if d.typ != kmsg.ConfigTypeList {
				return nil, invalidConfig("config %s is not a list: %v applies to list configs only", c.Name, c.Op)
			}
			base, ok := m[c.Name]
			if !ok {
				base, _ = d.def(n, rf)
			}
			items := splitList(base)
			for _, it := range splitList(*c.Value) {
				has := slices.Contains(items, it)
				switch {
				case c.Op == kmsg.IncrementalAlterConfigOpAppend && !has:
					items = append(items, it)
				case c.Op == kmsg.IncrementalAlterConfigOpSubtract && has:
					items = slices.DeleteFunc(items, func(x string) bool { return x == it })
				}
			}
			m[c.Name] = strings.Join(items, ",")
		default:
			return nil, invalidRequest("config %s: unknown operation %d", c.Name, c.Op)
		}
		if v, ok := m[c.Name]; ok {
			if err := checkConfig(c.Name, v, rf); err != nil {
				return nil, invalidConfig("%v", err)
			}
		}
	}
	return sortedConfigs(m), nil
}

// splitList splits a list config's value at commas, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
