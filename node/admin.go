package node

// What the admin APIs (CreateTopics, DeleteTopics, CreatePartitions,
// AlterConfigs, IncrementalAlterConfigs) share: requests that wait for their
// metadata commands to be applied, topic name and config validation (the
// configs themselves are in configs.go).

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminWait is an admin request waiting for its commands to apply.
type adminWait struct {
	r          Request
	resp       kmsg.Response
	deadlineMs int64
	items      []adminItem
}

// adminItem is one topic of it: done reports the outcome once applied
// (ok false: still waiting); code is where the outcome goes; expire, if
// set, runs when the request times out before the item is done.
type adminItem struct {
	done   func() (code int16, ok bool)
	code   *int16
	expire func()
}

func (n *Node) waitAdmin(r Request, resp kmsg.Response, timeoutMs int32, items []adminItem) {
	w := &adminWait{r: r, resp: resp, deadlineMs: n.nowMs + int64(max(timeoutMs, 0)), items: items}
	n.admin = append(n.admin, w)
	n.adminProgress()
}

// adminProgress answers the admin requests whose commands have applied.
func (n *Node) adminProgress() {
	keep := n.admin[:0]
	for _, w := range n.admin {
		items := w.items[:0]
		for _, it := range w.items {
			if code, ok := it.done(); ok {
				*it.code = code
				continue
			}
			items = append(items, it)
		}
		w.items = items
		if len(w.items) == 0 {
			n.respond(w.r, w.resp)
			continue
		}
		keep = append(keep, w)
	}
	clear(n.admin[len(keep):])
	n.admin = keep
}

// expireAdmin answers admin requests past their timeout: what has not
// applied yet is REQUEST_TIMED_OUT (it may still apply, as in Kafka).
func (n *Node) expireAdmin() {
	keep := n.admin[:0]
	for _, w := range n.admin {
		if w.deadlineMs > n.nowMs {
			keep = append(keep, w)
			continue
		}
		for _, it := range w.items {
			*it.code = kerr.RequestTimedOut.Code
			if it.expire != nil {
				it.expire()
			}
		}
		n.respond(w.r, w.resp)
	}
	clear(n.admin[len(keep):])
	n.admin = keep
}

// validTopicName applies Kafka's topic name rules.
func validTopicName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > 249:
		return fmt.Errorf("topic name is %d characters long; the limit is 249", len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q contains %q; only ASCII letters, digits, '.', '_' and '-' are allowed", name, c)
		}
	}
	return nil
}

func hexID(id [16]byte) string { return hex.EncodeToString(id[:]) }

func intRange(v string, lo, hi int64) error {
	x, err := strconv.ParseInt(v, 10, 64)
	if err != nil || x < lo || x > hi {
		return fmt.Errorf("%q is not an integer in [%d, %d]", v, lo, hi)
	}
	return nil
}

func oneOf(v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	return nil
}

// listOf checks a list config as Kafka parses one (ConfigDef.parseType,
// ValidList): items split at commas with the spaces around them trimmed,
// at least one, each allowed.
func listOf(v string, allowed ...string) error {
	items := strings.Split(strings.TrimSpace(v), ",")
	for _, it := range items {
		if err := oneOf(strings.TrimSpace(it), allowed...); err != nil {
			return fmt.Errorf("list %q: %w", v, err)
		}
	}
	return nil
}

// validateConfigs checks a new topic's configs and returns them sorted.
func validateConfigs(cfgs []kmsg.CreateTopicsRequestTopicConfig, rf int) ([][2]string, error) {
	var out [][2]string
	seen := map[string]bool{}
	for _, c := range cfgs {
		if seen[c.Name] {
			return nil, fmt.Errorf("config %s is given more than once", c.Name)
		}
		seen[c.Name] = true
		if configDefOf(c.Name) == nil {
			return nil, fmt.Errorf("unknown topic config %q", c.Name)
		}
		if c.Value == nil {
			// As Kafka's ReplicationControlManager.computeConfigChanges.
			return nil, fmt.Errorf("null value not supported for topic configs: %s", c.Name)
		}
		if err := checkConfig(c.Name, *c.Value, rf); err != nil {
			return nil, err
		}
		out = append(out, [2]string{c.Name, *c.Value})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out, nil
}

// validateAssignment checks manual replica assignments.
func (n *Node) validateAssignment(reps [][]int32) error {
	rf := -1
	for i, r := range reps {
		if len(r) == 0 {
			return fmt.Errorf("partition %d has no replicas", i)
		}
		if rf >= 0 && len(r) != rf {
			return fmt.Errorf("partition %d has %d replicas, others %d", i, len(r), rf)
		}
		rf = len(r)
		seen := map[int32]bool{}
		for _, b := range r {
			if seen[b] {
				return fmt.Errorf("partition %d lists broker %d twice", i, b)
			}
			seen[b] = true
			if !slices.ContainsFunc(n.cfg.Brokers, func(x Broker) bool { return x.ID == b }) {
				return fmt.Errorf("partition %d names unknown broker %d", i, b)
			}
		}
	}
	return nil
}
