package knn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/x/pni/internal/kernels"
)

// clustered draws n rows of dimension d around a few centres, like patch features.
func clustered(rng *rand.Rand, n, d int) []float32 {
	centres := make([]float32, 16*d)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64() * 3)
	}
	x := make([]float32, n*d)
	for i := 0; i < n; i++ {
		c := rng.IntN(16)
		for j := 0; j < d; j++ {
			x[i*d+j] = max(0, centres[c*d+j]+float32(rng.NormFloat64()))
		}
	}
	return x
}

func TestSearchEqualsBruteForce(t *testing.T) {
	for _, tc := range []struct{ k, d, r, n int }{{50, 8, 3, 40}, {700, 64, 16, 300}, {2000, 256, 32, 513}} {
		rng := rand.New(rand.NewPCG(uint64(tc.k), 1))
		bank := clustered(rng, tc.k, tc.d)
		q := clustered(rng, tc.n, tc.d)
		ix, err := Build(bank, tc.k, tc.d, tc.r)
		if err != nil {
			t.Fatal(err)
		}
		idx := make([]int32, tc.n)
		dist := make([]float32, tc.n)
		ix.Search(q, tc.n, nil, idx, dist)
		bIdx := make([]int32, tc.n)
		bDist := make([]float32, tc.n)
		kernels.Nearest(q, tc.n, bank, tc.k, tc.d, nil, bIdx, bDist)
		for i := range idx {
			if math.Abs(float64(dist[i]-bDist[i])) > 1e-3*float64(bDist[i])+1e-3 {
				t.Fatalf("%+v row %d: got %d (%g), brute force %d (%g)", tc, i, idx[i], dist[i], bIdx[i], bDist[i])
			}
		}
	}
}

func TestSearchAllowed(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	k, d, n := 300, 32, 50
	bank := clustered(rng, k, d)
	q := clustered(rng, n, d)
	ix, err := Build(bank, k, d, 8)
	if err != nil {
		t.Fatal(err)
	}
	masks := make([][]bool, n)
	for i := range masks {
		masks[i] = make([]bool, k)
		for c := range masks[i] {
			masks[i][c] = rng.IntN(3) == 0
		}
	}
	masks[0] = make([]bool, k) // nothing allowed
	idx := make([]int32, n)
	dist := make([]float32, n)
	ix.Search(q, n, func(i int, _ []bool) []bool { return masks[i] }, idx, dist)
	if idx[0] != -1 || !math.IsInf(float64(dist[0]), 1) {
		t.Errorf("row with nothing allowed: %d %g", idx[0], dist[0])
	}
	for i := 1; i < n; i++ {
		best := float32(math.Inf(1))
		for c := 0; c < k; c++ {
			if !masks[i][c] {
				continue
			}
			s := float32(0)
			for j := 0; j < d; j++ {
				v := q[i*d+j] - bank[c*d+j]
				s += v * v
			}
			best = min(best, s)
		}
		if !masks[i][idx[i]] || math.Abs(float64(dist[i]-best)) > 1e-3*float64(best)+1e-3 {
			t.Errorf("row %d: got %d (%g, allowed %v), want distance %g", i, idx[i], dist[i], masks[i][idx[i]], best)
		}
	}
}

func BenchmarkSearch784x16k(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	k, d, n := 16384, 1024, 784
	bank := clustered(rng, k, d)
	q := clustered(rng, n, d)
	ix, err := Build(bank, k, d, 64)
	if err != nil {
		b.Fatal(err)
	}
	idx := make([]int32, n)
	dist := make([]float32, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ix.Search(q, n, nil, idx, dist)
	}
}

// TestSearchTiesToSmallerIndex: a bank whose second half repeats its first
// half; every query is a bank row, so its two copies tie at distance 0 and the
// smaller index must win, unless the mask disallows it.
func TestSearchTiesToSmallerIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	half, d, n := 150, 24, 60
	first := clustered(rng, half, d)
	bank := append(append([]float32{}, first...), first...)
	k := 2 * half
	ix, err := Build(bank, k, d, 6)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]int, n)
	q := make([]float32, n*d)
	for i := range rows {
		rows[i] = rng.IntN(k)
		copy(q[i*d:], bank[rows[i]*d:(rows[i]+1)*d])
	}
	idx := make([]int32, n)
	dist := make([]float32, n)
	ix.Search(q, n, nil, idx, dist)
	for i, r := range rows {
		if want := int32(r % half); idx[i] != want || dist[i] != 0 {
			t.Errorf("query %d (bank row %d): got %d at %g, want %d at 0", i, r, idx[i], dist[i], want)
		}
	}
	// Disallow the first copy: the second one must be found.
	masks := make([][]bool, n)
	for i, r := range rows {
		masks[i] = make([]bool, k)
		for c := range masks[i] {
			masks[i][c] = c != r%half
		}
	}
	ix.Search(q, n, func(i int, _ []bool) []bool { return masks[i] }, idx, dist)
	for i, r := range rows {
		if want := int32(r%half + half); idx[i] != want || dist[i] != 0 {
			t.Errorf("masked query %d (bank row %d): got %d at %g, want %d at 0", i, r, idx[i], dist[i], want)
		}
	}
}
