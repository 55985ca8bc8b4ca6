package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// sameFloats reports whether a and b hold the same values, NaN matching NaN
// and -0 matching 0.
func sameFloats(a, b []float32) int {
	for i := range a {
		x, y := a[i], b[i]
		if x != y && !(math.IsNaN(float64(x)) && math.IsNaN(float64(y))) {
			return i
		}
	}
	return -1
}

// TestWinoTransformsMatchGo checks the selected eight-tile transforms (and
// the stride-2 gather) against their Go versions, which state what they
// compute, on random values with NaNs and infinities among them, with and
// without ReLU: the same additions in the same order, so the same values
// (NaN stays NaN through the ReLU, as Go's max keeps it).
func TestWinoTransformsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	vals := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			switch rng.IntN(40) {
			case 0:
				x[i] = float32(math.NaN())
			case 1:
				x[i] = float32(math.Inf(1 - 2*rng.IntN(2)))
			default:
				x[i] = float32(rng.NormFloat64())
			}
		}
		return x
	}
	for trial := 0; trial < 200; trial++ {
		ld := 18 + rng.IntN(20)
		x := vals(3*ld + 18)
		vs := 8 + rng.IntN(20)
		got, want := make([]float32, 15*vs+8), make([]float32, 15*vs+8)
		winoIn8(&x[0], ld, &got[0], vs)
		winoIn8Go(&x[0], ld, &want[0], vs)
		if i := sameFloats(got, want); i >= 0 {
			t.Fatalf("trial %d: winoIn8 [%d] = %v, Go %v", trial, i, got[i], want[i])
		}

		ms := 8 + rng.IntN(20)
		m := vals(15*ms + 8)
		bias := vals(1)
		for _, relu := range []bool{false, true} {
			g0, g1, w0, w1 := make([]float32, 16), make([]float32, 16), make([]float32, 16), make([]float32, 16)
			winoOut8(&m[0], ms, &bias[0], relu, &g0[0], &g1[0])
			winoOut8Go(&m[0], ms, &bias[0], relu, &w0[0], &w1[0])
			if i := sameFloats(append(g0, g1...), append(w0, w1...)); i >= 0 {
				t.Fatalf("trial %d relu=%v: winoOut8 [%d] differs from Go", trial, relu, i)
			}
		}

		src := vals(32)
		gd, wd := make([]float32, 16), make([]float32, 16)
		gather2x16(&gd[0], &src[0])
		gather2x16Go(&wd[0], &src[0])
		if i := sameFloats(gd, wd); i >= 0 {
			t.Fatalf("trial %d: gather2x16 [%d] = %v, Go %v", trial, i, gd[i], wd[i])
		}
	}
}
