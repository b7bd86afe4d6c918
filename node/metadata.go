package node

// Metadata (key 3), v0–v13.
//
// Answers from the topic table (the replicated metadata log) and the leader
// table (DESIGN.md step 9): leader, leader epoch (the raft term), replicas
// and ISR as the leader last broadcast them, so they may be stale by one
// broadcast interval; NOT_LEADER_OR_FOLLOWER answers correct clients that
// act on a stale entry. ControllerID is the metadata group's leader.
// Unknown topics are auto-created (auto.create.topics.enable, on by default)
// when the request allows it (v4+; always before v4), answered
// LEADER_NOT_AVAILABLE until their partitions have leaders. No racks.
// Authorized operations, when asked for, are every operation the resource
// supports, as Kafka answers without an authorizer (sluice has none).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/transport"
)

func (n *Node) handleMetadata(req *kmsg.MetadataRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	for _, b := range n.cfg.Brokers {
		resp.Brokers = append(resp.Brokers, kmsg.MetadataResponseBroker{NodeID: b.ID, Host: b.Host, Port: b.Port})
	}
	cid := n.cfg.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = n.controller()
	resp.AuthorizedOperations = authorizedOps(req.IncludeClusterAuthorizedOperations, clusterOps)
	topicOpsAsked := authorizedOps(req.IncludeTopicAuthorizedOperations, topicOps)

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, name := range n.topics.names() {
			resp.Topics = append(resp.Topics, n.describeTopic(n.topics.byName[name], req.Version, topicOpsAsked))
		}
		return resp
	}
	autoCreate := !n.cfg.DisableAutoCreate && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var t *topicInfo
		if rt.Topic != nil {
			t = n.topics.byName[*rt.Topic]
		} else {
			t = n.topics.byID[rt.TopicID]
		}
		if t != nil {
			resp.Topics = append(resp.Topics, n.describeTopic(t, req.Version, topicOpsAsked))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic, mt.TopicID, mt.AuthorizedOperations = rt.Topic, rt.TopicID, opsNotRequested
		switch {
		case rt.Topic == nil:
			mt.ErrorCode = kerr.UnknownTopicID.Code
		case validTopicName(*rt.Topic) != nil, n.topics.collision(*rt.Topic) != "":
			mt.ErrorCode = kerr.InvalidTopicException.Code
		case autoCreate && n.autoCreate(*rt.Topic):
			mt.ErrorCode = kerr.LeaderNotAvailable.Code
		default:
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}

// autoCreate proposes (or forwards to the controller) a topic with the
// default settings; false if there is no controller to take it.
func (n *Node) autoCreate(name string) bool {
	if name == OffsetsTopic {
		return n.createOffsetsTopic()
	}
	d := n.cfg.Defaults
	rf := min(int(d.ReplicationFactor), len(n.cfg.Brokers))
	id := n.newTopicID()
	c := command{Op: "create", Topic: topicInfo{Name: name, ID: hexID(id), Replicas: n.assign(0, int(d.Partitions), rf)}}
	return n.proposeMeta(c, true)
}

func (n *Node) describeTopic(t *topicInfo, version int16, ops int32) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic, mt.TopicID, mt.AuthorizedOperations = &name, t.id, ops
	mt.IsInternal = t.Name == OffsetsTopic
	for i := range t.Replicas {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(i)
		mp.Replicas = t.replicasOf(int32(i))
		mp.OfflineReplicas = []int32{}
		li, ok := n.leaderOf(n.group(t, int32(i)))
		if !ok {
			mp.Leader, mp.LeaderEpoch, mp.ISR = -1, -1, []int32{}
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		} else {
			mp.Leader, mp.LeaderEpoch = int32(li.Leader), int32(li.Term)
			for _, r := range li.ISR {
				mp.ISR = append(mp.ISR, int32(r))
			}
			if len(mp.ISR) == 0 {
				mp.ISR = []int32{mp.Leader}
			}
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// leaderOf is the freshest knowledge of g's leader: the leader table, or
// this broker's own replica when it knows a later term.
func (n *Node) leaderOf(g transport.GroupID) (transport.LeaderInfo, bool) {
	li, ok := n.leaders[g]
	if h := n.hosts[g]; h != nil && h.leader != 0 && (!ok || h.term > li.Term) {
		li = transport.LeaderInfo{Group: g, Term: h.term, Leader: h.leader}
		if h.leader == n.self {
			li.ISR = h.isr
		}
		ok = true
	}
	return li, ok && li.Leader != 0
}

// Authorized operations as Kafka's bit fields (AclOperation codes): what
// each resource type supports, every one allowed without an authorizer.
const (
	opsNotRequested = -2147483648
	// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS,
	// ALTER_CONFIGS.
	topicOps = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
	// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
	// ALTER_CONFIGS, IDEMPOTENT_WRITE.
	clusterOps = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12
	// READ, DELETE, DESCRIBE.
	groupOps = 1<<3 | 1<<6 | 1<<8
)

// authorizedOps is ops when asked for, else Kafka's "not requested".
func authorizedOps(asked bool, ops int32) int32 {
	if !asked {
		return opsNotRequested
	}
	return ops
}
