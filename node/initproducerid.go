package node

// InitProducerId (key 22), v0–v5, for idempotent producers.
//
// Differs from Apache Kafka: producer ids are not allocated in blocks by the
// controller; each is a random 63-bit number from the environment's random
// source, so no broker needs to coordinate with another (two of a million
// producers collide with probability about 1e-7). A request with a
// transactional id is refused with INVALID_REQUEST until transactions
// exist. A v3+ request naming its current id and epoch (KIP-360) gets the
// same id with the epoch bumped, or a new id once the epoch is exhausted.

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (n *Node) handleInitProducerID(req *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	if req.ProducerID >= 0 && req.ProducerEpoch >= 0 && req.ProducerEpoch < math.MaxInt16-1 && req.Version >= 3 {
		resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = int64(n.cfg.Env.Rand.Uint64()>>1), 0
	return resp
}
