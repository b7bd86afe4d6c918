package runtime

import (
	"sync"

	"sluice/transport"
)

// LocalNet connects brokers running in one process (`sluice dev`): a batch
// sent to a broker is posted to its event loop. The receiving broker bounds
// what waits for its loop; past the bound, and to a broker that is not
// attached (stopped), batches are dropped and the sender told, as the TCP
// transport does.
type LocalNet struct {
	mu      sync.RWMutex
	inboxes map[uint64]Inbox
}

// NewLocalNet returns an empty in-process network.
func NewLocalNet() *LocalNet {
	return &LocalNet{inboxes: map[uint64]Inbox{}}
}

// Attach implements Network.
func (l *LocalNet) Attach(id uint64, in Inbox) transport.Transport {
	l.mu.Lock()
	l.inboxes[id] = in
	l.mu.Unlock()
	return localSender{l: l, from: id}
}

// Detach implements Network.
func (l *LocalNet) Detach(id uint64) {
	l.mu.Lock()
	delete(l.inboxes, id)
	l.mu.Unlock()
}

type localSender struct {
	l    *LocalNet
	from uint64
}

func (s localSender) Send(b transport.Batch) {
	s.l.mu.RLock()
	dst, src := s.l.inboxes[b.To], s.l.inboxes[s.from]
	s.l.mu.RUnlock()
	if dst != nil && dst.Deliver(b) {
		return
	}
	if src != nil {
		transport.ReportDropped(src, b)
	}
}
