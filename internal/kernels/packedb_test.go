package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestGemmPackedBT checks the prepacked product against the plain-loop
// reference for shapes with ragged panels, several depth blocks and several
// column blocks, and that one packing serves many products.
func TestGemmPackedBT(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		shapes := append(gemmShapes(), shape{196, ncBlock*2 + 37, 65}, shape{5, 100, kcBlock*2 + 3}, shape{1, 1, 1}, shape{3, 7, 0})
		for _, s := range shapes {
			m, n, k := s.m, s.n, s.k
			b := randGuarded(rng, n*k)
			pb := PackBT(b.data, n, k)
			b.check(t, "b")
			if pb.Rows() != n {
				t.Fatalf("%v: Rows() = %d", s, pb.Rows())
			}
			for rep := range 2 { // the same packing twice, with different A
				a := randGuarded(rng, m*k)
				c := newGuarded(m * n)
				want, bound := make([]float32, m*n), make([]float32, m*n)
				gemmTBRef(m, n, k, a.data, b.data, want, false)
				gemmTBRef(m, n, k, absOf(a.data), absOf(b.data), bound, false)
				GemmPackedBT(m, a.data, pb, c.data)
				c.check(t, "c")
				closeTo(t, fmt.Sprint(s, rep), c.data, want, bound, k)
			}
		}
	})
}
