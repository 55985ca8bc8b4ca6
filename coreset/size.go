package coreset

import (
	"math"

	"github.com/x/pni/internal/kernels"
)

// Size returns the coreset size for a ratio of n rows: ceil(ratio*n) clamped to [1, n].
// It returns 0 when ratio is not in (0,1] or n <= 0. A product within 1e-9 of an integer is
// taken as that integer, so Size(0.1, 164000) is 16400, not 16401.
func Size(ratio float64, n int) int {
	if !(ratio > 0 && ratio <= 1) || n <= 0 {
		return 0
	}
	v := ratio * float64(n)
	k := int(math.Ceil(v))
	if r := math.Round(v); math.Abs(v-r) <= 1e-9*math.Max(1, v) {
		k = int(r)
	}
	return min(max(k, 1), n)
}

// MapToPrefix maps each of the nEmb rows of emb to the index of its nearest row among the first nDist rows
// (rows < nDist map to themselves). emb is nEmb x d.
//
// Distances are squared Euclidean through kernels.Nearest (||a||²+||b||²−2a·b in float32; ties go to
// the lower index). It returns nil when the arguments do not fit: d <= 0, nDist < 1,
// nDist > nEmb, or len(emb) < nEmb*d.
func MapToPrefix(emb []float32, nEmb, nDist, d int) []int32 {
	if d <= 0 || nDist < 1 || nDist > nEmb || len(emb) < nEmb*d {
		return nil
	}
	out := make([]int32, nEmb)
	for i := 0; i < nDist; i++ {
		out[i] = int32(i)
	}
	rest := nEmb - nDist
	if rest == 0 {
		return out
	}
	bn := make([]float32, nDist)
	kernels.SqNorms(emb[:nDist*d], d, bn)
	dst := make([]float32, rest)
	kernels.Nearest(emb[nDist*d:nEmb*d], rest, emb[:nDist*d], nDist, d, bn, out[nDist:], dst)
	return out
}
