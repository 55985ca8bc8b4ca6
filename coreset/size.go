package coreset

import (
	"math"

	"github.com/x/pni/internal/knn"
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
// The search is the exact nearest-neighbour search pni scores with (internal/knn: squared Euclidean
// distances, ties to the lower index). Bad sizes (d <= 0, nDist < 1, nDist > nEmb, or
// len(emb) < nEmb*d) give an error matching ErrInvalidArgument.
func MapToPrefix(emb []float32, nEmb, nDist, d int) ([]int32, error) {
	if d <= 0 || nDist < 1 || nDist > nEmb || len(emb) < nEmb*d {
		return nil, badInput("MapToPrefix: %d rows of %d values with a prefix of %d, in %d values: want 1 <= nDist <= nEmb and nEmb*d values",
			nEmb, d, nDist, len(emb))
	}
	out := make([]int32, nEmb)
	for i := 0; i < nDist; i++ {
		out[i] = int32(i)
	}
	rest := nEmb - nDist
	if rest == 0 {
		return out, nil
	}
	ix, err := knn.Build(emb[:nDist*d], nDist, d, knnDim)
	if err != nil {
		return nil, err
	}
	ix.Search(emb[nDist*d:nEmb*d], rest, nil, out[nDist:], make([]float32, rest))
	return out, nil
}

// knnDim is the PCA dimension of MapToPrefix's search index (it bounds
// distances; the answer is exact whatever it is).
const knnDim = 64
