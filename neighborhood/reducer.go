package neighborhood

import (
	"fmt"

	"github.com/x/pni/internal/kernels"
	"github.com/x/pni/internal/linalg"
)

// Reducer maps each D-dim patch feature to R dims before neighbours are
// concatenated: out = x·W, W a fixed Gaussian random projection with
// independent N(0, 1/R) entries, so squared norms are preserved in
// expectation (Johnson–Lindenstrauss). It is immutable and safe for
// concurrent use.
type Reducer struct {
	d, r int
	w    []float32 // d×r, row-major
}

// reducerStream is the second PCG seed word of the reducer's projection
// (linalg.Gaussian), distinct from the coreset projection's.
const reducerStream = 0x706e692d6e626864 // "pni-nbhd"

// NewReducer returns the random projection from d to r dims for seed (the
// same seed gives the same matrix).
func NewReducer(d, r int, seed int64) (*Reducer, error) {
	if d <= 0 || r <= 0 {
		return nil, badArg("Reducer", fmt.Sprintf("dimensions %d -> %d: both must be positive", d, r))
	}
	return &Reducer{d: d, r: r, w: linalg.Gaussian(d, r, seed, reducerStream)}, nil
}

// In returns D, the input dimension.
func (r *Reducer) In() int { return r.d }

// Out returns R, the reduced dimension.
func (r *Reducer) Out() int { return r.r }

// Apply writes x_i·W for the n rows of x (n×D) into out (n×R). It
// panics if a slice is shorter than its shape (an internal shape bug).
func (r *Reducer) Apply(x []float32, n int, out []float32) {
	if n <= 0 {
		return
	}
	if len(x) < n*r.d || len(out) < n*r.r || len(r.w) < r.d*r.r {
		panic(fmt.Sprintf("neighborhood: Reducer.Apply: short slice (x %d, out %d, W %d for n=%d D=%d R=%d)",
			len(x), len(out), len(r.w), n, r.d, r.r))
	}
	kernels.Gemm(n, r.r, r.d, x, r.w, out, false)
}

func (r *Reducer) check() error {
	if r.d <= 0 || r.r <= 0 || len(r.w) != r.d*r.r {
		return badArg("Reducer", fmt.Sprintf("inconsistent shapes (D=%d R=%d len(W)=%d)", r.d, r.r, len(r.w)))
	}
	return nil
}
