package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

const guardLen = 37

// guarded is a slice surrounded by NaN guard regions; the returned data slice
// keeps the back guard inside its capacity, so an over-long reslice by the
// code under test writes into the guard and is caught.
type guarded struct {
	buf  []float32
	data []float32
}

func newGuarded(n int) guarded {
	buf := make([]float32, n+2*guardLen)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	return guarded{buf: buf, data: buf[guardLen : guardLen+n]}
}

func (g guarded) check(t *testing.T, name string) {
	t.Helper()
	n := len(g.data)
	for i := 0; i < guardLen; i++ {
		if v := g.buf[i]; !math.IsNaN(float64(v)) {
			t.Fatalf("%s: front guard %d overwritten with %v", name, i, v)
		}
		if v := g.buf[guardLen+n+i]; !math.IsNaN(float64(v)) {
			t.Fatalf("%s: back guard %d overwritten with %v", name, i, v)
		}
	}
}

// randGuarded returns a guarded slice of n uniform values in [-1, 1).
func randGuarded(rng *rand.Rand, n int) guarded {
	g := newGuarded(n)
	for i := range g.data {
		g.data[i] = 2*rng.Float32() - 1
	}
	return g
}

func absOf(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(math.Abs(float64(v)))
	}
	return y
}

func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s changed at %d: %v -> %v", name, i, want[i], got[i])
		}
	}
}

// closeTo checks |got−want| ≤ 4·k·2⁻²⁴·bound + 1e-6·bound elementwise, where
// bound is Σ|a||b| for the element (the float32 summation error scale).
func closeTo(t *testing.T, name string, got, want, bound []float32, k int) {
	t.Helper()
	eps := 4*float64(k+1)*math.Pow(2, -24) + 1e-6
	bad := 0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > eps*float64(bound[i])+1e-30 {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v (bound %v)", name, i, g, w, bound[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d elements off", name, bad, len(want))
	}
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

type runtimeMem struct{ bytes uint64 }

func (r *runtimeMem) read() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.bytes = ms.TotalAlloc
}
