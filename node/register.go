package node

// Adding a broker to a running cluster. The broker list a broker starts
// with (Config.Brokers) is the cluster as it knew it; brokers added later
// are recorded in the metadata log (register_broker commands), applied
// everywhere like any other command: every broker then lists the new one
// in Metadata, can place replicas on it, sends it raft traffic (the
// runtime learns its raft address from Output.Peers), and counts it among
// the metadata group's voters.
//
// A new broker starts with Config.Join (new storage: it votes nowhere yet)
// and a broker list that includes itself. Until its metadata replica has
// been re-added (born.go), it forwards its registration, every broadcast
// interval, to every broker it knows; the controller proposes it if the
// broker is not yet known with those endpoints. Applied, the controller's
// metadata leader re-adds the new broker to the metadata group (learner
// under its incarnation, promoted once caught up, as for a wiped disk), the
// broker replays the metadata log and is part of the cluster. It holds no
// partitions until a reassignment (or a new topic) puts replicas on it.

import (
	"encoding/json"
	"fmt"
	"slices"

	"sluice/transport"
)

// registration is the forwarded register_broker command of this broker.
func (n *Node) registration() transport.Forward {
	var self Broker
	for _, b := range n.cfg.Brokers {
		if b.ID == int32(n.self) {
			self = b
		}
	}
	data, err := json.Marshal(command{Op: "register_broker", Broker: &self})
	if err != nil {
		panic(fmt.Sprintf("node: marshal registration: %v", err))
	}
	return transport.Forward{Group: transport.MetadataGroup, Data: data}
}

// sendRegistration forwards this joining broker's registration to every
// broker it knows (only the metadata leader acts on it).
func (n *Node) sendRegistration() {
	if n.born != bornJoining {
		return
	}
	f := n.registration()
	for _, b := range n.cfg.Brokers {
		if id := uint64(b.ID); id != n.self {
			ob := n.batchTo(id)
			ob.Forwards = append(ob.Forwards, f)
		}
	}
}

// knownBroker reports whether b is in the broker list with these
// endpoints.
func (n *Node) knownBroker(b Broker) bool {
	return slices.Contains(n.cfg.Brokers, b)
}

// applyRegister adds or updates a broker from a register_broker command.
func (n *Node) applyRegister(c command) {
	b := c.Broker
	if b == nil || b.ID <= 0 || n.knownBroker(*b) {
		return
	}
	i := slices.IndexFunc(n.cfg.Brokers, func(x Broker) bool { return x.ID == b.ID })
	if i >= 0 {
		n.cfg.Brokers[i] = *b
		n.log.Info("broker endpoints changed", "id", b.ID, "host", b.Host, "port", b.Port, "raft", b.RaftAddr)
	} else {
		n.cfg.Brokers = append(n.cfg.Brokers, *b)
		slices.SortFunc(n.cfg.Brokers, func(x, y Broker) int { return int(x.ID - y.ID) })
		n.log.Info("broker registered", "id", b.ID, "host", b.Host, "port", b.Port, "raft", b.RaftAddr)
	}
	if b.ID != int32(n.self) {
		n.out.Peers = append(n.out.Peers, *b)
	}
	n.meta.voters = n.brokerIDs()
}

// brokerIDs lists every broker's id, sorted: the metadata group's voters.
func (n *Node) brokerIDs() []uint64 {
	ids := make([]uint64, 0, len(n.cfg.Brokers))
	for _, b := range n.cfg.Brokers {
		ids = append(ids, uint64(b.ID))
	}
	slices.Sort(ids)
	return ids
}

// Peers lists every other broker with its endpoints (the runtime dials
// their raft addresses).
func (n *Node) Peers() []Broker {
	var out []Broker
	for _, b := range n.cfg.Brokers {
		if b.ID != int32(n.self) {
			out = append(out, b)
		}
	}
	return out
}
