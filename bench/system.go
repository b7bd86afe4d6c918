package bench

import (
	"context"
)

// system is one target, started (or reached) for one run.
type system interface {
	// setup creates the topic (or stream) of w and returns once every
	// partition serves.
	setup(ctx context.Context, w Workload) error
	newProducer(w Workload, i int) (producer, error)
	// newConsumer reads partitions from the start.
	newConsumer(w Workload, i int, partitions []int32) (consumer, error)
	// batchBytes is the mean size of the produce batches the clients wrote
	// so far (0 when the client does not say).
	batchBytes() float64
	// close stops what the system started and removes its data.
	close()
}

// producer sends records.
type producer interface {
	// send sends value to partition p and calls done exactly once with the
	// outcome, from any goroutine; value is not touched after done. send
	// blocks while the client's buffer is full (back-pressure). It returns
	// an error only when ctx has ended, and then done is never called: the
	// record was not sent.
	send(ctx context.Context, p int32, value []byte, done func(error)) error
	// flush waits until every record sent has its outcome.
	flush(ctx context.Context) error
	close()
}

// consumer reads records.
type consumer interface {
	// run calls fn with each record's value, from one goroutine, until ctx
	// ends. Errors the client recovers from are counted by errs, not
	// returned.
	run(ctx context.Context, fn func(value []byte), errs func(error)) error
	close()
}
