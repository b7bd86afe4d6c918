package node

import (
	"errors"
	"reflect"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// versionRange is the versions of one API this broker serves.
type versionRange struct{ min, max int16 }

// served lists every API this broker answers, with the versions: from the
// oldest Apache Kafka 4.0 serves (KIP-896) to the newest kmsg encodes.
// ApiVersions advertises exactly this table.
var served = map[int16]versionRange{
	0:  {3, 13}, // Produce
	1:  {4, 18}, // Fetch
	2:  {1, 11}, // ListOffsets
	3:  {0, 13}, // Metadata
	8:  {2, 10}, // OffsetCommit
	9:  {1, 10}, // OffsetFetch
	10: {0, 6},  // FindCoordinator
	11: {0, 9},  // JoinGroup
	12: {0, 4},  // Heartbeat
	13: {0, 5},  // LeaveGroup
	14: {0, 5},  // SyncGroup
	15: {0, 6},  // DescribeGroups
	16: {0, 5},  // ListGroups
	18: {0, 5},  // ApiVersions
	19: {2, 7},  // CreateTopics
	20: {1, 6},  // DeleteTopics
	21: {0, 2},  // DeleteRecords
	22: {0, 5},  // InitProducerId
	23: {2, 4},  // OffsetForLeaderEpoch
	32: {1, 4},  // DescribeConfigs
	33: {0, 2},  // AlterConfigs
	35: {1, 5},  // DescribeLogDirs
	37: {0, 3},  // CreatePartitions
	42: {0, 3},  // DeleteGroups
	44: {0, 1},  // IncrementalAlterConfigs
	45: {0, 1},  // AlterPartitionReassignments
	46: {0, 0},  // ListPartitionReassignments
	47: {0, 0},  // OffsetDelete
	60: {0, 2},  // DescribeCluster
	68: {0, 1},  // ConsumerGroupHeartbeat
	69: {0, 1},  // ConsumerGroupDescribe
}

// Served reports whether this broker answers key at version v; the runtime
// uses it to tell "decode and answer" from "answer UNSUPPORTED_VERSION".
func Served(key, v int16) bool {
	r, ok := served[key]
	return ok && v >= r.min && v <= r.max
}

// Handle takes one request. Its response (possibly none, for acks=0)
// comes out of a later Ready, in the Output's Responses.
func (n *Node) Handle(r Request) {
	if r.Key == 18 { // ApiVersions answers even versions it cannot decode
		n.respond(r, n.handleApiVersions(r))
		return
	}
	if r.Msg == nil || !Served(r.Key, r.Version) {
		n.respond(r, unsupported(r))
		return
	}
	switch req := r.Msg.(type) {
	case *kmsg.ProduceRequest:
		n.handleProduce(r, req)
	case *kmsg.FetchRequest:
		n.handleFetch(r, req)
	case *kmsg.ListOffsetsRequest:
		n.respond(r, n.handleListOffsets(req))
	case *kmsg.MetadataRequest:
		n.respond(r, n.handleMetadata(req))
	case *kmsg.FindCoordinatorRequest:
		n.respond(r, n.handleFindCoordinator(req))
	case *kmsg.CreateTopicsRequest:
		n.handleCreateTopics(r, req)
	case *kmsg.DeleteTopicsRequest:
		n.handleDeleteTopics(r, req)
	case *kmsg.DeleteRecordsRequest:
		n.handleDeleteRecords(r, req)
	case *kmsg.InitProducerIDRequest:
		n.respond(r, n.handleInitProducerID(req))
	case *kmsg.OffsetForLeaderEpochRequest:
		n.respond(r, n.handleOffsetForLeaderEpoch(req))
	case *kmsg.CreatePartitionsRequest:
		n.handleCreatePartitions(r, req)
	case *kmsg.DescribeConfigsRequest:
		n.respond(r, n.handleDescribeConfigs(req))
	case *kmsg.AlterConfigsRequest:
		n.handleAlterConfigs(r, req)
	case *kmsg.IncrementalAlterConfigsRequest:
		n.handleIncrementalAlterConfigs(r, req)
	case *kmsg.AlterPartitionAssignmentsRequest:
		n.handleAlterPartitionReassignments(r, req)
	case *kmsg.ListPartitionReassignmentsRequest:
		n.respond(r, n.handleListPartitionReassignments(req))
	case *kmsg.DescribeClusterRequest:
		n.respond(r, n.handleDescribeCluster(req))
	case *kmsg.DescribeLogDirsRequest:
		n.respond(r, n.handleDescribeLogDirs(req))
	case *kmsg.JoinGroupRequest:
		n.handleJoinGroup(r, req)
	case *kmsg.SyncGroupRequest:
		n.handleSyncGroup(r, req)
	case *kmsg.HeartbeatRequest:
		n.handleHeartbeat(r, req)
	case *kmsg.LeaveGroupRequest:
		n.handleLeaveGroup(r, req)
	case *kmsg.OffsetCommitRequest:
		n.handleOffsetCommit(r, req)
	case *kmsg.OffsetFetchRequest:
		n.respond(r, n.handleOffsetFetch(req))
	case *kmsg.DescribeGroupsRequest:
		n.respond(r, n.handleDescribeGroups(req))
	case *kmsg.ListGroupsRequest:
		n.respond(r, n.handleListGroups(req))
	case *kmsg.DeleteGroupsRequest:
		n.handleDeleteGroups(r, req)
	case *kmsg.OffsetDeleteRequest:
		n.handleOffsetDelete(r, req)
	case *kmsg.ConsumerGroupHeartbeatRequest:
		n.handleConsumerGroupHeartbeat(r, req)
	case *kmsg.ConsumerGroupDescribeRequest:
		n.respond(r, n.handleConsumerGroupDescribe(req))
	default:
		n.respond(r, unsupported(r))
	}
}

func (n *Node) respond(r Request, resp kmsg.Response) {
	n.out.Responses = append(n.out.Responses, Response{Conn: r.Conn, Seq: r.Seq, Key: r.Key, Msg: resp})
}

// unsupported answers a request of an API or version this broker does not
// serve: the API's own response at the request's version with every error
// code set to UNSUPPORTED_VERSION, or nil when kmsg cannot encode one (the
// runtime then closes the connection with a log line).
func unsupported(r Request) kmsg.Response {
	req := kmsg.RequestForKey(r.Key)
	if req == nil || r.Version < 0 || r.Version > req.MaxVersion() {
		return nil
	}
	resp := req.ResponseKind()
	resp.SetVersion(r.Version)
	if r.Msg != nil {
		mirror(reflect.ValueOf(r.Msg).Elem(), reflect.ValueOf(resp).Elem())
	}
	// DeleteTopics before v6 names its topics in a list of strings.
	if d, ok := r.Msg.(*kmsg.DeleteTopicsRequest); ok {
		dr := resp.(*kmsg.DeleteTopicsResponse)
		for _, name := range d.TopicNames {
			t := kmsg.NewDeleteTopicsResponseTopic()
			t.Topic = kmsg.StringPtr(name)
			dr.Topics = append(dr.Topics, t)
		}
	}
	setErrorCodes(reflect.ValueOf(resp), kerr.UnsupportedVersion.Code)
	return resp
}

// mirror copies the shape of a request into its response: for every list
// the two share by name (Topics, Partitions, ...), the response gets one
// element per request element, with the same-named scalar fields (Topic,
// TopicID, Partition, ...) copied, so that an error answer names every
// topic and partition the client asked about.
func mirror(req, resp reflect.Value) {
	for i := 0; i < resp.NumField(); i++ {
		name := resp.Type().Field(i).Name
		if name == "Version" || name == "ErrorCode" {
			continue
		}
		rf := req.FieldByName(name)
		f := resp.Field(i)
		if !rf.IsValid() || !f.CanSet() {
			continue
		}
		switch {
		case f.Kind() == reflect.Slice && rf.Kind() == reflect.Slice &&
			f.Type().Elem().Kind() == reflect.Struct && rf.Type().Elem().Kind() == reflect.Struct:
			out := reflect.MakeSlice(f.Type(), rf.Len(), rf.Len())
			for j := 0; j < rf.Len(); j++ {
				mirror(rf.Index(j), out.Index(j))
			}
			f.Set(out)
		case f.Type() == rf.Type() && f.Kind() != reflect.Slice && f.Kind() != reflect.Struct:
			f.Set(rf)
		}
	}
}

// setErrorCodes sets every int16 field named ErrorCode reachable from v;
// a response whose lists are empty carries its top-level code.
func setErrorCodes(v reflect.Value, code int16) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			setErrorCodes(v.Elem(), code)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if v.Type().Field(i).Name == "ErrorCode" && f.Kind() == reflect.Int16 && f.CanSet() {
				f.SetInt(int64(code))
				continue
			}
			setErrorCodes(f, code)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			setErrorCodes(v.Index(i), code)
		}
	}
}

// errCode is the Kafka code of err (0 for nil), unwrapping wrapped kerr
// errors; any other error is UNKNOWN_SERVER_ERROR.
func errCode(err error) int16 {
	if err == nil {
		return 0
	}
	if ke := asKerr(err); ke != nil {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

func asKerr(err error) *kerr.Error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke
	}
	return nil
}
