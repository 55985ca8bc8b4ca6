// Package linalg holds the two pieces of dense linear algebra that several
// pni packages need: a reproducible Gaussian random projection matrix
// (coreset's projection, the neighbourhood MLP's feature reducer) and the
// leading eigenvectors of a covariance matrix (the nearest-neighbour
// index's PCA bounds).
package linalg

import (
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// Gaussian returns a d x r row-major matrix of independent N(0, 1/r)
// entries, so that x·W preserves squared norms in expectation
// (Johnson–Lindenstrauss). The entries come from a PCG-DXSM stream seeded
// with (seed, stream), turned into normal deviates by the Box-Muller
// transform in float64, so the matrix does not depend on the Go version's
// NormFloat64. Callers use distinct stream constants for independent
// matrices from one seed. It returns nil when d or r is not positive.
func Gaussian(d, r int, seed int64, stream uint64) []float32 {
	if d <= 0 || r <= 0 {
		return nil
	}
	src := rand.NewPCG(uint64(seed), stream)
	w := make([]float32, d*r)
	std := 1 / math.Sqrt(float64(r))
	for i := 0; i < len(w); i += 2 {
		a, b := boxMuller(src)
		w[i] = float32(a * std)
		if i+1 < len(w) {
			w[i+1] = float32(b * std)
		}
	}
	return w
}

// boxMuller returns two independent standard normal deviates from src.
func boxMuller(src *rand.PCG) (float64, float64) {
	// u1 in (0,1]: never 0, so the log is finite.
	u1 := (float64(src.Uint64()>>11) + 1) / (1 << 53)
	u2 := float64(src.Uint64()>>11) / (1 << 53)
	rad := math.Sqrt(-2 * math.Log(u1))
	s, c := math.Sincos(2 * math.Pi * u2)
	return rad * c, rad * s
}

// TopEigenvectors returns the r leading eigenvectors of the symmetric d x d
// matrix cov (row-major) as the columns of a d x r row-major matrix, in
// decreasing order of eigenvalue, by subspace iteration from a fixed random
// start (deterministic) and a Rayleigh-Ritz step. The columns are
// orthonormal; how well they capture the leading variance depends on the
// spectrum's gaps (six iterations with 8 extra vectors). A full
// eigen-decomposition of a 1024 x 1024 matrix takes seconds; this takes a
// few matrix products.
func TopEigenvectors(cov []float32, d, r int) []float32 {
	c := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			c.Set(i, j, float64(cov[i*d+j]))
		}
	}
	p := min(d, r+8)
	rng := rand.New(rand.NewPCG(1, 2))
	q := mat.NewDense(d, p, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < p; j++ {
			q.Set(i, j, rng.NormFloat64())
		}
	}
	var y mat.Dense
	orth := func(m *mat.Dense) *mat.Dense {
		var qr mat.QR
		qr.Factorize(m)
		var o mat.Dense
		qr.QTo(&o)
		return mat.DenseCopyOf(o.Slice(0, d, 0, p))
	}
	q = orth(q)
	for it := 0; it < 6; it++ {
		y.Mul(c, q)
		q = orth(&y)
	}
	var cq, b mat.Dense
	cq.Mul(c, q)
	b.Mul(q.T(), &cq)
	sym := mat.NewSymDense(p, nil)
	for i := 0; i < p; i++ {
		for j := i; j < p; j++ {
			sym.SetSym(i, j, (b.At(i, j)+b.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	basis := make([]float32, d*r)
	if !eig.Factorize(sym, true) {
		for i := 0; i < d; i++ { // fall back to the iterated subspace itself
			for j := 0; j < r; j++ {
				basis[i*r+j] = float32(q.At(i, j))
			}
		}
		return basis
	}
	vals := eig.Values(nil)
	var v, u mat.Dense
	eig.VectorsTo(&v)
	u.Mul(q, &v)
	order := make([]int, p)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return vals[order[a]] > vals[order[b]] })
	for j := 0; j < r; j++ {
		for i := 0; i < d; i++ {
			basis[i*r+j] = float32(u.At(i, order[j]))
		}
	}
	return basis
}
