package env

import (
	"encoding/binary"
	"math/rand/v2"
)

// Rand is a seeded, deterministic random source: the only randomness a core
// may use. The same seed yields the same sequence of draws on every platform
// (PCG from math/rand/v2).
//
// Rand is not safe for concurrent use; a core owns its Rand, and components
// that run on different goroutines take their own with Split.
type Rand struct {
	src *countingSource
	r   *rand.Rand
}

// countingSource counts the 64-bit draws taken from the PCG generator, so a
// simulator can hash how much randomness a run consumed.
type countingSource struct {
	pcg   *rand.PCG
	draws uint64
}

func (s *countingSource) Uint64() uint64 {
	s.draws++
	return s.pcg.Uint64()
}

// golden is the 64-bit golden ratio, used to derive PCG's second seed word so
// nearby seeds give unrelated streams.
const golden = 0x9e3779b97f4a7c15

// NewRand returns a Rand seeded with seed.
func NewRand(seed uint64) *Rand {
	src := &countingSource{pcg: rand.NewPCG(seed, seed^golden)}
	return &Rand{src: src, r: rand.New(src)}
}

// Uint64 returns a uniformly distributed 64-bit value.
func (r *Rand) Uint64() uint64 { return r.r.Uint64() }

// Uint32 returns a uniformly distributed 32-bit value.
func (r *Rand) Uint32() uint32 { return r.r.Uint32() }

// Int64N returns a value in [0, n). It panics if n <= 0.
func (r *Rand) Int64N(n int64) int64 { return r.r.Int64N(n) }

// IntN returns a value in [0, n). It panics if n <= 0.
func (r *Rand) IntN(n int) int { return r.r.IntN(n) }

// Float64 returns a value in [0.0, 1.0).
func (r *Rand) Float64() float64 { return r.r.Float64() }

// Shuffle permutes n elements using swap, as rand.Shuffle does.
func (r *Rand) Shuffle(n int, swap func(i, j int)) { r.r.Shuffle(n, swap) }

// Read fills p with random bytes and never fails. It makes Rand an
// io.Reader, for seeded id generation and for standing in for crypto/rand in
// the simulator (etcd raft draws election jitter from a reader). Each 8 bytes
// of p cost one draw; the unused bytes of a final partial draw are discarded,
// so the result depends only on the seed and the sequence of calls.
func (r *Rand) Read(p []byte) (int, error) {
	var buf [8]byte
	n := len(p)
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, r.src.Uint64())
		p = p[8:]
	}
	if len(p) > 0 {
		binary.LittleEndian.PutUint64(buf[:], r.src.Uint64())
		copy(p, buf[:])
	}
	return n, nil
}

// Split returns a new Rand seeded from one draw of r. Giving each component
// its own stream keeps a change in how much one component draws from
// shifting every other component's sequence.
func (r *Rand) Split() *Rand { return NewRand(r.Uint64()) }

// Draws returns how many 64-bit draws have been taken from the generator
// since NewRand. Methods that need more than one draw (IntN with rejection,
// Shuffle) count each.
func (r *Rand) Draws() uint64 { return r.src.draws }
