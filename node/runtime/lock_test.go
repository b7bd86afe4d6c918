package runtime_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sluice/node/runtime"
)

// TestLockDataDir: a data directory is held by one holder at a time (found
// by a README walkthrough: a second `sluice dev` on the same directory
// started, and records the first had acknowledged were gone after a
// restart). The error names the holder's process id; once released, the
// directory can be locked again.
func TestLockDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := runtime.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = runtime.LockDataDir(dir)
	if !errors.Is(err, runtime.ErrDataDirInUse) {
		t.Fatalf("second lock: %v, want ErrDataDirInUse", err)
	}
	if !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Errorf("the error does not name the holder: %v", err)
	}
	l.Unlock()
	l.Unlock() // twice is fine
	l2, err := runtime.LockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

// TestDevClusterHoldsItsDataDir: a second dev cluster on a running one's
// directory is refused, -fresh included (which must not remove the lock),
// and starts once the first has stopped.
func TestDevClusterHoldsItsDataDir(t *testing.T) {
	dir := t.TempDir()
	c, err := runtime.StartDev(runtime.DevOptions{Brokers: 1, DataDir: dir, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for _, fresh := range []bool{false, true} {
		if c2, err := runtime.StartDev(runtime.DevOptions{Brokers: 1, DataDir: dir, Fresh: fresh, Logger: testLogger()}); !errors.Is(err, runtime.ErrDataDirInUse) {
			if err == nil {
				c2.Stop()
			}
			t.Fatalf("second dev cluster (fresh %v) on a running one's directory: %v, want ErrDataDirInUse", fresh, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "cluster_id")); err != nil {
		t.Fatalf("the refused -fresh start touched the running cluster's data: %v", err)
	}
	c.Stop()
	c, err = runtime.StartDev(runtime.DevOptions{Brokers: 1, DataDir: dir, Fresh: true, Logger: testLogger()})
	if err != nil {
		t.Fatalf("start after the first stopped: %v", err)
	}
	c.Stop()
}
