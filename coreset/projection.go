package coreset

import (
	"github.com/x/pni/internal/kernels"
	"github.com/x/pni/internal/linalg"
)

// Projection is a fixed Gaussian random projection D -> R (entries N(0, 1/R)), reproducible from its seed.
//
// W is stored row-major as D x R, so a row x (length D) maps to x·W (length R). The entries are
// drawn from a PCG-DXSM stream (math/rand/v2.PCG seeded with (seed, projStream)) turned into normal
// deviates by the Box-Muller transform in float64, so the matrix does not depend on the Go
// version's NormFloat64 implementation.
type Projection struct {
	D, R int
	W    []float32 // D x R, row-major
}

// projStream is the second PCG seed word for projections; starts use startStream.
const (
	projStream  = 0x706e692d70726f6a // "pni-proj"
	startStream = 0x706e692d73747274 // "pni-strt"
)

// NewProjection returns the D x R Gaussian random projection for seed. Non-positive sizes give an
// error matching ErrInvalidArgument.
func NewProjection(d, r int, seed int64) (*Projection, error) {
	if d <= 0 || r <= 0 {
		return nil, badInput("NewProjection(%d, %d): both dimensions must be positive", d, r)
	}
	return &Projection{D: d, R: r, W: linalg.Gaussian(d, r, seed, projStream)}, nil
}

// projBlock is the number of rows projected per Gemm call.
const projBlock = 2048

// Apply projects the n rows of x (each of length p.D) to n rows of length p.R in out
// (out = x·W), in blocks of rows through kernels.Gemm. It panics if x or out is shorter than
// n rows: that is a caller's shape bug, as for the kernels. Safe for concurrent use.
func (p *Projection) Apply(x []float32, n int, out []float32) {
	if n <= 0 {
		return
	}
	if len(x) < n*p.D || len(out) < n*p.R {
		panic("coreset: Projection.Apply: x or out shorter than n rows")
	}
	for lo := 0; lo < n; lo += projBlock {
		p.applyBlock(x, lo, min(lo+projBlock, n), out)
	}
}

// applyBlock projects rows [lo,hi) of x into the same rows of out.
func (p *Projection) applyBlock(x []float32, lo, hi int, out []float32) {
	kernels.Gemm(hi-lo, p.R, p.D, x[lo*p.D:hi*p.D], p.W, out[lo*p.R:hi*p.R], false)
}
