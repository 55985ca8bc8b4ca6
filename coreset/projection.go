package coreset

import (
	"math"
	"math/rand/v2"

	"github.com/x/pni/internal/kernels"
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

// NewProjection returns the D x R Gaussian random projection for seed. It returns nil when d or r
// is not positive.
func NewProjection(d, r int, seed int64) *Projection {
	if d <= 0 || r <= 0 {
		return nil
	}
	src := rand.NewPCG(uint64(seed), projStream)
	w := make([]float32, d*r)
	std := 1 / math.Sqrt(float64(r))
	for i := 0; i < len(w); i += 2 {
		a, b := boxMuller(src)
		w[i] = float32(a * std)
		if i+1 < len(w) {
			w[i+1] = float32(b * std)
		}
	}
	return &Projection{D: d, R: r, W: w}
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
