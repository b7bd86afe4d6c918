package bench

import (
	"testing"
	"time"
)

func TestCPUBusy(t *testing.T) {
	a, ok := readCPUCounters()
	if !ok {
		t.Skip("no /proc/stat here")
	}
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	b, _ := readCPUCounters()
	if f := cpuBusy(a, b); f <= 0 {
		t.Errorf("busy %.3f with one goroutine spinning 100 ms, want more than 0", f)
	}
	if f := cpuBusy(b, b); f != 0 || percent(f) != "n/a" {
		t.Errorf("no time between readings: %v (%s)", f, percent(f))
	}
}
