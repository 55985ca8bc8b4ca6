package synth

import "math"

// rng is SplitMix64 (Steele, Lea, Flood 2014): a small generator whose
// sequence is fixed here, so samples do not change with the Go release.
type rng struct{ s uint64 }

// Stream constants: one per generator, so one seed gives unrelated draws.
const (
	streamCutPaste uint64 = 0x43555450 // "CUTP"
	streamScar     uint64 = 0x53434152 // "SCAR"
	streamDRAEM    uint64 = 0x44524145 // "DRAE"
	streamStrokes  uint64 = 0x5354524b // "STRK"
	streamMix      uint64 = 0x4d495821 // "MIX!"
)

func newRNG(seed, stream uint64) *rng {
	return &rng{s: mix64(seed ^ mix64(stream))}
}

// mix64 is SplitMix64's finaliser, a good 64-bit hash.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) u64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform value in [0, 1).
func (r *rng) float() float64 { return float64(r.u64()>>11) * 0x1p-53 }

// uniform returns a uniform value in [a, b).
func (r *rng) uniform(a, b float64) float64 { return a + (b-a)*r.float() }

// logUniform returns a value in [a, b) whose log is uniform.
func (r *rng) logUniform(a, b float64) float64 {
	return math.Exp(r.uniform(math.Log(a), math.Log(b)))
}

// intn returns a uniform integer in [0, n); n must be in (0, 2^32).
func (r *rng) intn(n int) int { return int(((r.u64() >> 32) * uint64(n)) >> 32) }

// coin returns true with probability 1/2.
func (r *rng) coin() bool { return r.u64()>>63 == 1 }
