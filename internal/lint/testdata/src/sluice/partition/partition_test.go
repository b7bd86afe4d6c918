package partition

import (
	"testing"
	"time"
)

// Tests may use real time and goroutines: test files are not checked.
func TestAnything(t *testing.T) {
	start := time.Now()
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	_ = time.Since(start)
	for range map[int]int{} {
	}
}
