package neighborhood

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/mat"

	"github.com/x/pni/internal/kernels"
)

// Reducer maps each D-dim patch feature to R dims before neighbours are
// concatenated: out = (x − Mean)·W. It is either a fixed Gaussian random
// projection ([NewReducer], Mean nil) or the top-R principal directions of a
// sample of training features ([FitPCA]).
type Reducer struct {
	D, R int
	// Mean is subtracted from every feature before projection; length D, or
	// nil for none.
	Mean []float32
	// W is the D×R projection matrix, row-major.
	W []float32
}

// NewReducer returns a fixed random projection from d to r dims whose entries
// are independent N(0, 1/r), so squared norms are preserved in expectation
// (Johnson–Lindenstrauss). The same seed gives the same matrix. It panics if d
// or r is not positive (a programming error, not bad data).
func NewReducer(d, r int, seed int64) *Reducer {
	if d <= 0 || r <= 0 {
		panic(fmt.Sprintf("neighborhood: NewReducer(%d, %d): dimensions must be positive", d, r))
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	w := make([]float32, d*r)
	s := 1 / math.Sqrt(float64(r))
	for i := range w {
		w[i] = float32(rng.NormFloat64() * s)
	}
	return &Reducer{D: d, R: r, W: w}
}

// FitPCA fits a PCA reducer on n sample rows of x (n×d, row-major): Mean is
// the sample mean and the columns of W are the r leading eigenvectors of the
// sample covariance, in decreasing order of variance, each with its largest
// entry made positive (so the result is deterministic). A few thousand rows
// suffice; the cost is O(n·d² + d³).
func FitPCA(x []float32, n, d, r int) (*Reducer, error) {
	switch {
	case d <= 0:
		return nil, &InputError{"d", fmt.Sprintf("feature dimension %d must be positive", d)}
	case r <= 0 || r > d:
		return nil, &InputError{"r", fmt.Sprintf("reduced dimension %d must be in [1, d=%d]", r, d)}
	case n < 2:
		return nil, &InputError{"n", fmt.Sprintf("PCA needs at least 2 sample rows, got %d", n)}
	case len(x) != n*d:
		return nil, &InputError{"x", fmt.Sprintf("has %d values, want n*d = %d*%d = %d", len(x), n, d, n*d)}
	}
	mean := make([]float64, d)
	for i := 0; i < n; i++ {
		row := x[i*d : (i+1)*d]
		for j, v := range row {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
		if math.IsNaN(mean[j]) || math.IsInf(mean[j], 0) {
			return nil, &InputError{"x", "contains NaN or Inf values"}
		}
	}
	// Centred, transposed sample (d×n) so that the covariance is one A·Aᵀ.
	xt := make([]float32, d*n)
	kernels.Parallel(d, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			mj := float32(mean[j])
			dst := xt[j*n : (j+1)*n]
			for i := range dst {
				dst[i] = x[i*d+j] - mj
			}
		}
	})
	cov32 := make([]float32, d*d)
	kernels.GemmTB(d, d, n, xt, xt, cov32, false)
	cov := mat.NewSymDense(d, nil)
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			cov.SetSym(i, j, float64(cov32[i*d+j]+cov32[j*d+i])/(2*float64(n-1)))
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return nil, fmt.Errorf("neighborhood: PCA eigen-decomposition did not converge; check the sample for degenerate values")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	order := make([]int, d)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return vals[order[a]] > vals[order[b]] })
	w := make([]float32, d*r)
	for k := 0; k < r; k++ {
		col := order[k]
		big, sign := 0.0, 1.0
		for i := 0; i < d; i++ {
			if v := vecs.At(i, col); math.Abs(v) > big {
				big = math.Abs(v)
				sign = math.Copysign(1, v)
			}
		}
		for i := 0; i < d; i++ {
			w[i*r+k] = float32(sign * vecs.At(i, col))
		}
	}
	m32 := make([]float32, d)
	for j, v := range mean {
		m32[j] = float32(v)
	}
	return &Reducer{D: d, R: r, Mean: m32, W: w}, nil
}

// Apply writes (x_i − Mean)·W for the n rows of x (n×D) into out (n×R). It
// panics if a slice is shorter than its shape (an internal shape bug).
func (r *Reducer) Apply(x []float32, n int, out []float32) {
	if n <= 0 {
		return
	}
	if len(x) < n*r.D || len(out) < n*r.R || len(r.W) < r.D*r.R {
		panic(fmt.Sprintf("neighborhood: Reducer.Apply: short slice (x %d, out %d, W %d for n=%d D=%d R=%d)",
			len(x), len(out), len(r.W), n, r.D, r.R))
	}
	kernels.Gemm(n, r.R, r.D, x, r.W, out, false)
	if r.Mean == nil {
		return
	}
	bias := make([]float32, r.R)
	kernels.Gemm(1, r.R, r.D, r.Mean, r.W, bias, false)
	for i := 0; i < n; i++ {
		row := out[i*r.R : (i+1)*r.R]
		for j := range row {
			row[j] -= bias[j]
		}
	}
}

func (r *Reducer) check() error {
	if r.D <= 0 || r.R <= 0 || len(r.W) != r.D*r.R || (r.Mean != nil && len(r.Mean) != r.D) {
		return &InputError{"Reducer", fmt.Sprintf("inconsistent shapes (D=%d R=%d len(W)=%d len(Mean)=%d)",
			r.D, r.R, len(r.W), len(r.Mean))}
	}
	return nil
}
