package partition

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A leader whose oldest segment can no longer be read must not answer as if
// the log started at its applied state: that sent a consumer below it to
// OFFSET_OUT_OF_RANGE, and its reset to the earliest offset skipped records
// still on disk (the simulator's kitchen-sink seed 15, a sector error on the
// leader). The partition stops instead, and reads get a storage error, which
// clients retry elsewhere.
func TestUnreadableLogStartIsAStorageError(t *testing.T) {
	c := newCluster(t, Config{MinInsyncReplicas: 2}, 1, 2, 3)
	c.sendLarge(40)
	l := c.waitLeader()
	if got := l.LogStartOffset(); got != 0 || l.Err() != nil {
		t.Fatalf("log start %d, err %v before the damage", got, l.Err())
	}
	// Damage the oldest segment's first frames on the leader's disk.
	fs := c.fs[l.cfg.ID]
	names, err := fs.List("p0")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(names, func(n string) bool { return strings.HasSuffix(n, ".seg") })
	f, err := fs.OpenReadWrite("p0/" + names[i])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 4096), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()

	_, err = l.Read(0, 1<<20)
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("read at offset 0 of an unreadable log: %v, want KAFKA_STORAGE_ERROR (not OFFSET_OUT_OF_RANGE)", err)
	}
	if !errors.Is(l.Err(), ErrStopped) {
		t.Fatalf("partition not stopped: %v", l.Err())
	}
}
