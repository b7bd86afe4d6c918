// Package partition is a core that breaks every rule.
package partition

import (
	crand "crypto/rand"
	"maps"
	mrand "math/rand"
	"math/rand/v2"
	"slices"
	"time"

	"sluice/checker"        // want `import rule: sluice/partition must not import "sluice/checker"`
	"sluice/raftlog/writer" // want `import rule: sluice/partition must not import "sluice/raftlog/writer" \(matches sluice/raftlog/writer/\.\.\.: a core must not know`
	"sluice/sim"            // want `import rule: sluice/partition must not import "sluice/sim" \(matches sluice/sim/\.\.\.: production code`
	"sluice/transport"
)

var (
	_ = checker.Check
	_ = sim.Run
	_ = writer.Start
	_ transport.GroupID
)

// Clocks reads the wall clock in every forbidden way.
func Clocks() {
	now := time.Now()              // want `time\.Now`
	_ = time.Since(now)            // want `time\.Since`
	_ = time.Until(now)            // want `time\.Until`
	<-time.After(time.Second)      // want `time\.After`
	time.AfterFunc(0, func() {})   // want `time\.AfterFunc`
	time.Sleep(0)                  // want `time\.Sleep`
	_ = time.Tick(time.Second)     // want `time\.Tick`
	_ = time.NewTimer(time.Second) // want `time\.NewTimer`
	_ = time.NewTicker(1)          // want `time\.NewTicker`
	f := time.Now                  // want `time\.Now`
	_ = f
	_ = now.Sub(now) // methods of time.Time are fine
	_ = time.Unix(0, 0)
}

// Randomness uses every global source.
func Randomness(p []byte) {
	_ = mrand.Intn(3)                   // want `math/rand\.Intn`
	mrand.Shuffle(2, func(i, j int) {}) // want `math/rand\.Shuffle`
	_ = rand.Int()                      // want `math/rand/v2\.Int in core`
	_ = rand.N(time.Second)             // want `math/rand/v2\.N in core`
	_, _ = crand.Read(p)                // want `crypto/rand\.Read`
	_ = crand.Reader                    // want `crypto/rand\.Reader`
	seeded := mrand.New(mrand.NewSource(1))
	_ = seeded.Intn(3)
	_ = rand.New(rand.NewChaCha8([32]byte{})).IntN(3)
}

// Goroutine starts one.
func Goroutine() {
	go func() {}() // want `determinism: go statement in core package sluice/partition`
}

// MapOrder ranges over maps.
func MapOrder(m map[string]int) []string {
	var out []string
	for k := range m { // want `determinism: range over map m in core package sluice/partition`
		out = append(out, k)
	}
	for k := range maps.Keys(m) { // want `maps\.Keys yields in random order`
		out = append(out, k)
	}
	_ = slices.Collect(maps.Values(m)) // want `maps\.Values yields in random order`
	for range m {                      // want `range over map m`
	}
	//lint:maporder-ok
	for k := range m { // want `range over map m needs a reason after //lint:maporder-ok`
		out = append(out, k)
	}
	return out
}

// Named map types and type parameters are maps too.
type Set map[string]struct{}

// Members ranges over a named map.
func Members(s Set) (n int) {
	for range s { // want `range over map s`
		n++
	}
	return n
}

// Generic ranges over a type parameter constrained to maps.
func Generic[M ~map[string]int](m M) (n int) {
	for range m { // want `range over map m`
		n++
	}
	return n
}

// Nested shows that a comment at the end of one line does not cover the next.
func Nested(m map[string]map[string]int) (n int) {
	for _, inner := range m { //lint:maporder-ok counting only
		for range inner { // want `range over map inner`
			n++
		}
	}
	return n
}
