// Package vfs has a core part (this file) and an OS part (os.go, sync_linux.go).
package vfs

import (
	"math/rand/v2"
	"time"
)

// FS is the file system.
type FS interface{ Sync() error }

// Mem is the in-memory FS: its randomness is a seeded generator, which is fine.
type Mem struct{ r *rand.Rand }

// NewMem seeds its own generator: constructing a source is allowed.
func NewMem(seed uint64) *Mem { return &Mem{r: rand.New(rand.NewPCG(seed, 1))} }

// Tear draws from its own generator: a method, allowed.
func (m *Mem) Tear(n int) int { return m.r.IntN(n) }

// Jitter uses the global generator.
func Jitter() int { return rand.IntN(10) } // want `determinism: math/rand/v2\.IntN in core package sluice/raftlog/vfs`

// Slow sleeps.
func Slow() { time.Sleep(time.Millisecond) } // want `time\.Sleep`
